/**
 * What every EventLog must do, whatever stores it: the bus's HTTP layer and delivery rely on exactly
 * this. Each implementation runs it with a factory; one that keeps its events across a restart also
 * passes `reopen`.
 */
import type { EventLog, NewEvent } from '../src/log/event-log';

export interface EventLogFactory {
  /** A new, empty log. */
  open(): Promise<EventLog>;
  /** The same log after a restart (closed and opened again), for a durable implementation. */
  reopen?(log: EventLog): Promise<EventLog>;
}

const event = (n: number): NewEvent => ({
  id: `e${n}`,
  type: 'PostCreated',
  data: { id: `p${n}`, title: `title ${n}` },
  time: '2026-01-01T00:00:00.000Z',
});

export function describeEventLogContract(name: string, factory: EventLogFactory): void {
  describe(`EventLog contract: ${name}`, () => {
    const opened: EventLog[] = [];
    const open = async () => {
      const log = await factory.open();
      opened.push(log);
      return log;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((log) => log.close().catch(() => undefined)));
    });

    it('starts empty, and gives seqs 1, 2, 3… in the order of the appends', async () => {
      const log = await open();
      expect(log.lastSeq).toBe(0);
      expect(await log.readAfter(0, 10)).toEqual([]);
      const appended = await Promise.all([1, 2, 3].map((n) => log.append(event(n))));
      expect(appended.map(({ duplicate }) => duplicate)).toEqual([false, false, false]);
      const stored = appended.map(({ event: storedEvent }) => storedEvent);
      expect(stored).toEqual([1, 2, 3].map((n) => ({ ...event(n), seq: n })));
      expect(stored.map(({ id, seq }) => [id, seq])).toEqual([
        ['e1', 1],
        ['e2', 2],
        ['e3', 3],
      ]);
      expect(log.lastSeq).toBe(3);
      expect(await log.readAfter(0, 10)).toEqual(stored);
    });

    it('stores an event id once: a retried append, concurrent or later, resolves with the original as a duplicate', async () => {
      const log = await open();
      const [first, concurrent] = await Promise.all([log.append(event(1)), log.append(event(1))]);
      expect(first).toEqual({ event: { ...event(1), seq: 1 }, duplicate: false });
      expect(concurrent).toEqual({ event: first.event, duplicate: true });
      expect(await log.append(event(1))).toEqual({ event: first.event, duplicate: true });
      expect(log.lastSeq).toBe(1);
    });

    it('answers an id appended at the same moment with other data with the event stored first, never its own', async () => {
      const log = await open();
      const other = (n: number): NewEvent => ({
        ...event(n),
        data: { id: `p${n}`, title: 'another title' },
        time: '2026-01-02T00:00:00.000Z',
      });
      const [first, second] = await Promise.all([log.append(event(1)), log.append(other(1))]);
      expect(first).toEqual({ event: { ...event(1), seq: 1 }, duplicate: false });
      expect(second).toEqual({ event: first.event, duplicate: true });
      expect(await log.append(other(1))).toEqual({ event: first.event, duplicate: true });
      expect(await log.readAfter(0, 10)).toEqual([first.event]);
    });

    it('reads pages after a seq, bounded by a count and, beyond the first event, by bytes', async () => {
      const log = await open();
      for (let n = 1; n <= 10; n++) await log.append(event(n));
      expect((await log.readAfter(3, 4)).map(({ seq }) => seq)).toEqual([4, 5, 6, 7]);
      expect((await log.readAfter(8, 10)).map(({ seq }) => seq)).toEqual([9, 10]);
      expect(await log.readAfter(10, 10)).toEqual([]);
      const raw = await log.readRawAfter(0, 3);
      expect(raw.map((text) => (JSON.parse(text) as { seq: number }).seq)).toEqual([1, 2, 3]);
      const oneEventBytes = Buffer.byteLength(raw[0] as string) + 1;
      expect(await log.readRawAfter(0, 10, oneEventBytes * 2)).toHaveLength(2);
      expect(await log.readRawAfter(0, 10, 1)).toHaveLength(1);
    });

    it('wakes a reader waiting for newer events, and one whose wait is aborted', async () => {
      const log = await open();
      const waiting = log.waitForNewerThan(0, new AbortController().signal);
      await log.append(event(1));
      await expect(waiting).resolves.toBeUndefined();
      const abort = new AbortController();
      const aborted = log.waitForNewerThan(1, abort.signal);
      abort.abort();
      await expect(aborted).resolves.toBeUndefined();
      await expect(log.waitForNewerThan(0, new AbortController().signal)).resolves.toBeUndefined();
    });

    it('says it is writable while it stores appends', async () => {
      const log = await open();
      await log.append(event(1));
      expect(log.health()).toMatchObject({ writable: true });
    });

    it("keeps the publisher's trace context with its event, in reads and in the text it serves", async () => {
      const log = await open();
      const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=1' };
      await log.append({ ...event(1), trace });
      await log.append(event(2));
      await log.append({ ...event(3), trace });
      const read = await log.readAfter(0, 10);
      expect(read.map((stored) => stored.trace)).toEqual([trace, undefined, trace]);
      const lines = (await log.readRawAfter(0, 10)).map((line) => JSON.parse(line) as { trace?: unknown });
      expect(lines.map((stored) => stored.trace)).toEqual([trace, undefined, trace]);
      if (factory.reopen) {
        const again = await factory.reopen(log);
        opened.push(again);
        expect((await again.readAfter(0, 10)).map((stored) => stored.trace)).toEqual([trace, undefined, trace]);
      }
    });

    if (factory.reopen) {
      const reopen = factory.reopen.bind(factory);
      it('keeps every event, and every id, across a restart', async () => {
        const log = await open();
        for (let n = 1; n <= 3; n++) await log.append(event(n));
        const again = await reopen(log);
        opened.push(again);
        expect(again.lastSeq).toBe(3);
        expect((await again.readAfter(0, 10)).map(({ id }) => id)).toEqual(['e1', 'e2', 'e3']);
        expect(await again.append(event(2))).toEqual({ event: { ...event(2), seq: 2 }, duplicate: true });
        expect(await again.append(event(4))).toEqual({ event: { ...event(4), seq: 4 }, duplicate: false });
      });
    }
  });
}
