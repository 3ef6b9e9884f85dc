import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StateDb } from '@blog/common/state';
import {
  EventConsumer,
  idFromKey,
  LIMITS,
  silentLogger,
  type BackoffOptions,
  type Comment,
  type Reactor,
} from '@blog/common';
import { InMemoryBus, settle } from '@blog/common/testing';
import { eventually } from '@blog/testkit';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../src/app';
import { commentUpdates } from '../src/comment-updates';
import { commentEventHandlers } from '../src/event-handlers';
import { COMMENTS_SCHEMA, CommentStore } from '../src/store';

/** Reactors started by a test; stopped after it so that no retry timer outlives the test. */
const reactors: Reactor[] = [];
afterEach(() => {
  for (const reactor of reactors.splice(0)) reactor.stop();
});

/** Wires the service like index.ts, with nothing started yet. */
function build({
  history = new InMemoryBus(),
  backoff,
  store = new CommentStore(),
}: { history?: InMemoryBus; backoff?: BackoffOptions; store?: CommentStore } = {}) {
  const logger = silentLogger();
  const updates = commentUpdates(store, history, logger);
  reactors.push(updates);
  const consumer = new EventConsumer({
    history,
    state: store.state,
    handlers: commentEventHandlers(store, updates),
    logger,
    ...(backoff ? { backoff } : {}),
  });
  const app = createApp({ store, bus: history, consumer, logger });
  return { app, bus: history, consumer, updates };
}

/** Wires and starts the service as index.ts does: catch up with the history, then start the reactor. */
async function setup({ history = new InMemoryBus() } = {}) {
  const service = build({ history });
  await service.consumer.start();
  service.updates.start();
  return service;
}

/** Delivers an envelope the way the bus does (`POST /events`). */
async function deliver(app: Express, envelope: unknown): Promise<void> {
  await request(app)
    .post('/events')
    .send(envelope as object)
    .expect(200);
}

async function commentsOf(app: Express, postId: string): Promise<Comment[]> {
  const res = await request(app).get(`/posts/${postId}/comments`).expect(200);
  return res.body as Comment[];
}

/** A history with post p1 and comment c1 (pending); returns the CommentCreated envelope. */
async function historyWithComment(content = 'hello') {
  const history = new InMemoryBus();
  await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Post' } });
  const created = await history.publish({
    type: 'CommentCreated',
    data: { id: 'c1', postId: 'p1', content, status: 'pending' },
  });
  return { history, created };
}

describe('comments: creating and listing', () => {
  it('creates a pending comment, publishes CommentCreated and lists it', async () => {
    const { app, bus } = await setup();
    await deliver(app, await bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Post' } }));

    const res = await request(app).post('/posts/p1/comments').send({ content: '  Nice post ' }).expect(201);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.body).toEqual({ id: expect.any(String), content: 'Nice post', status: 'pending' });
    const comment = res.body as Comment;

    expect(bus.ofType('CommentCreated').map((e) => e.data)).toEqual([
      { id: comment.id, postId: 'p1', content: 'Nice post', status: 'pending' },
    ]);
    expect(await commentsOf(app, 'p1')).toEqual([comment]);
  });

  it('lists the comments of a post in creation order, separately from other posts', async () => {
    const { app, bus } = await setup();
    await deliver(app, await bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'One' } }));
    await deliver(app, await bus.publish({ type: 'PostCreated', data: { id: 'p2', title: 'Two' } }));
    const contents = ['first', 'second', 'third'];
    for (const content of contents) await request(app).post('/posts/p1/comments').send({ content }).expect(201);
    await request(app).post('/posts/p2/comments').send({ content: 'elsewhere' }).expect(201);

    expect((await commentsOf(app, 'p1')).map((c) => c.content)).toEqual(contents);
    expect((await commentsOf(app, 'p2')).map((c) => c.content)).toEqual(['elsewhere']);
  });

  it('does not duplicate a comment when its CommentCreated echo is delivered', async () => {
    const { app, bus } = await setup();
    await deliver(app, await bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Post' } }));
    await request(app).post('/posts/p1/comments').send({ content: 'once' }).expect(201);
    const [echo] = bus.ofType('CommentCreated');
    await deliver(app, echo);
    expect((await commentsOf(app, 'p1')).map((c) => c.content)).toEqual(['once']);
  });

  describe('Idempotency-Key', () => {
    const comment = (app: Express, postId: string, content: string, key: string) =>
      request(app).post(`/posts/${postId}/comments`).set('Idempotency-Key', key).send({ content });

    it('answers the same comment to the same key, post and content, publishes it once, also after a restart', async () => {
      const { history } = await historyWithComment();
      const { app } = await setup({ history });
      const first = await comment(app, 'p1', 'keyed', 'key-1').expect(201);
      const [again, concurrent] = await Promise.all([
        comment(app, 'p1', 'keyed', 'key-1'),
        comment(app, 'p1', 'keyed', 'key-1'),
      ]);
      expect([again.body, concurrent.body]).toEqual([first.body, first.body]);
      const restarted = await setup({ history });
      expect((await comment(restarted.app, 'p1', 'keyed', 'key-1').expect(201)).body).toEqual(first.body);
      expect(history.ofType('CommentCreated').filter((event) => event.data.content === 'keyed')).toHaveLength(1);
    });

    it('refuses the same key with another content or another post (422 JSON) and creates nothing', async () => {
      const { history } = await historyWithComment();
      await history.publish({ type: 'PostCreated', data: { id: 'p2', title: 'Other' } });
      const { app } = await setup({ history });
      await comment(app, 'p1', 'keyed', 'key-2').expect(201);
      for (const [postId, content] of [
        ['p1', 'changed'],
        ['p2', 'keyed'],
      ] as const) {
        const res = await comment(app, postId, content, 'key-2').expect(422);
        expect(res.body).toEqual({
          error: expect.stringMatching(/Idempotency-Key was already used with a different body/),
          code: 'key_reused',
        });
      }
      expect(history.ofType('CommentCreated')).toHaveLength(2);
    });

    it('answers 201 and 422 to two concurrent creates with one key and two contents, without asking the bus twice', async () => {
      const { history } = await historyWithComment();
      const { app } = await setup({ history });
      const answers = await Promise.all([
        comment(app, 'p1', 'content A', 'key-ab'),
        comment(app, 'p1', 'content B', 'key-ab'),
      ]);
      expect(answers.map(({ status }) => status).sort()).toEqual([201, 422]);
      const stored = history.ofType('CommentCreated').find((event) => event.data.id === idFromKey('comment', 'key-ab'));
      expect(answers.find(({ status }) => status === 201)?.body).toEqual({
        id: stored?.data.id,
        content: stored?.data.content,
        status: 'pending',
      });
      expect((await commentsOf(app, 'p1')).map(({ content }) => content)).toEqual(['hello', stored?.data.content]);
      expect(history.duplicates).toBe(0);
    });

    it('a key the bus has forgotten, whose comment this replica has not applied yet: it catches up first, and the first in the log wins', async () => {
      const { history } = await historyWithComment();
      const { app } = await setup({ history });
      history.forgetsIds = true;
      const key = 'key-late';
      const id = idFromKey('comment', key);
      await history.publish(
        { type: 'CommentCreated', data: { id, postId: 'p1', content: 'first in the log', status: 'pending' } },
        { id: idFromKey('CommentCreated', key) },
      );
      await comment(app, 'p1', 'second in the log', key).expect(422);
      expect((await commentsOf(app, 'p1')).map(({ content }) => content)).toEqual(['hello', 'first in the log']);
      expect((await comment(app, 'p1', 'first in the log', key).expect(201)).body).toMatchObject({
        id,
        content: 'first in the log',
      });
    });

    it('publishes first and reads no history on the way for a known post', async () => {
      const { history } = await historyWithComment();
      const { app } = await setup({ history });
      const reads = history.reads;
      await comment(app, 'p1', 'fresh', 'key-fresh').expect(201);
      expect(history.reads).toBe(reads);
    });

    it('a key another replica used a moment ago with another body: 422, and nothing of this request enters this replica', async () => {
      const { history } = await historyWithComment();
      const { app } = await setup({ history });
      const id = idFromKey('comment', 'key-x');
      await history.publish(
        { type: 'CommentCreated', data: { id, postId: 'p1', content: 'stored content', status: 'pending' } },
        { id: idFromKey('CommentCreated', 'key-x') },
      );
      const reads = history.reads;
      await comment(app, 'p1', 'my content', 'key-x').expect(422);
      expect(history.reads).toBe(reads);
      expect((await commentsOf(app, 'p1')).map(({ content }) => content)).toEqual(['hello']);
      const same = await comment(app, 'p1', 'stored content', 'key-x').expect(201);
      expect(same.body).toEqual({ id, content: 'stored content', status: 'pending' });
      expect((await commentsOf(app, 'p1')).map(({ content }) => content)).toEqual(['hello', 'stored content']);
    });
  });

  it('answers 404 JSON for an unknown post and publishes nothing', async () => {
    const { app, bus } = await setup();
    const res = await request(app).post('/posts/nope/comments').send({ content: 'hello' }).expect(404);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.body).toEqual({ error: expect.stringMatching(/nope/), code: 'not_found' });
    expect(bus.events).toHaveLength(0);
  });

  it('finds a post whose PostCreated is in the history but not delivered yet', async () => {
    const { app, bus } = await setup();
    await bus.publish({ type: 'PostCreated', data: { id: 'fresh', title: 'Just created' } });
    const res = await request(app).post('/posts/fresh/comments').send({ content: 'first!' }).expect(201);
    expect(res.body).toEqual({ id: expect.any(String), content: 'first!', status: 'pending' });
    expect(await commentsOf(app, 'fresh')).toEqual([res.body]);
  });

  it('lists an unknown post as an empty array', async () => {
    const { app } = await setup();
    expect(await commentsOf(app, 'unknown')).toEqual([]);
  });
});

describe('comments: bad requests', () => {
  async function setupWithPost() {
    const service = await setup();
    await deliver(service.app, await service.bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Post' } }));
    return service;
  }

  it.each([
    ['missing content', {}],
    ['empty content', { content: '' }],
    ['blank content', { content: '   ' }],
    ['non-string content', { content: 42 }],
    ['null content', { content: null }],
    ['too long content', { content: 'x'.repeat(LIMITS.contentLength + 1) }],
  ])('rejects %s with 400 JSON and stores nothing', async (_name, body) => {
    const { app, bus } = await setupWithPost();
    const res = await request(app).post('/posts/p1/comments').send(body).expect(400);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.body).toEqual({ error: expect.stringMatching(/content/), code: 'invalid_request' });
    expect(bus.ofType('CommentCreated')).toHaveLength(0);
    expect(await commentsOf(app, 'p1')).toEqual([]);
  });

  it('accepts content of exactly the maximum length', async () => {
    const { app } = await setupWithPost();
    const content = 'x'.repeat(LIMITS.contentLength);
    await request(app).post('/posts/p1/comments').send({ content }).expect(201);
    expect((await commentsOf(app, 'p1')).map((c) => c.content)).toEqual([content]);
  });

  it.each([
    [
      'a JSON array',
      (app: Express) =>
        request(app)
          .post('/posts/p1/comments')
          .send([{ content: 'x' }]),
    ],
    [
      'a non-JSON body',
      (app: Express) => request(app).post('/posts/p1/comments').set('content-type', 'text/plain').send('content=x'),
    ],
    ['a form body', (app: Express) => request(app).post('/posts/p1/comments').type('form').send('content=x')],
    [
      'malformed JSON',
      (app: Express) =>
        request(app).post('/posts/p1/comments').set('content-type', 'application/json').send('{"content":'),
    ],
    ['no body', (app: Express) => request(app).post('/posts/p1/comments')],
  ])('rejects %s with 400 JSON and stores nothing', async (_name, send) => {
    const { app, bus } = await setupWithPost();
    const res = await send(app).expect(400);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.body).toEqual({ error: expect.any(String), code: 'invalid_request' });
    expect(bus.ofType('CommentCreated')).toHaveLength(0);
    expect(await commentsOf(app, 'p1')).toEqual([]);
  });

  it('answers 413 JSON for a body over the limit', async () => {
    const { app, bus } = await setupWithPost();
    const res = await request(app)
      .post('/posts/p1/comments')
      .send({ content: 'x'.repeat(20_000) })
      .expect(413);
    expect(res.body).toEqual({ error: expect.stringMatching(/larger than/), code: 'payload_too_large' });
    expect(bus.ofType('CommentCreated')).toHaveLength(0);
  });

  it('answers 503 JSON and stores nothing when the bus is down', async () => {
    const { app, bus } = await setupWithPost();
    bus.down = true;
    const res = await request(app).post('/posts/p1/comments').send({ content: 'lost?' }).expect(503);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.body).toEqual({ error: expect.stringMatching(/event bus unavailable/), code: 'unavailable' });
    bus.down = false;
    expect(bus.ofType('CommentCreated')).toHaveLength(0);
    expect(await commentsOf(app, 'p1')).toEqual([]);
  });
});

describe('comments: moderation updates', () => {
  it('takes the status of a delivered CommentModerated and publishes exactly one CommentUpdated', async () => {
    const { app, bus, consumer } = await setup();
    await deliver(app, await bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Post' } }));
    const created = (await request(app).post('/posts/p1/comments').send({ content: 'hello' }).expect(201))
      .body as Comment;
    const [echo] = bus.ofType('CommentCreated');
    await deliver(app, echo);
    expect(bus.ofType('CommentUpdated')).toHaveLength(0);

    const moderated = await bus.publish({
      type: 'CommentModerated',
      data: { id: created.id, postId: 'p1', content: 'hello', status: 'approved' },
    });
    await deliver(app, moderated);

    await eventually(() => expect(bus.ofType('CommentUpdated')).toHaveLength(1));
    expect(bus.ofType('CommentUpdated').map((e) => e.data)).toEqual([
      { id: created.id, postId: 'p1', content: 'hello', status: 'approved' },
    ]);
    expect(await commentsOf(app, 'p1')).toEqual([{ id: created.id, content: 'hello', status: 'approved' }]);

    // The same delivery again (same seq) is a duplicate: nothing more is published.
    await deliver(app, moderated);
    await settle();
    expect(consumer.stats.duplicates).toBe(1);
    expect(bus.ofType('CommentUpdated')).toHaveLength(1);
  });

  it('publishes no second CommentUpdated for a decision stored twice (another seq and id: outside the dedup window)', async () => {
    const { history, created } = await historyWithComment();
    const { app, bus } = await setup({ history });
    const decision = { type: 'CommentModerated' as const, data: { ...created.data, status: 'approved' as const } };
    await deliver(app, await bus.publish(decision));
    await eventually(() => expect(bus.ofType('CommentUpdated')).toHaveLength(1));
    await deliver(app, bus.ofType('CommentUpdated')[0]);
    await deliver(app, await bus.publish(decision));
    await settle();
    expect(bus.ofType('CommentModerated')).toHaveLength(2);
    expect(bus.ofType('CommentUpdated')).toHaveLength(1);
    expect(await commentsOf(app, 'p1')).toEqual([{ id: 'c1', content: 'hello', status: 'approved' }]);
  });

  it('publishes a rejected CommentUpdated for a rejected comment and clears it on the echo', async () => {
    const { history, created } = await historyWithComment('ORANGE juice');
    const { app, bus, updates } = await setup({ history });
    const moderated = await bus.publish({ type: 'CommentModerated', data: { ...created.data, status: 'rejected' } });
    await deliver(app, moderated);
    await eventually(() => expect(bus.ofType('CommentUpdated')).toHaveLength(1));
    const [update] = bus.ofType('CommentUpdated');
    expect(update?.data).toEqual({ id: 'c1', postId: 'p1', content: 'ORANGE juice', status: 'rejected' });

    await deliver(app, update);
    expect(updates.outstanding).toBe(0);
    await settle();
    expect(bus.ofType('CommentUpdated')).toHaveLength(1);
    expect(await commentsOf(app, 'p1')).toEqual([{ id: 'c1', content: 'ORANGE juice', status: 'rejected' }]);
  });

  it('publishes the final status when moderation changes while an update is in flight', async () => {
    const { history } = await historyWithComment();
    const { app, bus, updates } = await setup({ history });
    const approved = await bus.publish({
      type: 'CommentModerated',
      data: { id: 'c1', postId: 'p1', content: 'hello', status: 'approved' },
    });
    const rejected = await bus.publish({
      type: 'CommentModerated',
      data: { id: 'c1', postId: 'p1', content: 'hello', status: 'rejected' },
    });

    // Hold the bus so the first CommentUpdated is still in flight when the second decision arrives.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const publish = bus.publish.bind(bus);
    bus.publish = async (event) => {
      await held;
      return publish(event);
    };
    await deliver(app, approved);
    await deliver(app, rejected);
    release();

    await eventually(() => expect(bus.ofType('CommentUpdated')).toHaveLength(1));
    await deliver(app, bus.ofType('CommentUpdated')[0]);
    await eventually(() => expect(bus.ofType('CommentUpdated')).toHaveLength(2));
    expect(bus.ofType('CommentUpdated').map((e) => e.data.status)).toEqual(['approved', 'rejected']);
    await deliver(app, bus.ofType('CommentUpdated')[1]);
    expect(updates.outstanding).toBe(0);
  });

  it('publishes nothing while replaying a history that already holds the CommentUpdated', async () => {
    const { history, created } = await historyWithComment();
    await history.publish({ type: 'CommentModerated', data: { ...created.data, status: 'approved' } });
    await history.publish({ type: 'CommentUpdated', data: { ...created.data, status: 'approved' } });
    const before = history.events.length;

    const { app, bus, updates, consumer } = await setup({ history });
    await settle();

    expect(consumer.position).toBe(before);
    expect(bus.events).toHaveLength(before);
    expect(bus.ofType('CommentUpdated')).toHaveLength(1);
    expect(updates.outstanding).toBe(0);
    expect(await commentsOf(app, 'p1')).toEqual([{ id: 'c1', content: 'hello', status: 'approved' }]);
  });

  it('publishes exactly one CommentUpdated, after start, when the history lacks it', async () => {
    const { history, created } = await historyWithComment();
    await history.publish({ type: 'CommentModerated', data: { ...created.data, status: 'rejected' } });

    const { app, bus, consumer, updates } = build({ history });
    await consumer.start();
    await settle();
    // Replaying history publishes nothing by itself: the reactor is not started yet.
    expect(bus.ofType('CommentUpdated')).toHaveLength(0);
    expect(await commentsOf(app, 'p1')).toEqual([{ id: 'c1', content: 'hello', status: 'rejected' }]);

    updates.start();
    await eventually(() => expect(bus.ofType('CommentUpdated')).toHaveLength(1));
    expect(bus.ofType('CommentUpdated').map((e) => e.data)).toEqual([
      { id: 'c1', postId: 'p1', content: 'hello', status: 'rejected' },
    ]);
    await settle();
    expect(bus.ofType('CommentUpdated')).toHaveLength(1);
  });

  it('publishes an update for the final status when the history holds a stale CommentUpdated', async () => {
    const { history, created } = await historyWithComment();
    await history.publish({ type: 'CommentModerated', data: { ...created.data, status: 'approved' } });
    await history.publish({ type: 'CommentUpdated', data: { ...created.data, status: 'approved' } });
    await history.publish({ type: 'CommentModerated', data: { ...created.data, status: 'rejected' } });

    const { app, bus } = await setup({ history });
    await eventually(() => expect(bus.ofType('CommentUpdated')).toHaveLength(2));
    expect(bus.ofType('CommentUpdated').map((e) => e.data.status)).toEqual(['approved', 'rejected']);
    expect(await commentsOf(app, 'p1')).toEqual([{ id: 'c1', content: 'hello', status: 'rejected' }]);
  });

  it('retries a CommentUpdated that failed while the bus was down and publishes it once it is back', async () => {
    const { history, created } = await historyWithComment();
    const { app, bus } = await setup({ history });
    const moderated = await bus.publish({ type: 'CommentModerated', data: { ...created.data, status: 'approved' } });

    bus.down = true;
    await deliver(app, moderated);
    await settle();
    expect(bus.ofType('CommentUpdated')).toHaveLength(0);
    // The status itself is changed locally even though the update could not be published yet.
    expect(await commentsOf(app, 'p1')).toEqual([{ id: 'c1', content: 'hello', status: 'approved' }]);

    bus.down = false;
    await eventually(() => expect(bus.ofType('CommentUpdated')).toHaveLength(1));
    expect(bus.ofType('CommentUpdated').map((e) => e.data)).toEqual([
      { id: 'c1', postId: 'p1', content: 'hello', status: 'approved' },
    ]);
  }, 15_000);
});

describe('comments: events that contradict the state are rejected', () => {
  it('ignores a CommentCreated for a post the log never created: the post takes no public comments', async () => {
    const { app, bus, consumer } = await setup();
    await deliver(
      app,
      await bus.publish({
        type: 'CommentCreated',
        data: { id: 'c0', postId: 'ghost', content: 'orphan', status: 'pending' },
      }),
    );

    expect(consumer.stats).toMatchObject({ rejected: 1, skipped: 0 });
    expect(await commentsOf(app, 'ghost')).toEqual([]);
    const res = await request(app).post('/posts/ghost/comments').send({ content: 'public?' }).expect(404);
    expect(res.body).toEqual({ error: 'post ghost not found', code: 'not_found' });
  });

  it("ignores a CommentModerated that names another post or content than its comment's, and publishes no update for it", async () => {
    const { history } = await historyWithComment();
    await history.publish({ type: 'PostCreated', data: { id: 'p2', title: 'Other' } });
    const { app, bus, consumer } = await setup({ history });
    await deliver(
      app,
      await bus.publish({
        type: 'CommentModerated',
        data: { id: 'c1', postId: 'p2', content: 'hello', status: 'approved' },
      }),
    );
    await deliver(
      app,
      await bus.publish({
        type: 'CommentModerated',
        data: { id: 'c1', postId: 'p1', content: 'rewritten', status: 'approved' },
      }),
    );
    await settle();

    expect(consumer.stats).toMatchObject({ rejected: 2, skipped: 0 });
    expect(bus.ofType('CommentUpdated')).toHaveLength(0);
    expect(await commentsOf(app, 'p1')).toEqual([{ id: 'c1', content: 'hello', status: 'pending' }]);
    expect(await commentsOf(app, 'p2')).toEqual([]);
  });

  it('keeps the first CommentCreated of a comment id and ignores a later one with another post or content', async () => {
    const { history } = await historyWithComment();
    await history.publish({ type: 'PostCreated', data: { id: 'p2', title: 'Other' } });
    await history.publish({
      type: 'CommentCreated',
      data: { id: 'c1', postId: 'p2', content: 'moved', status: 'pending' },
    });
    await history.publish({
      type: 'CommentCreated',
      data: { id: 'c1', postId: 'p1', content: 'hello', status: 'pending' },
    });
    const { app, consumer } = await setup({ history });

    expect(consumer.stats).toMatchObject({ rejected: 1, skipped: 0 });
    expect(await commentsOf(app, 'p1')).toEqual([{ id: 'c1', content: 'hello', status: 'pending' }]);
    expect(await commentsOf(app, 'p2')).toEqual([]);
  });
});

describe('comments: health', () => {
  it('is not ready before catching up with the history, ready after; always healthy', async () => {
    const { history } = await historyWithComment();
    history.down = true;
    const { app, consumer } = build({ history, backoff: { minDelayMs: 5, maxDelayMs: 5 } });
    const starting = consumer.start();

    const notReady = await request(app).get('/readyz').expect(503);
    expect(notReady.body).toEqual({ error: expect.any(String), code: 'unavailable' });
    await request(app).get('/healthz').expect(200, { status: 'ok' });

    history.down = false;
    await starting;
    await request(app).get('/readyz').expect(200);
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    expect(await commentsOf(app, 'p1')).toEqual([{ id: 'c1', content: 'hello', status: 'pending' }]);
  });

  it('answers 404 JSON for unknown routes', async () => {
    const { app } = await setup();
    const res = await request(app).get('/posts').expect(404);
    expect(res.body).toEqual({ error: 'no route for GET /posts', code: 'not_found' });
  });

  it('rejects a malformed delivered event with 400 JSON', async () => {
    const { app } = await setup();
    const res = await request(app)
      .post('/events')
      .send({ type: 'PostCreated', data: { id: 'p1', title: 'x' } })
      .expect(400);
    expect(res.body).toEqual({ error: expect.stringMatching(/malformed event/), code: 'invalid_request' });
  });
});

describe('comments: a restart that resumes from the stored state', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'blog-comments-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const storeIn = () =>
    new CommentStore(StateDb.open({ file: path.join(dir, 'state.sqlite'), schema: COMMENTS_SCHEMA, lockWaitMs: 20 }));

  it('keeps the comments and publishes the update its state says is still due, once', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Post' } });
    await history.publish({
      type: 'CommentCreated',
      data: { id: 'c1', postId: 'p1', content: 'hello', status: 'pending' },
    });
    await history.publish({
      type: 'CommentModerated',
      data: { id: 'c1', postId: 'p1', content: 'hello', status: 'approved' },
    });
    // The first process applies the decision but stops before its CommentUpdated is published.
    const firstStore = storeIn();
    const first = build({ history, store: firstStore });
    await first.consumer.start();
    first.updates.stop();
    firstStore.state.close();

    const second = build({ history, store: storeIn() });
    await second.consumer.start();
    expect(second.consumer.stats.applied).toBe(0);
    expect(await commentsOf(second.app, 'p1')).toEqual([{ id: 'c1', content: 'hello', status: 'approved' }]);
    second.updates.start();
    await eventually(() => expect(history.ofType('CommentUpdated')).toHaveLength(1));
    await settle();
    expect(history.ofType('CommentUpdated').map((e) => e.data)).toEqual([
      { id: 'c1', postId: 'p1', content: 'hello', status: 'approved' },
    ]);
  });
});

describe("comments: pages of a post's comments", () => {
  it('lists the newest comments a page at a time (?limit=, then the Link header), and refuses a bad cursor', async () => {
    const { app, bus } = await setup();
    await deliver(app, await bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Post' } }));
    for (const content of ['a', 'b', 'c', 'd', 'e'])
      await request(app).post('/posts/p1/comments').send({ content }).expect(201);
    const pages: string[][] = [];
    let path: string | undefined = '/posts/p1/comments?limit=2';
    while (path !== undefined) {
      const res: request.Response = await request(app).get(path).expect(200);
      pages.push((res.body as Comment[]).map(({ content }) => content));
      path = /<([^>]+)>; rel="next"/.exec(res.headers.link ?? '')?.[1];
    }
    expect(pages).toEqual([['d', 'e'], ['b', 'c'], ['a']]);
    expect((await commentsOf(app, 'p1')).map(({ content }) => content)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const bad = await request(app).get('/posts/p1/comments?before=soon').expect(400);
    expect((bad.body as { error: string }).error).toMatch(/before must be the cursor/);
  });
});
