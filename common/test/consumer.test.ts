import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventConsumer, silentLogger, type EventHandlers } from '@blog/common';
import { StateDb, type StateSchema } from '@blog/common/state';
import { envelopeOf, InMemoryBus } from '@blog/common/testing';
import { eventually } from '@blog/testkit';

const post = (id: string) => ({ type: 'PostCreated' as const, data: { id, title: `title ${id}` } });

function recordingConsumer(
  history: InMemoryBus,
  options: { pageSize?: number; handlers?: EventHandlers; follow?: boolean } = {},
) {
  const applied: string[] = [];
  const consumer = new EventConsumer({
    history,
    logger: silentLogger(),
    pageSize: options.pageSize,
    follow: options.follow,
    backoff: { minDelayMs: 1, maxDelayMs: 5 },
    handlers: options.handlers ?? { PostCreated: ({ id }) => void applied.push(id) },
  });
  return { consumer, applied };
}

describe('EventConsumer', () => {
  it('reads the whole history page by page before it is ready', async () => {
    const history = new InMemoryBus();
    for (let i = 1; i <= 7; i++) await history.publish(post(`p${i}`));
    const { consumer, applied } = recordingConsumer(history, { pageSize: 3 });
    expect(consumer.isReady()).toBe(false);
    await consumer.start();
    expect(consumer.isReady()).toBe(true);
    expect(applied).toEqual(['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
    expect(consumer.position).toBe(7);
  });

  it('keeps retrying catch-up until the bus answers', async () => {
    const history = new InMemoryBus();
    await history.publish(post('p1'));
    history.down = true;
    const { consumer, applied } = recordingConsumer(history);
    const started = consumer.start();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(consumer.isReady()).toBe(false);
    history.down = false;
    await started;
    expect(applied).toEqual(['p1']);
  });

  it('buffers live events during catch-up and applies them after, once', async () => {
    const history = new InMemoryBus();
    const first = await history.publish(post('p1'));
    const second = await history.publish(post('p2'));
    history.down = true;
    const { consumer, applied } = recordingConsumer(history);
    const started = consumer.start();
    await consumer.receive(second);
    await consumer.receive(first);
    expect(applied).toEqual([]);
    history.down = false;
    await started;
    expect(applied).toEqual(['p1', 'p2']);
  });

  it('still becomes ready, and applies the rest, when a buffered event cannot be applied', async () => {
    const history = new InMemoryBus();
    const first = await history.publish(post('p1'));
    history.down = true;
    const { consumer, applied } = recordingConsumer(history);
    const started = consumer.start();
    await consumer.receive(envelopeOf(post('forged'), 1000));
    await consumer.receive(first);
    history.down = false;
    await started;
    expect(consumer.isReady()).toBe(true);
    expect(applied).toEqual(['p1']);
  });

  it('ignores duplicates and events at or below its position', async () => {
    const history = new InMemoryBus();
    const { consumer, applied } = recordingConsumer(history);
    await consumer.start();
    const event = await history.publish(post('p1'));
    await consumer.receive(event);
    await consumer.receive(event);
    expect(applied).toEqual(['p1']);
    expect(consumer.stats).toEqual({ applied: 1, duplicates: 1, rejected: 0, skipped: 0 });
  });

  it('fills a gap from the history before applying a later event', async () => {
    const history = new InMemoryBus();
    const { consumer, applied } = recordingConsumer(history);
    await consumer.start();
    await history.publish(post('p1'));
    await history.publish(post('p2'));
    const third = await history.publish(post('p3'));
    await consumer.receive(third);
    expect(applied).toEqual(['p1', 'p2', 'p3']);
  });

  it('fails a live event when the gap cannot be read, and applies it on redelivery', async () => {
    const history = new InMemoryBus();
    const { consumer, applied } = recordingConsumer(history);
    await consumer.start();
    await history.publish(post('p1'));
    const second = await history.publish(post('p2'));
    history.down = true;
    await expect(consumer.receive(second)).rejects.toMatchObject({ status: 503 });
    expect(applied).toEqual([]);
    history.down = false;
    await consumer.receive(second);
    expect(applied).toEqual(['p1', 'p2']);
  });

  it('refuses a live event that is ahead of everything the history holds', async () => {
    const history = new InMemoryBus();
    const { consumer, applied } = recordingConsumer(history);
    await consumer.start();
    await history.publish(post('p1'));
    const forged = envelopeOf(post('forged'), 1000);
    await expect(consumer.receive(forged)).rejects.toMatchObject({ status: 409, code: 'conflict' });
    expect(applied).toEqual(['p1']);
    expect(consumer.position).toBe(1);
    const next = await history.publish(post('p2'));
    await consumer.receive(next);
    expect(applied).toEqual(['p1', 'p2']);
  });

  it('skips and counts poison: an invalid event in the history and a handler that throws', async () => {
    const history = new InMemoryBus();
    await history.publish(post('p1'));
    history.append({ type: 'PostCreated', data: { id: 'broken' } });
    await history.publish(post('boom'));
    await history.publish(post('p4'));
    const applied: string[] = [];
    const { consumer } = recordingConsumer(history, {
      handlers: {
        PostCreated: ({ id }) => {
          if (id === 'boom') throw new Error('handler bug');
          applied.push(id);
        },
      },
    });
    await consumer.start();
    expect(applied).toEqual(['p1', 'p4']);
    expect(consumer.stats.skipped).toBe(2);
    expect(consumer.position).toBe(4);
  });

  it('passes over unknown event types and keeps its position', async () => {
    const history = new InMemoryBus();
    history.append({ type: 'PostLiked', data: { id: 'p1' } });
    await history.publish(post('p2'));
    history.append({ type: 'constructor', data: {} });
    const { consumer, applied } = recordingConsumer(history);
    await consumer.start();
    expect(applied).toEqual(['p2']);
    expect(consumer.position).toBe(3);
    expect(consumer.stats).toEqual({ applied: 1, duplicates: 0, rejected: 0, skipped: 0 });
  });

  it('sync() applies what the history holds beyond its position', async () => {
    const history = new InMemoryBus();
    const { consumer, applied } = recordingConsumer(history);
    await consumer.start();
    await history.publish(post('p1'));
    await consumer.sync();
    expect(applied).toEqual(['p1']);
  });

  describe('following the history (EVENTS_FOLLOW, a scaled-out replica)', () => {
    it('applies each new event from the history without any push, in order, also after the bus was down', async () => {
      const history = new InMemoryBus();
      await history.publish(post('p1'));
      const { consumer, applied } = recordingConsumer(history, { follow: true });
      await consumer.start();
      try {
        await history.publish(post('p2'));
        await history.publish(post('p3'));
        await eventually(() => expect(applied).toEqual(['p1', 'p2', 'p3']));
        history.down = true;
        await new Promise((resolve) => setTimeout(resolve, 20));
        history.down = false;
        await history.publish(post('p4'));
        await eventually(() => expect(applied).toEqual(['p1', 'p2', 'p3', 'p4']));
        // A push of an event it has already read is a duplicate.
        await consumer.receive(history.events[3] as never);
        expect(applied).toHaveLength(4);
        expect(consumer.stats.duplicates).toBe(1);
      } finally {
        consumer.stop();
      }
    });

    it('reads nothing more once stopped', async () => {
      const history = new InMemoryBus();
      const { consumer, applied } = recordingConsumer(history, { follow: true });
      await consumer.start();
      consumer.stop();
      await history.publish(post('p1'));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(applied).toEqual([]);
    });
  });

  it('stop() ends a catch-up that is still retrying', async () => {
    const history = new InMemoryBus();
    history.down = true;
    const { consumer } = recordingConsumer(history);
    const started = consumer.start();
    consumer.stop();
    await started;
    expect(consumer.isReady()).toBe(false);
  });

  it('applies concurrent live deliveries in seq order', async () => {
    const history = new InMemoryBus();
    const { consumer, applied } = recordingConsumer(history);
    await consumer.start();
    const events = [];
    for (let i = 1; i <= 5; i++) events.push(await history.publish(post(`p${i}`)));
    await Promise.all([...events].reverse().map((event) => consumer.receive(event)));
    expect(applied).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
  });
});

describe('EventConsumer with a stored state', () => {
  const SCHEMA: StateSchema = {
    service: 'test',
    version: 1,
    tables: 'CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY, seq INTEGER NOT NULL)',
  };
  let dir: string;
  const states: StateDb[] = [];
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'blog-consumer-state-'));
  });
  afterEach(() => {
    for (const state of states.splice(0)) if (state.db.open) state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A service's process: its state reopened from the file, a consumer over it that records the ids it applies. */
  function process(history: InMemoryBus, options: { failOn?: string; pageSize?: number } = {}) {
    const state = StateDb.open({ file: path.join(dir, 'state.sqlite'), schema: SCHEMA, lockWaitMs: 20 });
    states.push(state);
    const insert = state.db.prepare<[string, number]>('INSERT INTO posts (id, seq) VALUES (?, ?)');
    const applied: string[] = [];
    const consumer = new EventConsumer({
      history,
      state,
      logger: silentLogger(),
      pageSize: options.pageSize,
      backoff: { minDelayMs: 1, maxDelayMs: 5 },
      handlers: {
        PostCreated: ({ id }, { seq }) => {
          insert.run(id, seq);
          if (id === options.failOn) throw new Error(`handler of ${id} fails after writing`);
          applied.push(id);
        },
      },
    });
    const rows = () => state.db.prepare('SELECT id FROM posts ORDER BY seq').pluck().all();
    return { state, consumer, applied, rows };
  }

  it('resumes after the position its state was stored at, applying nothing twice', async () => {
    const history = new InMemoryBus();
    for (let i = 1; i <= 5; i++) await history.publish(post(`p${i}`));
    const first = process(history, { pageSize: 2 });
    await first.consumer.start();
    first.state.close();
    for (let i = 6; i <= 8; i++) await history.publish(post(`p${i}`));

    const second = process(history, { pageSize: 2 });
    expect(second.consumer.position).toBe(5);
    await second.consumer.start();
    expect(second.applied).toEqual(['p6', 'p7', 'p8']);
    expect(second.rows()).toEqual(['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8']);
    expect(second.state.position).toEqual({ seq: 8, eventId: (history.events[7] as { id: string }).id });
  });

  it('stores the position of each live event with its changes', async () => {
    const history = new InMemoryBus();
    const first = process(history);
    await first.consumer.start();
    await first.consumer.receive(await history.publish(post('p1')));
    expect(first.state.position.seq).toBe(1);
    first.state.close();
    const second = process(history);
    await second.consumer.start();
    expect(second.applied).toEqual([]);
    expect(second.rows()).toEqual(['p1']);
  });

  it.each([
    [
      'begun again with other events',
      async (history: InMemoryBus) => {
        history.events.splice(0);
        for (let i = 1; i <= 4; i++) await history.publish(post(`new${i}`));
      },
    ],
    [
      'shorter than the state',
      async (history: InMemoryBus) => {
        history.events.splice(0);
        await history.publish(post('new1'));
      },
    ],
  ])('rebuilds the state from the first event when the log was %s', async (_case, replaceLog) => {
    const history = new InMemoryBus();
    for (let i = 1; i <= 3; i++) await history.publish(post(`old${i}`));
    const first = process(history);
    await first.consumer.start();
    first.state.close();
    await replaceLog(history);

    const second = process(history);
    await second.consumer.start();
    const ids = history.events.map((event) => (event as { data: { id: string } }).data.id);
    expect(second.rows()).toEqual(ids);
    expect(second.applied).toEqual(ids);
  });

  it('keeps none of the changes of a handler that throws, and moves past its event', async () => {
    const history = new InMemoryBus();
    for (const id of ['p1', 'bad', 'p3']) await history.publish(post(id));
    const { consumer, rows } = process(history, { failOn: 'bad' });
    await consumer.start();
    expect(rows()).toEqual(['p1', 'p3']);
    expect(consumer.stats.skipped).toBe(1);
    // The page was applied together, undone, and applied again event by event: each counted once.
    expect(consumer.stats.applied).toBe(2);
    expect(consumer.position).toBe(3);
  });

  it('goes back to the stored position when a page cannot be stored, and applies it again later', async () => {
    const history = new InMemoryBus();
    await history.publish(post('p1'));
    const { state, consumer, rows } = process(history);
    await consumer.start();
    await history.publish(post('p2'));
    const advance = jest.spyOn(state, 'advance').mockImplementationOnce(() => {
      throw new Error('database or disk is full');
    });
    await expect(consumer.sync()).rejects.toThrow('disk is full');
    expect(consumer.position).toBe(1);
    expect(rows()).toEqual(['p1']);
    advance.mockRestore();
    await consumer.sync();
    expect(consumer.position).toBe(2);
    expect(rows()).toEqual(['p1', 'p2']);
  });
});
