/**
 * The subscribers' positions the bus keeps on disk, and what they are for: a restarted bus resumes each
 * subscriber where it stood, also one that reports no position of its own (as the course's services).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '@blog/common';
import { recordingLogger } from '@blog/common/testing';
import { eventually } from '@blog/testkit';
import type { PositionStore } from '../src/delivery/position-store';
import { SubscriberDelivery } from '../src/delivery/subscriber-delivery';
import { FileEventLog } from '../src/file-storage/file-event-log';
import { FilePositionStore } from '../src/file-storage/file-position-store';
import { MemoryEventLog } from '../src/testing';
import { describePositionStoreContract } from './position-store-contract';
import { fakeSubscriber, tempDirs } from './support';

const freshDir = tempDirs('bus-positions-');
const openStore = (dir: string) => FilePositionStore.open({ dir, logger: silentLogger(), writeTimeoutMs: 5_000 });
const lines = (dir: string) => readFileSync(path.join(dir, 'positions.jsonl'), 'utf8').trimEnd().split('\n');

/** The position stored in `dir` for `url`, as a restarted bus reads it. */
async function storedIn(dir: string, url: string): Promise<number> {
  const store = await openStore(dir);
  try {
    return await store.load(url);
  } finally {
    await store.close();
  }
}

const dirOfStore = new WeakMap<PositionStore, string>();
const openStoreIn = async (dir: string) => {
  const store = await openStore(dir);
  dirOfStore.set(store, dir);
  return store;
};

describePositionStoreContract('FilePositionStore', {
  open: () => openStoreIn(freshDir()),
  reopen: async (store) => {
    const dir = dirOfStore.get(store);
    if (dir === undefined) throw new Error('not a store this factory opened');
    await store.close();
    return openStoreIn(dir);
  },
});

describe('FilePositionStore', () => {
  it('writes one line per subscriber when it opens, so the file does not grow with every delivery', async () => {
    const dir = freshDir();
    const store = await openStore(dir);
    await Promise.all([store.save('http://a', 3), store.save('http://b', 7), store.save('http://a', 5)]);
    await store.close();
    const reopened = await openStore(dir);
    expect(lines(dir)).toHaveLength(2);
    expect([await reopened.load('http://a'), await reopened.load('http://b')]).toEqual([5, 7]);
    await reopened.close();
  });

  it('passes over a torn last line (a crash in the middle of a save)', async () => {
    const dir = freshDir();
    const store = await openStore(dir);
    await store.save('http://a', 2);
    await store.close();
    appendFileSync(path.join(dir, 'positions.jsonl'), '{"url":"http://a","se');
    const reopened = await openStore(dir);
    expect(await reopened.load('http://a')).toBe(2);
    await reopened.save('http://a', 3);
    await reopened.close();
    expect(await storedIn(dir, 'http://a')).toBe(3);
  });
});

const postEvent = (n: number) => ({
  id: `e${n}`,
  type: 'PostCreated',
  data: { id: `p${n}`, title: 't' },
  time: new Date().toISOString(),
});
const QUICK_RETRIES = { minDelayMs: 5, maxDelayMs: 20 };

/** What a bus process on `dir` holds for one subscriber: its log, its positions and the delivery; `stop` ends them as a bus stopping does. */
async function busOn(dir: string, url: string, backoff?: typeof QUICK_RETRIES) {
  const log = await FileEventLog.open({ dir, logger: silentLogger() });
  const positions = await openStore(dir);
  const delivery = new SubscriberDelivery(url, { log, logger: silentLogger(), positions, backoff });
  const stop = async () => {
    await delivery.stop();
    await positions.close();
    await log.close();
  };
  return { log, positions, delivery, stop };
}

describe('a restarted bus resumes each subscriber where it stood', () => {
  it('sends a subscriber that reports no position nothing it already acknowledged', async () => {
    const dir = freshDir();
    const subscriber = await fakeSubscriber();
    try {
      // The first bus delivers 5 events, then stops.
      const first = await busOn(dir, subscriber.url);
      first.delivery.start();
      for (let n = 1; n <= 5; n++) await first.log.append(postEvent(n));
      await eventually(() => expect(subscriber.received).toHaveLength(5));
      await first.stop();

      // The next bus, on the same folder: only what came after is sent.
      const next = await busOn(dir, subscriber.url);
      await next.delivery.loadPosition();
      expect(next.delivery.status()).toMatchObject({ delivered: 5, lag: 0 });
      next.delivery.start();
      await next.log.append(postEvent(6));
      await eventually(() => expect(subscriber.received).toHaveLength(6));
      await next.stop();
      expect(subscriber.received.map((received) => received.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await subscriber.close();
    }
  });

  it('sends a subscriber that reports no position nothing more until its position is stored: a takeover would send again at most the batch in flight', async () => {
    // Read one event at a time: the batch in flight is one event.
    const subscriber = await fakeSubscriber();
    const stored = new Map<string, number>();
    let refusing = true;
    let refused = 0;
    const positions: PositionStore = {
      load: (url) => Promise.resolve(stored.get(url) ?? 0),
      save: (url, seq) => {
        if (refusing) {
          refused++;
          return Promise.reject(new Error('no responders'));
        }
        stored.set(url, Math.max(stored.get(url) ?? 0, seq));
        return Promise.resolve();
      },
      close: async () => {},
    };
    const log = new MemoryEventLog();
    const logger = recordingLogger();
    const delivery = new SubscriberDelivery(subscriber.url, {
      log,
      logger: logger.logger,
      positions,
      batchSize: 1,
      backoff: QUICK_RETRIES,
    });
    try {
      delivery.start();
      for (let n = 1; n <= 3; n++)
        await log.append({
          id: `e${n}`,
          type: 'PostCreated',
          data: { id: `p${n}`, title: 't' },
          time: new Date().toISOString(),
        });
      // The store keeps failing: the first event was acknowledged, and nothing more goes out.
      await eventually(() => expect(refused).toBeGreaterThanOrEqual(5));
      expect(subscriber.received.map(({ seq }) => seq)).toEqual([1]);
      expect(stored.get(subscriber.url)).toBeUndefined();
      // The store is back: the position is stored, then the rest delivered and stored.
      refusing = false;
      await eventually(() => expect(stored.get(subscriber.url)).toBe(3));
      expect(subscriber.received.map(({ seq }) => seq)).toEqual([1, 2, 3]);
      expect(logger.lines().map((line) => line.msg)).toEqual(
        expect.arrayContaining([
          'could not store the subscriber position; trying again',
          'subscriber position stored again',
        ]),
      );
    } finally {
      await delivery.stop();
      await subscriber.close();
    }
  });

  it('never stores a position ahead of what the subscriber acknowledged: one that keeps failing stays where it was, also across a restart', async () => {
    const dir = freshDir();
    const subscriber = await fakeSubscriber();
    try {
      const first = await busOn(dir, subscriber.url, QUICK_RETRIES);
      first.delivery.start();
      for (let n = 1; n <= 2; n++) await first.log.append(postEvent(n));
      await eventually(() => expect(subscriber.received).toHaveLength(2));
      // From now on the subscriber fails every delivery.
      subscriber.answer = () => 500;
      for (let n = 3; n <= 5; n++) await first.log.append(postEvent(n));
      await eventually(() => expect(subscriber.requests).toBeGreaterThanOrEqual(6));
      expect(await first.positions.load(subscriber.url)).toBe(2);
      await first.stop();
      expect(await storedIn(dir, subscriber.url)).toBe(2);

      // The next bus on the folder resumes it at 2, and still stores nothing beyond while it fails.
      const next = await busOn(dir, subscriber.url, QUICK_RETRIES);
      await next.delivery.loadPosition();
      expect(next.delivery.status()).toMatchObject({ delivered: 2, lag: 3 });
      const before = subscriber.requests;
      next.delivery.start();
      await eventually(() => expect(subscriber.requests).toBeGreaterThanOrEqual(before + 3));
      await next.stop();
      expect(await storedIn(dir, subscriber.url)).toBe(2);
    } finally {
      await subscriber.close();
    }
  });

  it('stores the position of a subscriber that reports its own too, without holding up its deliveries', async () => {
    const dir = freshDir();
    const subscriber = await fakeSubscriber({ takesBatches: true });
    try {
      const log = await FileEventLog.open({ dir, logger: silentLogger() });
      const positions = await openStore(dir);
      const delivery = new SubscriberDelivery(subscriber.url, { log, logger: silentLogger(), positions });
      delivery.start();
      for (let n = 1; n <= 4; n++)
        await log.append({
          id: `e${n}`,
          type: 'PostCreated',
          data: { id: `p${n}`, title: 't' },
          time: new Date().toISOString(),
        });
      await eventually(async () => expect(await positions.load(subscriber.url)).toBe(4));
      await delivery.stop();
      await positions.close();
      await log.close();
      expect(await storedIn(dir, subscriber.url)).toBe(4);
    } finally {
      await subscriber.close();
    }
  });

  it('starts from the end of the log when the stored position is beyond it, and says so', async () => {
    const dir = freshDir();
    const positions = await openStore(dir);
    await positions.save('http://127.0.0.1:9', 50);
    const log = await FileEventLog.open({ dir: freshDir(), logger: silentLogger() });
    await log.append({ id: 'e1', type: 'PostCreated', data: { id: 'p1', title: 't' }, time: new Date().toISOString() });
    const { logger, lines: logged } = recordingLogger();
    const delivery = new SubscriberDelivery('http://127.0.0.1:9', { log, logger, positions });
    await delivery.loadPosition();
    expect(delivery.status()).toMatchObject({ delivered: 1, lag: 0 });
    expect(logged()).toContainEqual(
      expect.objectContaining({
        msg: 'stored position is beyond the log; delivering from its end',
        stored: 50,
        lastSeq: 1,
      }),
    );
    await positions.close();
    await log.close();
  });
});
