import { EventConsumer, PAGES, ServiceMetrics, silentLogger, type PostsView } from '@blog/common';
import { envelopeOf, InMemoryBus } from '@blog/common/testing';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../src/app';
import { queryEventHandlers } from '../src/event-handlers';
import { ChangeFeed } from '../src/feed';
import { QueryStore } from '../src/store';

/** Wires the service like index.ts, without starting the catch-up. */
function build({ history = new InMemoryBus() } = {}) {
  const logger = silentLogger();
  const store = new QueryStore();
  const feed = new ChangeFeed();
  const handlers = queryEventHandlers(store, (change) => feed.publish(change));
  const consumer = new EventConsumer({ history, handlers, logger, backoff: { minDelayMs: 5, maxDelayMs: 5 } });
  const app = createApp({ store, feed, consumer, logger });
  return { app, bus: history, consumer };
}

async function setup({ history = new InMemoryBus() } = {}) {
  const service = build({ history });
  await service.consumer.start();
  return service;
}

/** Delivers an envelope the way the bus does (`POST /events`). */
async function deliver(app: Express, envelope: unknown): Promise<void> {
  await request(app)
    .post('/events')
    .send(envelope as object)
    .expect(200);
}

async function view(app: Express): Promise<PostsView> {
  const res = await request(app).get('/posts').expect(200);
  return res.body as PostsView;
}

const comment = (id: string, postId: string, content: string) => ({ id, postId, content, status: 'pending' as const });

describe('query: joining events into the posts view', () => {
  it('joins posts and their comments, in creation order, updating statuses in place', async () => {
    const { app } = await setup();
    const events = [
      envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'One' } }, 1),
      envelopeOf({ type: 'PostCreated', data: { id: 'p2', title: 'Two' } }, 2),
      envelopeOf({ type: 'CommentCreated', data: comment('c1', 'p1', 'first') }, 3),
      envelopeOf({ type: 'CommentCreated', data: comment('c2', 'p1', 'second') }, 4),
      envelopeOf({ type: 'CommentCreated', data: comment('c3', 'p2', 'other') }, 5),
      envelopeOf({ type: 'CommentUpdated', data: { ...comment('c1', 'p1', 'first'), status: 'approved' } }, 6),
      envelopeOf({ type: 'CommentUpdated', data: { ...comment('c3', 'p2', 'other'), status: 'rejected' } }, 7),
    ];
    for (const event of events) await deliver(app, event);

    const posts = await view(app);
    expect(posts).toEqual({
      p1: {
        id: 'p1',
        title: 'One',
        comments: [
          { id: 'c1', content: 'first', status: 'approved' },
          { id: 'c2', content: 'second', status: 'pending' },
        ],
      },
      p2: { id: 'p2', title: 'Two', comments: [{ id: 'c3', content: 'other', status: 'rejected' }] },
    });
    expect(Object.keys(posts)).toEqual(['p1', 'p2']);
  });

  it('starts empty', async () => {
    const { app } = await setup();
    expect(await view(app)).toEqual({});
  });

  it('ignores a duplicate delivery (same seq) instead of duplicating the comment', async () => {
    const { app, consumer } = await setup();
    const post = envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'One' } }, 1);
    const created = envelopeOf({ type: 'CommentCreated', data: comment('c1', 'p1', 'hi') }, 2);
    await deliver(app, post);
    await deliver(app, created);
    await deliver(app, created);
    await deliver(app, post);

    expect(consumer.stats.duplicates).toBe(2);
    expect(consumer.position).toBe(2);
    expect(await view(app)).toEqual({
      p1: { id: 'p1', title: 'One', comments: [{ id: 'c1', content: 'hi', status: 'pending' }] },
    });
  });

  it('does not duplicate a comment whose CommentCreated was published twice (new seq, same id)', async () => {
    const { app } = await setup();
    await deliver(app, envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'One' } }, 1));
    await deliver(app, envelopeOf({ type: 'CommentCreated', data: comment('c1', 'p1', 'hi') }, 2));
    await deliver(app, envelopeOf({ type: 'CommentCreated', data: comment('c1', 'p1', 'hi') }, 3));
    expect((await view(app)).p1?.comments).toEqual([{ id: 'c1', content: 'hi', status: 'pending' }]);
  });

  it('does not let a redelivered older CommentUpdated undo a newer one', async () => {
    const { app } = await setup();
    const base = comment('c1', 'p1', 'hi');
    const approved = envelopeOf({ type: 'CommentUpdated', data: { ...base, status: 'approved' } }, 3);
    await deliver(app, envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'One' } }, 1));
    await deliver(app, envelopeOf({ type: 'CommentCreated', data: base }, 2));
    await deliver(app, approved);
    await deliver(app, envelopeOf({ type: 'CommentUpdated', data: { ...base, status: 'rejected' } }, 4));
    await deliver(app, approved);
    expect((await view(app)).p1?.comments).toEqual([{ id: 'c1', content: 'hi', status: 'rejected' }]);
  });

  it('fills a gap from the history before applying an event past it', async () => {
    const { app, bus, consumer } = await setup();
    await bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'One' } });
    await bus.publish({ type: 'CommentCreated', data: comment('c1', 'p1', 'hi') });
    const [later] = bus.ofType('CommentCreated');

    const res = await request(app).post('/events').send(later).expect(200);
    expect(res.body).toEqual({ status: 'OK', position: 2 });
    expect(consumer.position).toBe(2);
    expect(await view(app)).toEqual({
      p1: { id: 'p1', title: 'One', comments: [{ id: 'c1', content: 'hi', status: 'pending' }] },
    });
  });

  it('ignores CommentModerated: the status changes only on CommentUpdated', async () => {
    const { app } = await setup();
    const base = comment('c1', 'p1', 'hi');
    await deliver(app, envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'One' } }, 1));
    await deliver(app, envelopeOf({ type: 'CommentCreated', data: base }, 2));
    await deliver(app, envelopeOf({ type: 'CommentModerated', data: { ...base, status: 'approved' } }, 3));
    expect((await view(app)).p1?.comments).toEqual([{ id: 'c1', content: 'hi', status: 'pending' }]);

    await deliver(app, envelopeOf({ type: 'CommentUpdated', data: { ...base, status: 'approved' } }, 4));
    expect((await view(app)).p1?.comments).toEqual([{ id: 'c1', content: 'hi', status: 'approved' }]);
  });

  it('acknowledges an unknown event type with 200 and ignores it', async () => {
    const { app, consumer } = await setup();
    await deliver(app, envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'One' } }, 1));
    const res = await request(app)
      .post('/events')
      .send({ id: 'e2', type: 'PostLiked', data: { postId: 'p1' }, seq: 2, time: new Date().toISOString() })
      .expect(200);
    expect(res.body).toEqual({ status: 'OK', position: 2 });
    expect(consumer.stats.skipped).toBe(0);
    // The next event follows without a gap.
    await deliver(app, envelopeOf({ type: 'PostCreated', data: { id: 'p2', title: 'Two' } }, 3));
    expect(await view(app)).toEqual({
      p1: { id: 'p1', title: 'One', comments: [] },
      p2: { id: 'p2', title: 'Two', comments: [] },
    });
  });

  it.each([
    [
      'a missing seq',
      (app: Express) =>
        request(app)
          .post('/events')
          .send({ id: 'e1', type: 'PostCreated', data: { id: 'p1', title: 'x' }, time: new Date().toISOString() }),
    ],
    [
      'a string seq',
      (app: Express) =>
        request(app)
          .post('/events')
          .send({ ...envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'x' } }, 1), seq: '1' }),
    ],
    [
      'invalid data of a known type',
      (app: Express) =>
        request(app)
          .post('/events')
          .send({ ...envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'x' } }, 1), data: { id: 'p1' } }),
    ],
    [
      'an array body',
      (app: Express) =>
        request(app)
          .post('/events')
          .send([envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'x' } }, 1)]),
    ],
    [
      'a JSON string',
      (app: Express) => request(app).post('/events').set('content-type', 'application/json').send('"PostCreated"'),
    ],
    [
      'a JSON number',
      (app: Express) => request(app).post('/events').set('content-type', 'application/json').send('42'),
    ],
    [
      'a non-JSON body',
      (app: Express) => request(app).post('/events').set('content-type', 'text/plain').send('PostCreated'),
    ],
    [
      'malformed JSON',
      (app: Express) => request(app).post('/events').set('content-type', 'application/json').send('{"seq":'),
    ],
  ])('rejects %s with 400 JSON and applies nothing', async (_name, send) => {
    const { app, consumer } = await setup();
    const res = await send(app).expect(400);
    expect(res.headers['content-type']).toMatch(/json/);
    expect(res.body).toEqual({ error: expect.any(String), code: 'invalid_request' });
    expect(consumer.position).toBe(0);
    expect(await view(app)).toEqual({});
  });
});

describe('query: catching up with the history', () => {
  it('rebuilds the view from the history at start, and is not ready before', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'One' } });
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'p1', 'hi') });
    await history.publish({ type: 'CommentUpdated', data: { ...comment('c1', 'p1', 'hi'), status: 'approved' } });
    history.down = true;
    const { app, consumer } = build({ history });
    const starting = consumer.start();

    await request(app).get('/readyz').expect(503);
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    history.down = false;
    await starting;

    await request(app).get('/readyz').expect(200, { status: 'ready' });
    expect(consumer.position).toBe(3);
    expect(await view(app)).toEqual({
      p1: { id: 'p1', title: 'One', comments: [{ id: 'c1', content: 'hi', status: 'approved' }] },
    });
  });

  it('buffers live events delivered during catch-up and applies them after the history', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'From history' } });
    history.down = true;
    const { app, consumer } = build({ history });
    const starting = consumer.start();

    // seq 2 is not in the history: only the buffer can bring it in.
    await deliver(app, envelopeOf({ type: 'CommentCreated', data: comment('c1', 'p1', 'live') }, 2));
    await deliver(app, envelopeOf({ type: 'PostCreated', data: { id: 'p2', title: 'Live' } }, 3));
    // Until caught up, the read model is incomplete: it is not served.
    const catchingUp = await request(app).get('/posts').expect(503);
    expect(catchingUp.body).toEqual({ error: expect.stringMatching(/catching up/), code: 'unavailable' });

    history.down = false;
    await starting;

    expect(consumer.position).toBe(3);
    const posts = await view(app);
    expect(posts).toEqual({
      p1: { id: 'p1', title: 'From history', comments: [{ id: 'c1', content: 'live', status: 'pending' }] },
      p2: { id: 'p2', title: 'Live', comments: [] },
    });
    expect(Object.keys(posts)).toEqual(['p1', 'p2']);
  });

  it('ignores a buffered live event that the history already held', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'One' } });
    const created = await history.publish({ type: 'CommentCreated', data: comment('c1', 'p1', 'hi') });
    history.down = true;
    const { app, consumer } = build({ history });
    const starting = consumer.start();
    await deliver(app, created);
    history.down = false;
    await starting;

    expect(consumer.stats.duplicates).toBe(1);
    expect((await view(app)).p1?.comments).toEqual([{ id: 'c1', content: 'hi', status: 'pending' }]);
  });

  it('rejects a CommentCreated for an unknown post and still applies later events', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'CommentCreated', data: comment('c0', 'ghost', 'orphan') });
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'One' } });
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'p1', 'hi') });
    const { app, consumer } = await setup({ history });

    expect(consumer.stats).toMatchObject({ rejected: 1, skipped: 0 });
    expect(consumer.position).toBe(3);
    expect(await view(app)).toEqual({
      p1: { id: 'p1', title: 'One', comments: [{ id: 'c1', content: 'hi', status: 'pending' }] },
    });

    // Later live events still apply.
    await deliver(
      app,
      envelopeOf({ type: 'CommentUpdated', data: { ...comment('c1', 'p1', 'hi'), status: 'approved' } }, 4),
    );
    expect((await view(app)).p1?.comments).toEqual([{ id: 'c1', content: 'hi', status: 'approved' }]);
  });

  it('rejects a CommentUpdated for an unknown comment', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'One' } });
    await history.publish({ type: 'CommentUpdated', data: { ...comment('cX', 'p1', 'nope'), status: 'approved' } });
    const { app, consumer } = await setup({ history });
    expect(consumer.stats).toMatchObject({ rejected: 1, skipped: 0 });
    expect(await view(app)).toEqual({ p1: { id: 'p1', title: 'One', comments: [] } });
  });

  it('skips an invalid item in the history without stopping the replay', async () => {
    const history = new InMemoryBus();
    history.append({ type: 'PostCreated', data: { id: 'bad' } });
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'One' } });
    history.append({ type: 'CommentCreated', data: { id: 'c0', postId: 'p1', content: '', status: 'pending' } });
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'p1', 'hi') });
    const { app, consumer } = await setup({ history });

    expect(consumer.stats.skipped).toBe(2);
    expect(consumer.position).toBe(4);
    expect(await view(app)).toEqual({
      p1: { id: 'p1', title: 'One', comments: [{ id: 'c1', content: 'hi', status: 'pending' }] },
    });
  });

  it('skips an invalid item in the history while filling a gap', async () => {
    const { app, bus, consumer } = await setup();
    await bus.publish({ type: 'PostCreated', data: { id: 'p1', title: 'One' } });
    bus.append({ type: 'PostCreated', data: { title: 'no id' } });
    const later = await bus.publish({ type: 'PostCreated', data: { id: 'p2', title: 'Two' } });
    await deliver(app, later);
    expect(consumer.stats.skipped).toBe(1);
    expect(Object.keys(await view(app))).toEqual(['p1', 'p2']);
  });
});

describe('query: events that contradict the view are rejected and counted', () => {
  async function setupWithMetrics(history: InMemoryBus) {
    const metrics = new ServiceMetrics();
    const store = new QueryStore();
    const feed = new ChangeFeed();
    const logger = silentLogger();
    const consumer = new EventConsumer({
      history,
      state: store.state,
      handlers: queryEventHandlers(store, (change) => feed.publish(change)),
      logger,
      metrics,
    });
    await consumer.start();
    return { app: createApp({ store, feed, consumer, logger, metrics }), consumer, metrics };
  }

  async function rejectedCount(metrics: ServiceMetrics, type: string, reason: string): Promise<number> {
    const { values } = await metrics.eventsRejected.get();
    return values.find(({ labels }) => labels.type === type && labels.reason === reason)?.value ?? 0;
  }

  async function twoPostsAndAComment(): Promise<InMemoryBus> {
    const history = new InMemoryBus();
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'One' } });
    await history.publish({ type: 'PostCreated', data: { id: 'p2', title: 'Two' } });
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'p1', 'hello') });
    return history;
  }

  it("ignores a CommentUpdated that names another post than its comment's", async () => {
    const history = await twoPostsAndAComment();
    const { app, consumer, metrics } = await setupWithMetrics(history);
    await deliver(
      app,
      await history.publish({ type: 'CommentUpdated', data: { ...comment('c1', 'p2', 'hello'), status: 'approved' } }),
    );

    const shown = await view(app);
    expect(shown.p1?.comments).toEqual([{ id: 'c1', content: 'hello', status: 'pending' }]);
    expect(shown.p2?.comments).toEqual([]);
    expect(consumer.stats).toMatchObject({ rejected: 1, skipped: 0 });
    expect(await rejectedCount(metrics, 'CommentUpdated', 'other-post')).toBe(1);
  });

  it('ignores a CommentUpdated that changes the content of its comment', async () => {
    const history = await twoPostsAndAComment();
    const { app, metrics } = await setupWithMetrics(history);
    await deliver(
      app,
      await history.publish({
        type: 'CommentUpdated',
        data: { ...comment('c1', 'p1', 'rewritten'), status: 'approved' },
      }),
    );
    expect((await view(app)).p1?.comments).toEqual([{ id: 'c1', content: 'hello', status: 'pending' }]);
    expect(await rejectedCount(metrics, 'CommentUpdated', 'other-content')).toBe(1);
  });

  it('ignores a CommentCreated for a post that does not exist', async () => {
    const history = await twoPostsAndAComment();
    const { app, metrics } = await setupWithMetrics(history);
    await deliver(app, await history.publish({ type: 'CommentCreated', data: comment('c2', 'ghost', 'orphan') }));
    expect(Object.keys(await view(app))).toEqual(['p1', 'p2']);
    expect(await rejectedCount(metrics, 'CommentCreated', 'unknown-post')).toBe(1);
  });

  it('keeps the first post and comment of a reused id and ignores the later body, but not a repeat of the same body', async () => {
    const history = await twoPostsAndAComment();
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Taken over' } });
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'p2', 'moved') });
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'p1', 'hello') });
    const { app, consumer, metrics } = await setupWithMetrics(history);

    const shown = await view(app);
    expect(shown.p1).toEqual({ id: 'p1', title: 'One', comments: [{ id: 'c1', content: 'hello', status: 'pending' }] });
    expect(shown.p2?.comments).toEqual([]);
    expect(consumer.stats).toMatchObject({ rejected: 2, skipped: 0 });
    expect(await rejectedCount(metrics, 'PostCreated', 'id-reused')).toBe(1);
    expect(await rejectedCount(metrics, 'CommentCreated', 'id-reused')).toBe(1);
  });
});

describe('query: routes', () => {
  it('answers health, and 404 JSON for unknown routes', async () => {
    const { app } = await setup();
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    await request(app).get('/readyz').expect(200);
    const res = await request(app).post('/posts').send({ title: 'x' }).expect(404);
    expect(res.body).toEqual({ error: 'no route for POST /posts', code: 'not_found' });
  });
});

describe('query: pages of the view', () => {
  /** A history of `count` posts p1…p<count>, applied at start. */
  async function withPosts(count: number, more: (bus: InMemoryBus) => Promise<void> = () => Promise.resolve()) {
    const history = new InMemoryBus();
    for (let i = 1; i <= count; i++)
      await history.publish({ type: 'PostCreated', data: { id: `p${i}`, title: `Post ${i}` } });
    await more(history);
    return setup({ history });
  }
  const seqOf = (bus: InMemoryBus, postId: string) =>
    (bus.events as { seq: number; type: string; data: { id: string } }[]).find(
      (e) => e.type === 'PostCreated' && e.data.id === postId,
    )?.seq;

  it(`answers the newest ${PAGES.defaultLimit} posts in creation order, and where the older ones are`, async () => {
    const { app, bus } = await withPosts(PAGES.defaultLimit + 3);
    const first = await request(app).get('/posts').expect(200);
    const ids = Object.keys(first.body as PostsView);
    expect(ids).toHaveLength(PAGES.defaultLimit);
    expect(ids[0]).toBe('p4');
    expect(ids.at(-1)).toBe(`p${PAGES.defaultLimit + 3}`);
    expect(first.headers.link).toBe(`</posts?limit=${PAGES.defaultLimit}&before=${seqOf(bus, 'p4')}>; rel="next"`);

    const next = await request(app)
      .get(/<([^>]+)>/.exec(first.headers.link as string)?.[1] ?? '')
      .expect(200);
    expect(Object.keys(next.body as PostsView)).toEqual(['p1', 'p2', 'p3']);
    expect(next.headers.link).toBeUndefined();
  });

  it('pages by ?limit= and ?before=, until the oldest post', async () => {
    const { app } = await withPosts(5);
    const seen: string[][] = [];
    let path: string | undefined = '/posts?limit=2';
    while (path !== undefined) {
      const res: request.Response = await request(app).get(path).expect(200);
      seen.push(Object.keys(res.body as PostsView));
      path = /<([^>]+)>; rel="next"/.exec(res.headers.link ?? '')?.[1];
    }
    expect(seen).toEqual([['p4', 'p5'], ['p2', 'p3'], ['p1']]);
  });

  it.each([
    ['limit=0', /limit must be a whole number from 1 to 1000/],
    [`limit=${PAGES.maxLimit + 1}`, /limit must be a whole number from 1 to 1000/],
    ['limit=-1', /limit/],
    ['limit=1.5', /limit/],
    ['limit=ten', /limit/],
    ['limit=1&limit=2', /limit must be given once/],
    ['before=0', /before must be the cursor a Link header names/],
    ['before=abc', /before must be the cursor a Link header names/],
    ['before=99999999999999999999', /before/],
  ])('refuses ?%s with a 400 naming it', async (query, message) => {
    const { app } = await withPosts(1);
    const res = await request(app).get(`/posts?${query}`).expect(400).expect('content-type', /json/);
    expect(res.body).toEqual({ error: expect.stringMatching(message), code: 'invalid_request' });
  });

  it(`shows each post's newest ${PAGES.commentsPerPost} comments, and where its older ones are`, async () => {
    const { app, bus } = await withPosts(2, async (history) => {
      for (let i = 1; i <= PAGES.commentsPerPost + 1; i++)
        await history.publish({ type: 'CommentCreated', data: comment(`c${i}`, 'p1', `comment ${i}`) });
      for (let i = 1; i <= PAGES.commentsPerPost; i++)
        await history.publish({ type: 'CommentCreated', data: comment(`d${i}`, 'p2', `comment ${i}`) });
    });
    const posts = await view(app);
    expect(posts.p1?.comments).toHaveLength(PAGES.commentsPerPost);
    expect(posts.p1?.comments[0]?.id).toBe('c2');
    const oldestShown = (bus.events as { seq: number; data: { id: string } }[]).find((e) => e.data.id === 'c2')?.seq;
    expect(posts.p1?.olderComments).toBe(`/posts/p1/comments?limit=${PAGES.commentsPerPost}&before=${oldestShown}`);
    expect(posts.p2?.comments).toHaveLength(PAGES.commentsPerPost);
    expect(posts.p2).not.toHaveProperty('olderComments');
  });
});
