import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EventConsumer, rejectEvent, ServiceMetrics, type EventHandlers } from '@blog/common';
import { StateDb, type StateSchema } from '@blog/common/state';
import { InMemoryBus, recordingLogger } from '@blog/common/testing';

const SCHEMA: StateSchema = {
  service: 'rejections-test',
  version: 1,
  tables: 'CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY, title TEXT NOT NULL)',
};

/** Handlers that keep the first title of a post and reject another one under its id. */
function firstTitleWins(state: StateDb): EventHandlers {
  const find = state.db.prepare<[string], { title: string }>('SELECT title FROM posts WHERE id = ?');
  const add = state.db.prepare<[string, string]>('INSERT OR IGNORE INTO posts (id, title) VALUES (?, ?)');
  return {
    PostCreated: ({ id, title }) => {
      const known = find.get(id);
      if (known && known.title !== title) return rejectEvent('id-reused', `post ${id} has another title`);
      add.run(id, title);
    },
  };
}

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

async function historyWithReusedId(): Promise<InMemoryBus> {
  const history = new InMemoryBus();
  await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'first' } });
  await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'second' } });
  await history.publish({ type: 'PostCreated', data: { id: 'p2', title: 'other' } });
  return history;
}

function consumerOn(history: InMemoryBus, state: StateDb) {
  const { logger, lines } = recordingLogger('warn');
  const metrics = new ServiceMetrics();
  const consumer = new EventConsumer({ history, state, handlers: firstTitleWins(state), logger, metrics });
  return { consumer, lines, metrics };
}

describe('EventConsumer: events that contradict the state', () => {
  it('passes over a rejected event, counts it by type and reason, and logs it at warn with its seq, id and reason', async () => {
    const history = await historyWithReusedId();
    const state = StateDb.open({ file: ':memory:', schema: SCHEMA });
    const { consumer, lines, metrics } = consumerOn(history, state);
    await consumer.start();

    expect(consumer.stats).toMatchObject({ applied: 2, rejected: 1, skipped: 0 });
    expect(consumer.position).toBe(3);
    expect(state.db.prepare('SELECT id, title FROM posts ORDER BY id').all()).toEqual([
      { id: 'p1', title: 'first' },
      { id: 'p2', title: 'other' },
    ]);
    const rejectedLine = lines().find((line) => line.msg === 'event contradicts the state: ignored');
    const second = history.events[1] as { id: string };
    expect(rejectedLine).toMatchObject({ level: 40, seq: 2, id: second.id, type: 'PostCreated', reason: 'id-reused' });
    expect(await metrics.registry.getSingleMetricAsString('events_rejected_total')).toContain(
      'events_rejected_total{type="PostCreated",reason="id-reused"} 1',
    );
  });

  it('makes the same decision whether the page is applied together or event by event, and on a replay', async () => {
    const history = await historyWithReusedId();
    // A handler that throws on p3 makes the consumer apply that page again one event at a time.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rejections-'));
    dirs.push(dir);
    const together = StateDb.open({ file: path.join(dir, 'together.sqlite'), schema: SCHEMA });
    const first = consumerOn(history, together);
    await first.consumer.start();

    const failing = StateDb.open({ file: ':memory:', schema: SCHEMA });
    const handlers = firstTitleWins(failing);
    const { logger } = recordingLogger('warn');
    await history.publish({ type: 'PostCreated', data: { id: 'p3', title: 'boom' } });
    const oneByOne = new EventConsumer({
      history,
      state: failing,
      logger,
      handlers: {
        PostCreated: (data, envelope) => {
          if (data.id === 'p3') throw new Error('boom');
          return handlers.PostCreated?.(data, envelope);
        },
      },
    });
    await oneByOne.start();

    const titles = (state: StateDb) =>
      state.db.prepare("SELECT id, title FROM posts WHERE id != 'p3' ORDER BY id").all();
    expect(titles(failing)).toEqual(titles(together));
    expect(oneByOne.stats).toMatchObject({ applied: 2, rejected: 1, skipped: 1 });

    together.clear();
    const replay = consumerOn(history, together);
    await replay.consumer.start();
    expect(replay.consumer.stats).toMatchObject({ rejected: 1 });
    expect(titles(together)).toEqual([
      { id: 'p1', title: 'first' },
      { id: 'p2', title: 'other' },
    ]);
    together.close();
  });
});
