import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StateDb } from '@blog/common/state';
import { BusUnconfirmedError, EventConsumer, silentLogger, type Reactor } from '@blog/common';
import { envelopeOf, InMemoryBus, settle } from '@blog/common/testing';
import { eventually } from '@blog/testkit';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../src/app';
import { moderationEventHandlers } from '../src/event-handlers';
import { moderate, moderationDecisions } from '../src/moderation-decisions';
import { MODERATION_SCHEMA, ModerationStore } from '../src/store';

/** Reactors started by a test; stopped after it so that no retry timer outlives the test. */
const reactors: Reactor[] = [];
afterEach(() => {
  for (const reactor of reactors.splice(0)) reactor.stop();
});

/** Wires the service like index.ts, with nothing started yet. */
function build({
  history = new InMemoryBus(),
  blockedWords = ['orange'],
  store = new ModerationStore(),
}: { history?: InMemoryBus; blockedWords?: string[]; store?: ModerationStore } = {}) {
  const logger = silentLogger();
  const decisions = moderationDecisions(store, history, blockedWords, logger);
  reactors.push(decisions);
  const consumer = new EventConsumer({
    history,
    state: store.state,
    handlers: moderationEventHandlers(store, decisions),
    logger,
    backoff: { minDelayMs: 5, maxDelayMs: 5 },
  });
  const app = createApp({ consumer, logger });
  return { app, bus: history, consumer, decisions };
}

/** Wires and starts the service as index.ts does: catch up with the history, then start deciding. */
async function setup(options: { history?: InMemoryBus; blockedWords?: string[] } = {}) {
  const service = build(options);
  await service.consumer.start();
  service.decisions.start();
  return service;
}

/** Delivers an envelope the way the bus does (`POST /events`). */
async function deliver(app: Express, envelope: unknown): Promise<void> {
  await request(app)
    .post('/events')
    .send(envelope as object)
    .expect(200);
}

const comment = (id: string, content: string) => ({ id, postId: 'p1', content, status: 'pending' as const });

describe('moderate', () => {
  it.each(['orange', 'ORANGE juice', 'I like Oranges', 'blood-orange', 'myorangejuice', 'an OrAnGe'])(
    'rejects %p',
    (content) => {
      expect(moderate(content, ['orange'])).toBe('rejected');
    },
  );

  it.each(['hello', 'apple', 'oran ge', 'orang', 'range'])('approves %p', (content) => {
    expect(moderate(content, ['orange'])).toBe('approved');
  });

  it('uses the configured word list, case-insensitively on both sides', () => {
    expect(moderate('I like kiwis', ['kiwi', 'plum'])).toBe('rejected');
    expect(moderate('PLUM pudding', ['kiwi', 'plum'])).toBe('rejected');
    expect(moderate('plum pudding', ['PLUM'])).toBe('rejected');
    expect(moderate('orange juice', ['kiwi', 'plum'])).toBe('approved');
  });

  it('approves everything with an empty word list', () => {
    expect(moderate('orange', [])).toBe('approved');
    expect(moderate('anything at all', [])).toBe('approved');
  });
});

describe('moderation: decisions', () => {
  it.each([
    ['ORANGE juice', 'rejected'],
    ['hello', 'approved'],
  ] as const)('decides a delivered CommentCreated %p as %s, exactly once', async (content, status) => {
    const { app, bus } = await setup();
    const created = await bus.publish({ type: 'CommentCreated', data: comment('c1', content) });
    await deliver(app, created);

    await eventually(() => expect(bus.ofType('CommentModerated')).toHaveLength(1));
    expect(bus.ofType('CommentModerated').map((e) => e.data)).toEqual([{ id: 'c1', postId: 'p1', content, status }]);
    await settle();
    expect(bus.ofType('CommentModerated')).toHaveLength(1);
  });

  it('uses the configured blocked words', async () => {
    const { app, bus } = await setup({ blockedWords: ['kiwi'] });
    await deliver(app, await bus.publish({ type: 'CommentCreated', data: comment('c1', 'orange juice') }));
    await deliver(app, await bus.publish({ type: 'CommentCreated', data: comment('c2', 'KIWI juice') }));
    await eventually(() => expect(bus.ofType('CommentModerated')).toHaveLength(2));
    expect(bus.ofType('CommentModerated').map((e) => [e.data.id, e.data.status])).toEqual([
      ['c1', 'approved'],
      ['c2', 'rejected'],
    ]);
  });

  it('decides once when the same CommentCreated is delivered twice', async () => {
    const { app, bus, consumer } = await setup();
    const created = await bus.publish({ type: 'CommentCreated', data: comment('c1', 'hello') });
    await deliver(app, created);
    await deliver(app, created);
    await eventually(() => expect(bus.ofType('CommentModerated')).toHaveLength(1));
    await settle();
    expect(consumer.stats.duplicates).toBe(1);
    expect(bus.ofType('CommentModerated')).toHaveLength(1);
  });

  it('does not decide again when the decision echo arrives and the CommentCreated shows up again later', async () => {
    const { app, bus, decisions } = await setup();
    await deliver(app, await bus.publish({ type: 'CommentCreated', data: comment('c1', 'hello') }));
    await eventually(() => expect(bus.ofType('CommentModerated')).toHaveLength(1));
    const [decision] = bus.ofType('CommentModerated');
    await deliver(app, decision);
    expect(decisions.outstanding).toBe(0);

    // The same comment published a second time (e.g. a retried publish): already decided.
    await deliver(app, await bus.publish({ type: 'CommentCreated', data: comment('c1', 'hello') }));
    await settle();
    expect(bus.ofType('CommentModerated')).toHaveLength(1);
  });

  it('decides on the first of two CommentCreated with one comment id, the one every service keeps', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'plain words') });
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'an orange') });
    await setup({ history });
    await eventually(() =>
      expect(history.ofType('CommentModerated').map(({ data }) => [data.content, data.status])).toEqual([
        ['plain words', 'approved'],
      ]),
    );
  });

  it('ignores other event types', async () => {
    const { app, bus } = await setup();
    await deliver(app, await bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'orange' } }));
    await deliver(
      app,
      await bus.publish({ type: 'CommentUpdated', data: { ...comment('c9', 'orange'), status: 'approved' } }),
    );
    await deliver(app, await bus.publish({ type: 'CommentCreated', data: comment('c9', 'x') }));
    await settle();
    // Only the CommentCreated asks for a decision.
    expect(bus.ofType('CommentModerated').map((e) => e.data.id)).toEqual(['c9']);
  });
});

describe('moderation: an answer lost after the bus stored the decision', () => {
  it('publishes the retry under the same id, so the bus stores one decision', async () => {
    const history = new InMemoryBus();
    const { app, bus } = await setup({ history });
    const created = await history.publish({ type: 'CommentCreated', data: comment('c1', 'hello') });
    const publish = bus.publish.bind(bus);
    let losses = 1;
    // The first attempt is stored, but its answer is lost (as when the bus stalls past the confirm window).
    bus.publish = async (event, options) => {
      const stored = await publish(event, options);
      if (losses-- > 0) throw new BusUnconfirmedError('timed out');
      return stored;
    };
    await deliver(app, created);
    await eventually(() => expect(losses).toBeLessThan(0));
    await settle();
    expect(bus.ofType('CommentModerated').map((e) => e.data.status)).toEqual(['approved']);
  });
});

describe('moderation: replay', () => {
  it('publishes nothing when the history already holds the decision', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'ORANGE juice') });
    await history.publish({ type: 'CommentModerated', data: { ...comment('c1', 'ORANGE juice'), status: 'rejected' } });

    const { bus, consumer, decisions } = await setup({ history });
    await settle();
    expect(consumer.position).toBe(2);
    expect(bus.events).toHaveLength(2);
    expect(decisions.outstanding).toBe(0);
  });

  it('publishes exactly one decision, after start, for a comment the history left undecided', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'decided already') });
    await history.publish({
      type: 'CommentModerated',
      data: { ...comment('c1', 'decided already'), status: 'approved' },
    });
    await history.publish({ type: 'CommentCreated', data: comment('c2', 'ORANGE juice') });

    const { bus, consumer, decisions } = build({ history });
    await consumer.start();
    await settle();
    // Replaying history does not publish by itself.
    expect(bus.ofType('CommentModerated')).toHaveLength(1);

    decisions.start();
    await eventually(() => expect(bus.ofType('CommentModerated')).toHaveLength(2));
    await settle();
    expect(bus.ofType('CommentModerated').map((e) => e.data)).toEqual([
      { id: 'c1', postId: 'p1', content: 'decided already', status: 'approved' },
      { id: 'c2', postId: 'p1', content: 'ORANGE juice', status: 'rejected' },
    ]);
  });

  it('retries a decision that failed while the bus was down and publishes it once when back', async () => {
    const { app, bus } = await setup();
    const created = await bus.publish({ type: 'CommentCreated', data: comment('c1', 'hello') });
    bus.down = true;
    await deliver(app, created);
    await settle();
    expect(bus.ofType('CommentModerated')).toHaveLength(0);

    bus.down = false;
    await eventually(() => expect(bus.ofType('CommentModerated')).toHaveLength(1));
    expect(bus.ofType('CommentModerated').map((e) => e.data)).toEqual([
      { id: 'c1', postId: 'p1', content: 'hello', status: 'approved' },
    ]);
  }, 15_000);
});

describe('moderation: a restart that resumes from the stored state', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'blog-moderation-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const storeIn = () =>
    new ModerationStore(
      StateDb.open({ file: path.join(dir, 'state.sqlite'), schema: MODERATION_SCHEMA, lockWaitMs: 20 }),
    );

  it('decides, once, a comment its state says is still waiting, without reading the history again', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'decided already') });
    await history.publish({
      type: 'CommentModerated',
      data: { ...comment('c1', 'decided already'), status: 'approved' },
    });
    await history.publish({ type: 'CommentCreated', data: comment('c2', 'ORANGE juice') });
    // The first process applies the history but stops before its decision is published.
    const firstStore = storeIn();
    const first = build({ history, store: firstStore });
    await first.consumer.start();
    first.decisions.stop();
    firstStore.state.close();

    const readsBefore = history.reads;
    const second = build({ history, store: storeIn() });
    await second.consumer.start();
    expect(second.consumer.stats.applied).toBe(0);
    // One read: the event at the stored position, to check the log is the one the state was built from, and nothing after it.
    expect(history.reads - readsBefore).toBe(2);
    second.decisions.start();
    await eventually(() => expect(history.ofType('CommentModerated')).toHaveLength(2));
    await settle();
    expect(history.ofType('CommentModerated').map((e) => e.data)).toEqual([
      { id: 'c1', postId: 'p1', content: 'decided already', status: 'approved' },
      { id: 'c2', postId: 'p1', content: 'ORANGE juice', status: 'rejected' },
    ]);
  });
});

describe('moderation: events that contradict the state are rejected', () => {
  it("ignores a decision that names another post than its comment's, and still publishes its own", async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'hello') });
    await history.publish({
      type: 'CommentModerated',
      data: { ...comment('c1', 'hello'), postId: 'p2', status: 'rejected' },
    });
    const { bus, consumer } = await setup({ history });

    expect(consumer.stats).toMatchObject({ rejected: 1, skipped: 0 });
    await eventually(() => expect(bus.ofType('CommentModerated')).toHaveLength(2));
    expect(bus.ofType('CommentModerated')[1]?.data).toEqual({ ...comment('c1', 'hello'), status: 'approved' });
  });

  it('ignores a later CommentCreated that reuses a comment id for another content', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'hello') });
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'orange') });
    const { bus, consumer } = await setup({ history });

    expect(consumer.stats).toMatchObject({ rejected: 1, skipped: 0 });
    await eventually(() => expect(bus.ofType('CommentModerated')).toHaveLength(1));
    expect(bus.ofType('CommentModerated')[0]?.data).toEqual({ ...comment('c1', 'hello'), status: 'approved' });
  });
});

describe('moderation: routes', () => {
  it('is not ready before catching up with the history, ready after; always healthy', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'hello') });
    history.down = true;
    const { app, consumer } = build({ history });
    const starting = consumer.start();
    await request(app).get('/readyz').expect(503);
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    history.down = false;
    await starting;
    await request(app).get('/readyz').expect(200, { status: 'ready' });
  });

  it.each([
    ['GET', '/'],
    ['GET', '/posts'],
    ['POST', '/posts'],
    ['POST', '/posts/p1/comments'],
    ['GET', '/events'],
    ['POST', '/moderate'],
  ] as const)('answers %s %s with 404 JSON', async (method, path) => {
    const { app } = await setup();
    const res =
      method === 'GET'
        ? await request(app).get(path).expect(404)
        : await request(app).post(path).send({ content: 'x' }).expect(404);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.body).toEqual({ error: `no route for ${method} ${path}`, code: 'not_found' });
  });

  it('rejects a malformed delivered event with 400 JSON and decides nothing', async () => {
    const { app, bus } = await setup();
    const res = await request(app)
      .post('/events')
      .send({ ...envelopeOf({ type: 'CommentCreated', data: comment('c1', 'hello') }, 1), data: { id: 'c1' } })
      .expect(400);
    expect(res.body).toEqual({ error: expect.stringMatching(/malformed event/), code: 'invalid_request' });
    await settle();
    expect(bus.events).toHaveLength(0);
  });
});
