import { BusUnconfirmedError, EventConsumer, idFromKey, silentLogger } from '@blog/common';
import { envelopeOf, InMemoryBus } from '@blog/common/testing';
import request from 'supertest';
import { createApp } from '../src/app';
import { postEventHandlers } from '../src/event-handlers';
import { PostStore } from '../src/store';

async function setup({ history = new InMemoryBus() } = {}) {
  const logger = silentLogger();
  const store = new PostStore();
  const consumer = new EventConsumer({ history, handlers: postEventHandlers(store), logger });
  const app = createApp({ store, bus: history, consumer, logger });
  await consumer.start();
  return { app, bus: history, consumer };
}

describe('posts', () => {
  it.each(['/posts/create', '/posts'])('POST %s creates a post and publishes PostCreated', async (path) => {
    const { app, bus } = await setup();
    const res = await request(app).post(path).send({ title: '  First post ' }).expect(201);
    expect(res.body).toEqual({ id: expect.any(String), title: 'First post' });
    expect(bus.ofType('PostCreated').map((e) => e.data)).toEqual([res.body]);
    const list = await request(app).get('/posts').expect(200);
    expect(list.body).toEqual({ [res.body.id]: res.body });
  });

  describe('Idempotency-Key', () => {
    const create = (app: Parameters<typeof request>[0], title: string, key: string) =>
      request(app).post('/posts/create').set('Idempotency-Key', key).send({ title });

    it('answers the same post to the same key and title, and publishes it once', async () => {
      const { app, bus } = await setup();
      const first = await create(app, 'Once', 'key-1').expect(201);
      const again = await create(app, 'Once', 'key-1').expect(201);
      expect(again.body).toEqual(first.body);
      const other = await create(app, 'Once', 'key-2').expect(201);
      expect(other.body.id).not.toBe(first.body.id);
      expect(bus.ofType('PostCreated').map((event) => event.data.id)).toEqual([first.body.id, other.body.id]);
    });

    it('creates one post for concurrent requests with one key: each waits for the one before, so the bus is asked once', async () => {
      const { app, bus } = await setup();
      const answers = await Promise.all([1, 2, 3].map(() => create(app, 'Concurrent', 'key-c')));
      expect(new Set(answers.map((answer) => `${answer.status} ${answer.body.id}`)).size).toBe(1);
      expect(bus.ofType('PostCreated')).toHaveLength(1);
      expect(bus.duplicates).toBe(0);
    });

    it('answers 201 and 422 to two concurrent creates with one key and two titles; the post is the one the bus stored', async () => {
      const { app, bus } = await setup();
      const answers = await Promise.all([create(app, 'Title A', 'key-ab'), create(app, 'Title B', 'key-ab')]);
      expect(answers.map(({ status }) => status).sort()).toEqual([201, 422]);
      const [stored] = bus.ofType('PostCreated');
      expect(answers.find(({ status }) => status === 201)?.body).toEqual(stored?.data);
      expect((await request(app).get('/posts')).body).toEqual({ [stored?.data.id as string]: stored?.data });
      expect(bus.ofType('PostCreated')).toHaveLength(1);
    });

    it('publishes first and reads no history on the way: a new key costs one publish', async () => {
      const { app, bus } = await setup();
      const reads = bus.reads;
      await create(app, 'Fresh', 'key-fresh').expect(201);
      expect(bus.reads).toBe(reads);
      expect(bus.events).toHaveLength(1);
    });

    describe('a key another replica used a moment ago (the bus holds it; this replica has not applied it yet)', () => {
      const storedElsewhere = async (bus: InMemoryBus, key: string, title: string) =>
        bus.publish(
          { type: 'PostCreated', data: { id: idFromKey('post', key), title } },
          { id: idFromKey('PostCreated', key) },
        );

      it('with another title: 422, and nothing of this request enters this replica', async () => {
        const { app, bus } = await setup();
        await storedElsewhere(bus, 'key-x', 'Stored title');
        const reads = bus.reads;
        const res = await create(app, 'My title', 'key-x').expect(422);
        expect(res.body.code).toBe('key_reused');
        expect(bus.reads).toBe(reads);
        expect(res.body.error).toMatch(/Idempotency-Key was already used with a different body/);
        expect((await request(app).get('/posts')).body).toEqual({});
        expect(bus.ofType('PostCreated')).toHaveLength(1);
      });

      it('with the same title: 201 with the post as stored, nothing stored again', async () => {
        const { app, bus } = await setup();
        const stored = await storedElsewhere(bus, 'key-y', 'Same title');
        const reads = bus.reads;
        const res = await create(app, 'Same title', 'key-y').expect(201);
        expect(bus.reads).toBe(reads);
        expect(res.body).toEqual(stored.data);
        expect((await request(app).get('/posts')).body).toEqual({ [stored.data.id]: stored.data });
        expect(bus.ofType('PostCreated')).toHaveLength(1);
      });
    });

    it('a key the bus has forgotten, whose post this replica has not applied yet: it catches up first, and the first in the log wins', async () => {
      const { app, bus } = await setup();
      bus.forgetsIds = true;
      const key = 'key-late';
      const first = await bus.publish(
        { type: 'PostCreated', data: { id: idFromKey('post', key), title: 'First in the log' } },
        { id: idFromKey('PostCreated', key) },
      );
      // The bus stores the key's event again (it forgot the id), says so (idsFrom), and this replica reads what it missed.
      const refused = await create(app, 'Second in the log', key).expect(422);
      expect(refused.body.error).toMatch(/Idempotency-Key was already used with a different body/);
      expect(bus.ofType('PostCreated')).toHaveLength(2);
      expect((await request(app).get('/posts')).body).toEqual({ [first.data.id]: first.data });
      expect((await create(app, 'First in the log', key).expect(201)).body).toEqual(first.data);
      const restarted = await setup({ history: bus });
      expect((await request(restarted.app).get('/posts')).body).toEqual({ [first.data.id]: first.data });
    });

    // A key older than the bus's memory of ids is known only to the state: it must hold the whole history.
    it('refuses a keyed create with 503 while it has not caught up with the history, and publishes nothing', async () => {
      const bus = new InMemoryBus();
      const logger = silentLogger();
      const store = new PostStore();
      const consumer = new EventConsumer({ history: bus, handlers: postEventHandlers(store), logger });
      const app = createApp({ store, bus, consumer, logger });
      const res = await create(app, 'Too early', 'key-early').expect(503);
      expect(res.body).toEqual({
        error: expect.stringMatching(/catching up with the event history/),
        code: 'unavailable',
      });
      expect(bus.events).toHaveLength(0);
    });

    it('refuses the same key with another title (422 JSON) and creates nothing', async () => {
      const { app, bus } = await setup();
      await create(app, 'First title', 'key-d').expect(201);
      const res = await create(app, 'Another title', 'key-d').expect(422);
      expect(res.body.error).toMatch(/Idempotency-Key was already used with a different body/);
      expect(bus.ofType('PostCreated')).toHaveLength(1);
    });

    it('answers the same post after a restart of posts, from the history', async () => {
      const history = new InMemoryBus();
      const first = await create((await setup({ history })).app, 'Before the restart', 'key-r').expect(201);
      const restarted = await setup({ history });
      const again = await create(restarted.app, 'Before the restart', 'key-r').expect(201);
      expect(again.body).toEqual(first.body);
      expect(history.ofType('PostCreated')).toHaveLength(1);
    });

    it.each([
      ['empty', ''],
      ['too long', 'k'.repeat(256)],
      ['not printable', 'tab\there'],
    ])('refuses an %s key with 400 JSON', async (_name, key) => {
      const { app, bus } = await setup();
      const res = await request(app).post('/posts/create').set('Idempotency-Key', key).send({ title: 'x' }).expect(400);
      expect(res.body).toEqual({
        error: expect.stringMatching(/Idempotency-Key must be 1 to 255 printable ASCII characters/),
        code: 'invalid_request',
      });
      expect(bus.events).toHaveLength(0);
    });
  });

  it('lists posts in creation order', async () => {
    const { app } = await setup();
    const titles = ['a', 'b', 'c'];
    for (const title of titles) await request(app).post('/posts/create').send({ title }).expect(201);
    const list = await request(app).get('/posts').expect(200);
    expect(Object.values(list.body as Record<string, { title: string }>).map((p) => p.title)).toEqual(titles);
  });

  it.each([
    ['missing title', {}],
    ['empty title', { title: '' }],
    ['blank title', { title: '   ' }],
    ['non-string title', { title: 42 }],
    ['too long title', { title: 'x'.repeat(201) }],
  ])('rejects %s with 400 JSON and publishes nothing', async (_name, body) => {
    const { app, bus } = await setup();
    const res = await request(app).post('/posts/create').send(body).expect(400);
    expect(res.body.error).toMatch(/title/);
    expect(bus.events).toHaveLength(0);
  });

  it('lists the newest posts a page at a time (?limit=, then the Link header), and refuses a bad limit', async () => {
    const { app } = await setup();
    for (const title of ['one', 'two', 'three']) await request(app).post('/posts').send({ title }).expect(201);
    const first = await request(app).get('/posts?limit=2').expect(200);
    expect(Object.values(first.body as Record<string, { title: string }>).map((post) => post.title)).toEqual([
      'two',
      'three',
    ]);
    const next = /<([^>]+)>; rel="next"/.exec(first.headers.link as string)?.[1];
    expect(next).toMatch(/^\/posts\?limit=2&before=\d+$/);
    const second = await request(app)
      .get(next as string)
      .expect(200);
    expect(Object.values(second.body as Record<string, { title: string }>).map((post) => post.title)).toEqual(['one']);
    expect(second.headers.link).toBeUndefined();
    const bad = await request(app).get('/posts?limit=5000').expect(400);
    expect((bad.body as { error: string }).error).toMatch(/limit must be a whole number from 1 to 1000/);
  });

  it('rejects a JSON array, a non-JSON body and malformed JSON with 400 JSON', async () => {
    const { app } = await setup();
    for (const req of [
      request(app)
        .post('/posts/create')
        .send([{ title: 'x' }]),
      request(app).post('/posts/create').set('content-type', 'text/plain').send('title=x'),
      request(app).post('/posts/create').set('content-type', 'application/json').send('{"title":'),
    ]) {
      const res = await req.expect(400);
      expect(res.body).toEqual({ error: expect.any(String), code: 'invalid_request' });
    }
  });

  it('answers 413 JSON for a body over the limit', async () => {
    const { app } = await setup();
    const res = await request(app)
      .post('/posts/create')
      .send({ title: 'x'.repeat(20_000) })
      .expect(413);
    expect(res.body).toEqual({ error: expect.stringMatching(/larger than/), code: 'payload_too_large' });
  });

  it('answers 503 and creates nothing when the bus is down', async () => {
    const { app, bus } = await setup();
    bus.down = true;
    const res = await request(app).post('/posts/create').send({ title: 'lost?' }).expect(503);
    expect(res.body).toEqual({ error: expect.stringMatching(/event bus unavailable/), code: 'unavailable' });
    bus.down = false;
    expect((await request(app).get('/posts')).body).toEqual({});
  });

  it('answers 503 outcome_unknown when the bus did not confirm the post', async () => {
    const { app, bus } = await setup();
    bus.publish = () => Promise.reject(new BusUnconfirmedError('timed out'));
    const res = await request(app).post('/posts/create').send({ title: 'made?' }).expect(503);
    expect(res.body).toEqual({
      error: expect.stringMatching(/may or may not have been made/),
      code: 'outcome_unknown',
    });
  });

  it('rebuilds its posts from the history at start, and is not ready before', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'From history' } });
    history.down = true;
    const logger = silentLogger();
    const store = new PostStore();
    const consumer = new EventConsumer({
      history,
      handlers: postEventHandlers(store),
      logger,
      backoff: { minDelayMs: 5, maxDelayMs: 5 },
    });
    const app = createApp({ store, bus: history, consumer, logger });
    const starting = consumer.start();
    await request(app).get('/readyz').expect(503);
    history.down = false;
    await starting;
    await request(app).get('/readyz').expect(200);
    expect((await request(app).get('/posts')).body).toEqual({ p1: { id: 'p1', title: 'From history' } });
  });

  it('applies a delivered PostCreated once, ignores unknown types, rejects malformed events', async () => {
    const { app } = await setup();
    const event = envelopeOf({ type: 'PostCreated', data: { id: 'p9', title: 'Elsewhere' } }, 1);
    await request(app).post('/events').send(event).expect(200);
    await request(app).post('/events').send(event).expect(200);
    await request(app)
      .post('/events')
      .send({ ...event, seq: 2, type: 'SomethingNew', data: { x: 1 } })
      .expect(200);
    const bad = await request(app)
      .post('/events')
      .send({ ...event, seq: 3, data: { id: 'p10' } })
      .expect(400);
    expect(bad.body.error).toMatch(/malformed event/);
    expect((await request(app).get('/posts')).body).toEqual({ p9: { id: 'p9', title: 'Elsewhere' } });
  });

  it('answers health, and 404 JSON for unknown routes', async () => {
    const { app } = await setup();
    await request(app).get('/healthz').expect(200, { status: 'ok' });
    const res = await request(app).get('/nope').expect(404);
    expect(res.body).toEqual({ error: 'no route for GET /nope', code: 'not_found' });
  });
});

describe('posts: a PostCreated that reuses a post id for another title', () => {
  it('keeps the first post of the log and rejects the later one, counted; the same title again is no contradiction', async () => {
    const history = new InMemoryBus();
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'First' } });
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'Taken over' } });
    await history.publish({ type: 'PostCreated', data: { id: 'p1', title: 'First' } });
    const { app, consumer } = await setup({ history });

    expect(consumer.stats).toMatchObject({ applied: 2, rejected: 1, skipped: 0 });
    expect((await request(app).get('/posts').expect(200)).body).toEqual({ p1: { id: 'p1', title: 'First' } });
  });
});
