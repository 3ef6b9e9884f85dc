import { EventConsumer, silentLogger, type EventHandlers } from '@blog/common';
import { envelopeOf, InMemoryBus } from '@blog/common/testing';
import { eventually } from '@blog/testkit';

const post = (id: string) => ({ type: 'PostCreated' as const, data: { id, title: `title ${id}` } });

function recordingConsumer(history: InMemoryBus, options: { pageSize?: number; handlers?: EventHandlers; follow?: boolean } = {}) {
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
    expect(consumer.stats).toEqual({ applied: 1, duplicates: 1, skipped: 0 });
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
    await expect(consumer.receive(forged)).rejects.toMatchObject({ status: 409 });
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
    expect(consumer.stats).toEqual({ applied: 1, duplicates: 0, skipped: 0 });
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
