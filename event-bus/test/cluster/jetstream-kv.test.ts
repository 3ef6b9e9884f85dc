/**
 * What bus replicas share besides the log, on a real 3-node JetStream cluster (`npm run test:cluster`):
 * the subscribers' positions, the delivery lease, and the two together: one replica delivers at a time,
 * and the next one resumes where the last stopped.
 */
import { silentLogger } from '@blog/common';
import { eventually, waitUntil } from '@blog/testkit';
import { Deliverer } from '../../src/delivery/deliverer';
import type { PositionStore } from '../../src/delivery/position-store';
import { SubscriberDelivery } from '../../src/delivery/subscriber-delivery';
import { eventStream } from '../../src/jetstream/event-stream';
import { JetStreamEventLog } from '../../src/jetstream/jetstream-event-log';
import { KvLease, LEASE_TTL_MS } from '../../src/jetstream/kv-lease';
import { KvPositionStore } from '../../src/jetstream/kv-position-store';
import { describePositionStoreContract } from '../position-store-contract';
import { fakeSubscriber, type FakeSubscriber } from '../support';
import { useNatsCluster } from './support';

const nats = useNatsCluster();
const bucketOf = new WeakMap<PositionStore, string>();

async function positionsIn(bucket: string): Promise<KvPositionStore> {
  const store = await KvPositionStore.open({ connection: await nats.connection(), bucket, replicas: 3 });
  bucketOf.set(store, bucket);
  return store;
}

describePositionStoreContract('KvPositionStore', {
  open: () => positionsIn(nats.unique('positions')),
  reopen: async (store) => {
    const bucket = bucketOf.get(store);
    if (!bucket) throw new Error('not a store this factory opened');
    return positionsIn(bucket);
  },
});

const lease = async (bucket: string) => KvLease.open({ connection: await nats.connection(), bucket, replicas: 3 });

describe('KvLease', () => {
  test('one replica holds it; given up, the next takes it at once', async () => {
    const bucket = nats.unique('lease');
    const [a, b] = [await lease(bucket), await lease(bucket)];
    const stop = new AbortController();
    try {
      await a.acquire(stop.signal);
      let bHolds = false;
      const bWaits = b.acquire(stop.signal).then(() => (bHolds = true));
      const aHolds = a.hold(stop.signal);
      expect(await waitUntil(() => bHolds, 3_000)).toBe(false);
      stop.abort();
      await aHolds;
      await a.release();
      const next = new AbortController();
      await b.acquire(next.signal);
      next.abort();
      await b.release();
      await bWaits;
    } finally {
      stop.abort();
    }
  });

  test('a holder that stops renewing (a killed pod) loses it once it expires, and finds it taken when it tries again', async () => {
    const bucket = nats.unique('lease');
    const [dead, next] = [await lease(bucket), await lease(bucket)];
    const stop = new AbortController();
    try {
      await dead.acquire(stop.signal);
      const startedAt = Date.now();
      await next.acquire(stop.signal);
      const waited = Date.now() - startedAt;
      expect(waited).toBeGreaterThanOrEqual(LEASE_TTL_MS - 1_000);
      // The old holder comes back: its first renewal is refused, and it stops holding.
      await dead.hold(stop.signal);
      expect(stop.signal.aborted).toBe(false);
    } finally {
      stop.abort();
      await next.release();
    }
  });
});

describe('bus replicas delivering to a subscriber that reports no position (a course service)', () => {
  let subscriber: FakeSubscriber;
  beforeEach(async () => {
    subscriber = await fakeSubscriber();
  });
  afterEach(async () => {
    await subscriber.close();
  });

  async function replica(stream: string) {
    const connection = await nats.connection();
    const log = await JetStreamEventLog.open({ connection, stream: eventStream(stream, 3), logger: silentLogger() });
    const positions = await KvPositionStore.open({ connection, bucket: `${stream}_positions`, replicas: 3 });
    const delivery = new SubscriberDelivery(subscriber.url, {
      log,
      logger: silentLogger(),
      positions,
      backoff: { minDelayMs: 10, maxDelayMs: 100 },
    });
    const deliverer = new Deliverer(
      [delivery],
      await KvLease.open({ connection, bucket: `${stream}_lease`, replicas: 3 }),
      silentLogger(),
    );
    deliverer.start();
    return { log, deliverer };
  }

  test('one replica delivers at a time; when it stops, the other resumes from the stored position: each event once, in order', async () => {
    const stream = nats.unique('DELIVERY');
    const replicas = [await replica(stream), await replica(stream)];
    try {
      const event = (n: number) => ({
        id: `e${n}`,
        type: 'PostCreated',
        data: { id: `p${n}`, title: 't' },
        time: new Date().toISOString(),
      });
      for (let n = 1; n <= 10; n++) await replicas[n % 2]!.log.append(event(n));
      await eventually(() => expect(subscriber.received).toHaveLength(10), { timeoutMs: 15_000 });
      expect(replicas.filter(({ deliverer }) => deliverer.active)).toHaveLength(1);
      const [active, standby] = replicas[0]!.deliverer.active
        ? [replicas[0]!, replicas[1]!]
        : [replicas[1]!, replicas[0]!];
      // The position of a subscriber that reports none is stored before the next delivery, a moment after this one.
      await eventually(
        async () => expect((await standby.deliverer.statuses())[0]).toMatchObject({ delivered: 10, lag: 0 }),
        { timeoutMs: 5_000 },
      );

      await active.deliverer.stop();
      for (let n = 11; n <= 15; n++) await standby.log.append(event(n));
      await eventually(() => expect(subscriber.received).toHaveLength(15), { timeoutMs: 15_000 });
      expect(standby.deliverer.active).toBe(true);
      expect(subscriber.received.map(({ seq }) => seq)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    } finally {
      for (const { deliverer, log } of replicas) {
        await deliverer.stop();
        await log.close();
      }
    }
  });
});
