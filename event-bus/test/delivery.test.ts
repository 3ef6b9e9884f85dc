import { createServer } from 'node:http';
import { silentLogger } from '@blog/common';
import { recordingLogger } from '@blog/common/testing';
import { eventually, freePorts } from '@blog/testkit';
import { SubscriberDelivery, type DeliveryOptions } from '../src/delivery/subscriber-delivery';
import { BusMetrics } from '../src/metrics';
import { MemoryEventLog } from '../src/testing';
import { fakeSubscriber, type FakeSubscriber } from './support';

const fast = { minDelayMs: 5, maxDelayMs: 20 };
const open: { deliveries: SubscriberDelivery[]; subscribers: FakeSubscriber[] } = { deliveries: [], subscribers: [] };

afterEach(async () => {
  await Promise.all(open.deliveries.splice(0).map((delivery) => delivery.stop()));
  await Promise.all(open.subscribers.splice(0).map((subscriber) => subscriber.close()));
});

type SetupOptions = Partial<
  Pick<DeliveryOptions, 'timeoutMs' | 'drainTimeoutMs' | 'batchSize' | 'logger' | 'metrics' | 'token'>
>;

async function setup(count = 1, options: SetupOptions = {}, takesBatches = false) {
  const log = new MemoryEventLog();
  const subscribers = await Promise.all(Array.from({ length: count }, () => fakeSubscriber({ takesBatches })));
  const deliveries = subscribers.map(
    (s) =>
      new SubscriberDelivery(s.url, { log, logger: silentLogger(), backoff: fast, drainTimeoutMs: 50, ...options }),
  );
  open.subscribers.push(...subscribers);
  open.deliveries.push(...deliveries);
  deliveries.forEach((d) => d.start());
  let appended = 0;
  const append = (n: number) =>
    Promise.all(
      Array.from({ length: n }, () => {
        const i = ++appended;
        return log.append({
          id: `e${i}`,
          type: 'PostCreated',
          data: { id: `p${i}`, title: 't' },
          time: new Date().toISOString(),
        });
      }),
    );
  return { log, subscribers, deliveries, append };
}

describe('SubscriberDelivery', () => {
  it('delivers every event to every subscriber in seq order', async () => {
    const { subscribers, append } = await setup(2);
    await append(20);
    for (const subscriber of subscribers) {
      await eventually(() => expect(subscriber.received).toHaveLength(20));
      expect(subscriber.received.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    }
  });

  it('retries a failing subscriber until it accepts, without skipping or reordering', async () => {
    const { subscribers, deliveries, append } = await setup();
    const [subscriber] = subscribers;
    let failures = 0;
    subscriber!.answer = (seq) => (seq === 2 && failures++ < 3 ? 503 : 200);
    await append(4);
    await eventually(() => expect(subscriber!.received).toHaveLength(4));
    expect(subscriber!.received.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(failures).toBe(4);
    // The subscriber records an event before its answer reaches the bus.
    await eventually(() =>
      expect(deliveries[0]!.status()).toMatchObject({ delivered: 4, lag: 0, failures: 0, lastError: null }),
    );
  });

  it('keeps trying a subscriber that is down and reports the error meanwhile', async () => {
    const { subscribers, deliveries, append } = await setup();
    subscribers[0]!.answer = () => 404;
    await append(1);
    await eventually(() => expect(deliveries[0]!.status().failures).toBeGreaterThanOrEqual(2));
    expect(deliveries[0]!.status()).toMatchObject({
      delivered: 0,
      lag: 1,
      lastError: expect.stringMatching(/HTTP 404/),
    });
    subscribers[0]!.answer = () => 200;
    await eventually(() => expect(subscribers[0]!.received).toHaveLength(1));
  });

  it('counts and logs each event a subscriber acknowledged (id, type, seq), and each retry', async () => {
    const { logger, lines } = recordingLogger();
    const metrics = new BusMetrics();
    const { subscribers, append } = await setup(1, { logger, metrics }, true);
    const [subscriber] = subscribers;
    // Seq 1 is rejected (in a batch, then alone); seq 2 fails once, in whichever form it is sent.
    let failures = 0;
    subscriber!.answerBatch = (seqs) => (seqs.includes(1) ? 400 : seqs.includes(2) && failures++ < 1 ? 503 : 200);
    subscriber!.answer = (seq) => (seq === 1 ? 400 : seq === 2 && failures++ < 1 ? 503 : 200);
    await append(3);
    await eventually(() => expect(subscriber!.received).toHaveLength(2));
    await eventually(() => expect(lines().filter((line) => line.msg === 'event delivered')).toHaveLength(2));
    expect(lines().filter((line) => line.msg === 'event delivered')).toEqual([
      expect.objectContaining({ subscriber: subscriber!.url, eventId: 'e2', type: 'PostCreated', seq: 2 }),
      expect.objectContaining({ subscriber: subscriber!.url, eventId: 'e3', type: 'PostCreated', seq: 3 }),
    ]);
    const value = async (name: string) => (await metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value;
    expect(await value('events_delivered_total')).toBe(2);
    expect(await value('delivery_retries_total')).toBeGreaterThanOrEqual(1);
  });

  it('does not warn about a subscriber that is not listening yet (still starting); it delivers once it is up', async () => {
    const { logger, lines } = recordingLogger('debug');
    const [port] = await freePorts(1);
    const log = new MemoryEventLog();
    const delivery = new SubscriberDelivery(`http://127.0.0.1:${port}`, {
      log,
      logger,
      backoff: fast,
      drainTimeoutMs: 50,
    });
    open.deliveries.push(delivery);
    delivery.start();
    await log.append({ id: 'e1', type: 'PostCreated', data: { id: 'p1', title: 't' }, time: new Date().toISOString() });
    await eventually(() => expect(delivery.status().failures).toBeGreaterThanOrEqual(3));
    const received: unknown[] = [];
    const late = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        received.push(req.url);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => late.listen(port, '127.0.0.1', resolve));
    try {
      await eventually(() => expect(delivery.status()).toMatchObject({ delivered: 1, lag: 0 }));
    } finally {
      late.close();
    }
    expect(lines().filter((line) => (line.level as number) >= 40)).toEqual([]);
    expect(lines().filter((line) => line.msg === 'subscriber not listening yet, retrying')).toHaveLength(1);
  });

  it('sends the events token with every delivery, and keeps retrying a subscriber that refuses it', async () => {
    const { subscribers, deliveries, append } = await setup(1, { token: 'the-token-of-this-blog' }, true);
    const [subscriber] = subscribers;
    const refuse = { on: true };
    subscriber!.authorize = (header) => !refuse.on && header === 'Bearer the-token-of-this-blog';
    await append(2);
    await eventually(() =>
      expect(deliveries[0]!.status()).toMatchObject({ delivered: 0, lastError: expect.stringMatching(/HTTP 401/) }),
    );
    refuse.on = false;
    await eventually(() => expect(subscriber!.received.map((event) => event.seq)).toEqual([1, 2]));
  });

  it('passes over an event the subscriber rejects as malformed', async () => {
    const { subscribers, append } = await setup();
    subscribers[0]!.answer = (seq) => (seq === 1 ? 400 : 200);
    await append(3);
    await eventually(() => expect(subscribers[0]!.received).toHaveLength(2));
    expect(subscribers[0]!.received.map((e) => e.seq)).toEqual([2, 3]);
  });

  it('does not let a hanging subscriber delay the others', async () => {
    const { subscribers, deliveries, append } = await setup(2, { timeoutMs: 60_000 });
    subscribers[0]!.answer = () => 'hang';
    await append(5);
    await eventually(() => expect(subscribers[1]!.received).toHaveLength(5));
    expect(deliveries[0]!.status().delivered).toBe(0);
  });

  it('picks up events appended after it went idle', async () => {
    const { subscribers, append } = await setup();
    await append(1);
    await eventually(() => expect(subscribers[0]!.received).toHaveLength(1));
    await append(1);
    await eventually(() => expect(subscribers[0]!.received).toHaveLength(2));
  });

  it('skips what a subscriber reports it has already applied (it caught up from the history)', async () => {
    const { subscribers, deliveries, append } = await setup();
    subscribers[0]!.position = (seq) => (seq === 1 ? 8 : undefined);
    await append(10);
    await eventually(() => expect(subscribers[0]!.received.map((e) => e.seq)).toEqual([1, 9, 10]));
    await eventually(() => expect(deliveries[0]!.status()).toMatchObject({ delivered: 10, lag: 0 }));
  });

  it('lets a delivery in flight finish when stopped, within the drain time', async () => {
    const { subscribers, deliveries, append } = await setup(1, { drainTimeoutMs: 5_000 });
    let release = () => {};
    const answered = new Promise<number>((resolve) => (release = () => resolve(200)));
    subscribers[0]!.answer = () => answered;
    await append(1);
    await eventually(() => expect(subscribers[0]!.requests).toBe(1));
    const stopping = deliveries[0]!.stop();
    release();
    await stopping;
    expect(subscribers[0]!.received.map((e) => e.seq)).toEqual([1]);
    expect(deliveries[0]!.status().delivered).toBe(1);
  });

  it('aborts a delivery still in flight when the drain time is over', async () => {
    const { subscribers, deliveries, append } = await setup(1, { drainTimeoutMs: 20 });
    subscribers[0]!.answer = () => 'hang';
    await append(1);
    await eventually(() => expect(subscribers[0]!.requests).toBe(1));
    await deliveries[0]!.stop();
    expect(deliveries[0]!.status().delivered).toBe(0);
  });

  describe('to a subscriber that takes batches', () => {
    const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

    it('sends what has been appended meanwhile in one request, in seq order', async () => {
      const { subscribers, deliveries, append } = await setup(1, {}, true);
      await append(300);
      await eventually(() => expect(subscribers[0]!.received).toHaveLength(300));
      expect(subscribers[0]!.received.map((e) => e.seq)).toEqual(upTo(300));
      expect(subscribers[0]!.requests).toBeLessThan(300);
      await eventually(() => expect(deliveries[0]!.status()).toMatchObject({ delivered: 300, lag: 0 }));
    });

    it('keeps each batch within the size bound', async () => {
      const { subscribers, append } = await setup(1, { batchSize: 7 }, true);
      await append(50);
      await eventually(() => expect(subscribers[0]!.received).toHaveLength(50));
      expect(Math.max(...subscribers[0]!.batches)).toBeLessThanOrEqual(7);
      expect(subscribers[0]!.received.map((e) => e.seq)).toEqual(upTo(50));
    });

    it('retries a failed batch whole, without skipping or reordering', async () => {
      const { subscribers, append } = await setup(1, {}, true);
      let failures = 0;
      subscribers[0]!.answerBatch = () => (failures++ < 2 ? 503 : 200);
      await append(20);
      await eventually(() => expect(subscribers[0]!.received).toHaveLength(20));
      expect(subscribers[0]!.received.map((e) => e.seq)).toEqual(upTo(20));
    });

    it('sends a rejected batch again one event at a time, passing over only the rejected event', async () => {
      const { subscribers, append } = await setup(1, {}, true);
      // The batch route refuses any batch holding seq 3; the single route refuses seq 3 alone.
      subscribers[0]!.answerBatch = (seqs) => (seqs.includes(3) ? 400 : 200);
      subscribers[0]!.answer = (seq) => (seq === 3 ? 400 : 200);
      await append(10);
      await eventually(() => expect(subscribers[0]!.received.map((e) => e.seq)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 10]));
      expect(subscribers[0]!.batches).toEqual([]);
      await append(5);
      await eventually(() => expect(subscribers[0]!.received).toHaveLength(14));
      // Back to batches after the rejected one.
      expect(subscribers[0]!.batches.length).toBeGreaterThan(0);
    });
  });

  it('falls back to one event per request for a subscriber without the batch route', async () => {
    const { subscribers, append } = await setup();
    await append(30);
    await eventually(() => expect(subscribers[0]!.received).toHaveLength(30));
    expect(subscribers[0]!.received.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(subscribers[0]!.batches).toEqual([]);
  });
});
