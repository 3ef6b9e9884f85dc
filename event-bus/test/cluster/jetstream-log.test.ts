/**
 * The JetStream event log on a real 3-node cluster on 127.0.0.1 (`npm run test:cluster`, which needs a
 * nats-server 2.10.23 or later: tools/scripts/nats-server.sh): the EventLog contract every log passes,
 * then what is particular to a replicated log shared by several bus replicas.
 */
import { MAX_EVENT_BYTES, QUARANTINED_EVENT_TYPE, silentLogger } from '@blog/common';
import { recordingLogger } from '@blog/common/testing';
import { DiscardPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import { delay, waitFor } from '@blog/testkit';
import { DUPLICATE_WINDOW_MS, eventStream, type EventStreamSettings } from '../../src/jetstream/event-stream';
import { JetStreamEventLog, type JetStreamEventLogOptions } from '../../src/jetstream/jetstream-event-log';
import type { EventLog, NewEvent } from '../../src/log/event-log';
import { describeEventLogContract } from '../event-log-contract';
import { useNatsCluster } from './support';

const nats = useNatsCluster();
const connection = () => nats.connection();

function newStream(): EventStreamSettings {
  return eventStream(nats.unique('EVENTS'), 3);
}

const streamOf = new WeakMap<EventLog, EventStreamSettings>();

async function openLog(
  stream: EventStreamSettings,
  options: Partial<JetStreamEventLogOptions> = {},
): Promise<JetStreamEventLog> {
  // A small in-memory tail, so that reads come from the stream too.
  const log = await JetStreamEventLog.open({
    connection: await connection(),
    stream,
    logger: silentLogger(),
    tailSize: 2,
    ...options,
  });
  streamOf.set(log, stream);
  return log;
}

describeEventLogContract('JetStreamEventLog', {
  open: () => openLog(newStream()),
  reopen: async (log) => {
    const stream = streamOf.get(log);
    if (!stream) throw new Error('not a log this factory opened');
    await log.close();
    return openLog(stream);
  },
});

const event = (id: string): NewEvent => ({
  id,
  type: 'PostCreated',
  data: { id, title: id },
  time: '2026-01-01T00:00:00.000Z',
});

describe("JetStreamEventLog and the publisher's trace context", () => {
  const opened: EventLog[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((log) => log.close()));
  });

  test('is stored as W3C headers of the NATS message, not in its payload; a malformed traceparent is dropped, the event kept', async () => {
    const stream = newStream();
    const log = await openLog(stream);
    opened.push(log);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await log.append({ ...event('traced'), trace: { traceparent } });
    const jsm = await jetstreamManager(await connection());
    const stored = await jsm.streams.getMessage(stream.name, { seq: 1 });
    expect(stored?.header.get('traceparent')).toBe(traceparent);
    expect(stored?.json<Record<string, unknown>>()).not.toHaveProperty('trace');

    // Written by another client of the stream with a header that is not a traceparent.
    const js = jetstream(await connection());
    const bad = headers();
    bad.set('traceparent', 'not-a-traceparent');
    await js.publish(stream.subject, JSON.stringify(event('other')), { headers: bad });
    await waitFor(() => log.lastSeq === 2, { what: 'the log to follow the other message' });
    const read = await log.readAfter(0, 10);
    expect(read.map(({ id, trace }) => ({ id, trace }))).toEqual([
      { id: 'traced', trace: { traceparent } },
      { id: 'other', trace: undefined },
    ]);
  });
});

describe('JetStreamEventLog and messages that are not events', () => {
  const opened: EventLog[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((log) => log.close()));
  });

  test('a message on the subject that is not an event is served as a placeholder, the same by every replica; reads and appends go on', async () => {
    const stream = newStream();
    const quarantined: number[] = [];
    const recorded = recordingLogger('error');
    const first = await openLog(stream, { logger: recorded.logger, onQuarantined: () => quarantined.push(1) });
    opened.push(first);
    await first.append(event('before'));
    // Published by any client of the stream: a buggy tool, an operator's `nats pub`.
    const js = jetstream(await connection());
    const bad: [string, string | Uint8Array][] = [
      ['garbage bytes', Uint8Array.from([0xff, 0x00, 0x7b, 0x22])],
      ['valid JSON of the wrong shape', JSON.stringify({ hello: 'world' })],
      ['a known type with a payload that is not its', JSON.stringify({ ...event('bad-payload'), data: { id: 'p' } })],
      ['an oversized message', JSON.stringify({ ...event('huge'), type: 'Huge', data: 'x'.repeat(MAX_EVENT_BYTES) })],
    ];
    for (const [, payload] of bad) await js.publish(stream.subject, payload);
    await js.publish(stream.subject, JSON.stringify({ ...event('foreign'), type: 'SomethingNew', data: { any: 1 } }));
    await first.append(event('after'));
    await waitFor(() => first.lastSeq === 7, { what: 'the log to follow every message' });

    const texts = await first.readRawAfter(0, 10);
    const events = texts.map((text) => JSON.parse(text) as { id: string; type: string; seq: number; data: unknown });
    expect(events.map(({ seq }) => seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(events.map(({ type }) => type)).toEqual([
      'PostCreated',
      ...bad.map(() => QUARANTINED_EVENT_TYPE),
      'SomethingNew',
      'PostCreated',
    ]);
    expect(events[2]).toEqual({
      id: 'quarantined-3',
      type: QUARANTINED_EVENT_TYPE,
      data: { reason: expect.stringContaining('not an event envelope') },
      time: expect.any(String),
      seq: 3,
    });
    expect(quarantined).toHaveLength(bad.length);
    expect(
      recorded
        .lines()
        .filter((line) => /not an event/.test(String(line.msg)))
        .map((line) => line.seq),
    ).toEqual([2, 3, 4, 5]);

    // Another replica, reading them from the stream (older than its two-event tail), serves the same texts.
    const second = await openLog(stream, { tailSize: 2, recentIds: 2 });
    opened.push(second);
    expect(await second.readRawAfter(0, 10)).toEqual(texts);
    expect(await second.append(event('later'))).toMatchObject({ event: { seq: 8 }, duplicate: false });
  });
});

describe('JetStreamEventLog shared by bus replicas', () => {
  const opened: EventLog[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((log) => log.close()));
  });
  const replicas = async (count: number, options: Partial<JetStreamEventLogOptions> = {}) => {
    const stream = newStream();
    const logs: JetStreamEventLog[] = [];
    for (let i = 0; i < count; i++) logs.push(await openLog(stream, options));
    opened.push(...logs);
    return { stream, logs };
  };

  test('what one replica stores, every replica reads, in the same order; an id sent to two replicas is stored once', async () => {
    const { logs } = await replicas(2);
    const [a, b] = logs as [JetStreamEventLog, JetStreamEventLog];
    const [first, again] = await Promise.all([a.append(event('x')), b.append(event('x'))]);
    expect(again.event).toEqual(first.event);
    await Promise.all([a.append(event('y')), b.append(event('z'))]);
    await waitFor(() => a.lastSeq === 3 && b.lastSeq === 3, { what: 'both replicas to follow the stream' });
    expect(await a.readRawAfter(0, 10)).toEqual(await b.readRawAfter(0, 10));
    expect((await b.readAfter(0, 10)).map(({ id }) => id).sort()).toEqual(['x', 'y', 'z']);
  });

  test('an id appended at the same moment through two replicas with different data is stored once, and both answer the stored event', async () => {
    const { logs } = await replicas(2);
    const [a, b] = logs as [JetStreamEventLog, JetStreamEventLog];
    for (let n = 0; n < 30; n++) {
      const id = `same-${n}`;
      const [fromA, fromB] = await Promise.all([
        a.append({ ...event(id), data: { id, title: 'from a' } }),
        b.append({ ...event(id), data: { id, title: 'from b' } }),
      ]);
      expect(fromB.event).toEqual(fromA.event);
      expect([fromA.duplicate, fromB.duplicate].sort()).toEqual([false, true]);
    }
    const stored = await a.readAfter(0, 100);
    expect(stored.map(({ id }) => id)).toEqual(Array.from({ length: 30 }, (_, n) => `same-${n}`));
  });

  test('a replica started on a long stream reads only its newest events, and the older ones from the stream within the byte budget', async () => {
    const { stream, logs } = await replicas(1);
    const writer = logs[0] as JetStreamEventLog;
    for (let n = 1; n <= 12; n++) await writer.append(event(`long-${n}`));
    const { logger, lines } = recordingLogger();
    const late = await openLog(stream, { recentIds: 3, logger });
    opened.push(late);
    expect([late.lastSeq, late.idsFrom]).toEqual([12, 10]);
    expect(lines().find((line) => line.msg === 'event log opened')).toMatchObject({ events: 12, read: 3 });
    expect((await late.readAfter(0, 100)).map(({ id }) => id)).toEqual(
      Array.from({ length: 12 }, (_, n) => `long-${n + 1}`),
    );
    const [first] = await late.readRawAfter(0, 1);
    const twoEvents = 2 * (Buffer.byteLength(first as string) + 1);
    expect((await late.readRawAfter(0, 10, twoEvents)).map((line) => (JSON.parse(line) as { id: string }).id)).toEqual([
      'long-1',
      'long-2',
    ]);
    // An id older than those it remembers is still stored once: the stream's duplicate window has it.
    const again = await late.append(event('long-2'));
    expect([again.duplicate, again.event.seq]).toEqual([true, 2]);
  });

  test('a stream that drops old events, has events deleted or no longer holds event 1 is refused at start, saying which; one capped that refuses new events is used', async () => {
    const jsm = await jetstreamManager(await connection());
    const trimming = newStream();
    await jsm.streams.add({
      name: trimming.name,
      subjects: [trimming.subject],
      num_replicas: 3,
      max_age: 3_600 * 1e9,
      max_msgs: 1_000,
    });
    await expect(openLog(trimming)).rejects.toThrow(/drops old events \(max_age 3600 s, max_msgs 1000\)/);

    const holed = newStream();
    await jsm.streams.add({ name: holed.name, subjects: [holed.subject], num_replicas: 3 });
    const js = jetstream(await connection());
    for (const id of ['a', 'b', 'c']) await js.publish(holed.subject, JSON.stringify(event(id)));
    await jsm.streams.deleteMessage(holed.name, 2);
    await expect(openLog(holed)).rejects.toThrow(/has 1 events deleted from it/);

    const late = newStream();
    await jsm.streams.add({ name: late.name, subjects: [late.subject], num_replicas: 3, first_seq: 5 });
    await expect(openLog(late)).rejects.toThrow(/no longer holds events 1…4/);

    const capped = newStream();
    await jsm.streams.add({
      name: capped.name,
      subjects: [capped.subject],
      num_replicas: 3,
      max_bytes: 2 ** 20,
      discard: DiscardPolicy.New,
    });
    const log = await openLog(capped);
    opened.push(log);
    expect((await log.append(event('capped'))).event.seq).toBe(1);
  });

  test('a replica made readable() holds every event another replica acknowledged before', async () => {
    const { logs } = await replicas(2);
    const [a, b] = logs as [JetStreamEventLog, JetStreamEventLog];
    for (let n = 0; n < 20; n++) {
      const { event: stored } = await a.append(event(`r${n}`));
      await b.readable();
      expect((await b.readAfter(stored.seq - 1, 1)).map(({ id }) => id)).toEqual([`r${n}`]);
    }
  });

  test('without a quorum, readable() answers 503 rather than vouch for what this replica holds; with the quorum back, reads go on', async () => {
    const { logs } = await replicas(1);
    const log = logs[0] as JetStreamEventLog;
    await log.append(event('before-the-cut'));
    await log.readable();
    // Node 1 (n1) is the one this test leaves running: whatever it leads, it cannot reach a quorum.
    await nats.cluster().kill(1);
    await nats.cluster().kill(2);
    try {
      const refusal = await waitFor(
        () =>
          log.readable().then(
            () => undefined,
            (err: unknown) => err,
          ),
        { what: 'readable() to refuse without a quorum', timeoutMs: 20_000 },
      );
      expect(refusal).toMatchObject({
        status: 503,
        retryAfterSeconds: 1,
        message: expect.stringMatching(/cannot confirm that its reads hold every acknowledged event/),
      });
    } finally {
      await Promise.all([nats.cluster().start(1), nats.cluster().start(2)]);
    }
    await waitFor(
      () =>
        log.readable().then(
          () => true,
          () => false,
        ),
      { what: 'readable() with the quorum back', timeoutMs: 30_000 },
    );
    expect((await log.readAfter(0, 10)).map(({ id }) => id)).toEqual(['before-the-cut']);
  });

  test('the stream is created once, with the duplicate window and deletes and purges denied', async () => {
    const { stream } = await replicas(2);
    const jsm = await jetstreamManager(await connection());
    const { config } = await jsm.streams.info(stream.name);
    expect(config).toMatchObject({
      subjects: [stream.subject],
      num_replicas: 3,
      deny_delete: true,
      deny_purge: true,
      duplicate_window: DUPLICATE_WINDOW_MS * 1_000_000,
    });
    await expect(jsm.streams.purge(stream.name)).rejects.toThrow();
    await expect(jsm.streams.deleteMessage(stream.name, 1)).rejects.toThrow();
  });

  test('without a quorum an append is refused (503, or 504 when maybe stored) once its time is up, and the log says so; with it back, appends are stored', async () => {
    const { logs } = await replicas(1, { publishTimeoutMs: 3_000 });
    const log = logs[0] as JetStreamEventLog;
    await log.append(event('before'));
    await nats.cluster().kill(1);
    await nats.cluster().kill(2);
    try {
      // 503 when every attempt was answered "no" (nothing stored); 504 when one went unanswered (maybe stored).
      const refusal = await log.append(event('lost-quorum')).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refusal).toMatchObject({ retryAfterSeconds: 1 });
      const { status, message } = refusal as { status: number; message: string };
      expect([status, message]).toEqual(
        status === 503
          ? [503, expect.stringMatching(/nothing was stored/)]
          : [504, expect.stringMatching(/may have been stored/)],
      );
      expect(log.health()).toMatchObject({ writable: false });
    } finally {
      await Promise.all([nats.cluster().start(1), nats.cluster().start(2)]);
    }
    const after = await waitFor(() => log.append(event('after')).catch(() => undefined), {
      what: 'an append with the quorum back',
      timeoutMs: 30_000,
    });
    expect(log.health()).toEqual({ writable: true });
    // The refused append may have been stored anyway (its answer lost, not its publish): never twice.
    const ids = (await log.readAfter(0, 10)).map(({ id }) => id);
    expect(ids.filter((id) => id === 'lost-quorum').length).toBeLessThanOrEqual(1);
    expect(ids.at(-1)).toBe('after');
    expect(after.event.seq).toBe(ids.length);
  });

  test('a replica started while the cluster has no quorum waits for it in every step of its start, and opens once it is back', async () => {
    const stream = newStream();
    opened.push(await openLog(stream));
    await nats.cluster().kill(1);
    await nats.cluster().kill(2);
    let opening: Promise<JetStreamEventLog> | undefined;
    try {
      opening = openLog(stream);
      opening.catch(() => undefined);
      // The start goes on meanwhile, against a cluster that cannot answer (which step meets it depends on
      // what the one node left leads): none of them may give up.
      await delay(5_000);
    } finally {
      await Promise.all([nats.cluster().start(1), nats.cluster().start(2)]);
    }
    const log = await opening;
    opened.push(log);
    expect(await log.append(event('after-the-wait'))).toMatchObject({ duplicate: false });
  });
});
