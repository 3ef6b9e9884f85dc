import { eventsAuthorization, EVENT_TYPES, PUBLISHED_EVENT_TYPES, silentLogger } from '@blog/common';
import request from 'supertest';
import { createApp } from '../src/app';
import { Deliverer } from '../src/delivery/deliverer';
import { SoleLease } from '../src/file-storage/sole-lease';
import { MemoryEventLog } from '../src/testing';

const OPERATOR = 'the-operators-own-token';
const tokens = {
  posts: 'posts-token-of-24-chars',
  comments: 'comments-token-24-chars',
  moderation: 'moderation-token-24-char',
  query: 'query-token-of-24-chars',
};
const as = (token: string) => ({ authorization: eventsAuthorization(token) });

function bus() {
  const log = new MemoryEventLog();
  const app = createApp({
    log,
    subscribers: new Deliverer([], new SoleLease(), silentLogger()),
    logger: silentLogger(),
    eventsToken: OPERATOR,
    serviceTokens: tokens,
  });
  return { log, app };
}

const commentModerated = {
  type: 'CommentModerated',
  data: { id: 'c1', postId: 'p1', content: 'hi', status: 'approved' },
};
const postCreated = { type: 'PostCreated', data: { id: 'p1', title: 'Hello' } };

describe('each publisher publishes only its own event types, with its own token', () => {
  it('lists a publisher for every event type, and no type twice', () => {
    const listed: string[] = Object.values(PUBLISHED_EVENT_TYPES).flat();
    expect([...listed].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it("refuses posts' token publishing CommentModerated with 403 naming the type and the client, and stores nothing", async () => {
    const { app, log } = bus();
    const answer = await request(app)
      .post('/events')
      .set(as(tokens.posts))
      .send(commentModerated)
      .expect(403)
      .expect('content-type', /json/);
    expect(answer.body).toEqual({
      error: 'posts (POSTS_EVENTS_TOKEN) may not publish CommentModerated: it may publish only PostCreated',
      code: 'forbidden',
    });
    const batch = await request(app)
      .post('/events/batch')
      .set(as(tokens.posts))
      .send([postCreated, commentModerated])
      .expect(403);
    expect(batch.body).toEqual({
      error: expect.stringMatching(/^event at index 1: posts .* may not publish CommentModerated/),
      code: 'forbidden',
    });
    expect(log.lastSeq).toBe(0);
  });

  it("lets each service's token publish its own types", async () => {
    const { app } = bus();
    await request(app).post('/events').set(as(tokens.posts)).send(postCreated).expect(201);
    await request(app).post('/events').set(as(tokens.moderation)).send(commentModerated).expect(201);
    const comment = { id: 'c1', postId: 'p1', content: 'hi', status: 'pending' };
    await request(app)
      .post('/events/batch')
      .set(as(tokens.comments))
      .send([
        { type: 'CommentCreated', data: comment },
        { type: 'CommentUpdated', data: comment },
      ])
      .expect(201);
  });

  it("refuses query's token publishing anything, and lets it read the log", async () => {
    const { app } = bus();
    const answer = await request(app).post('/events').set(as(tokens.query)).send(postCreated).expect(403);
    expect(answer.body).toEqual({
      error: 'query (QUERY_EVENTS_TOKEN) may not publish PostCreated: it publishes no events',
      code: 'forbidden',
    });
    await request(app).post('/events').set(as(OPERATOR)).send(postCreated).expect(201);
    await request(app)
      .get('/events?after=0')
      .set(as(tokens.query))
      .expect(200)
      .expect(({ body }) => expect(body).toHaveLength(1));
  });

  it('refuses a service publishing a type outside the map; the shared EVENTS_TOKEN still publishes anything', async () => {
    const { app } = bus();
    await request(app).post('/events').set(as(tokens.comments)).send({ type: 'SomethingElse', data: {} }).expect(403);
    await request(app).post('/events').set(as(OPERATOR)).send(commentModerated).expect(201);
    await request(app).post('/events').set(as(OPERATOR)).send({ type: 'SomethingElse', data: {} }).expect(201);
  });

  it('refuses an unknown token or none with 401', async () => {
    const { app } = bus();
    await request(app)
      .post('/events')
      .set(as('a-token-nobody-was-given'))
      .send(postCreated)
      .expect(401, { error: 'unknown events token', code: 'unauthorized' });
    await request(app).get('/events').expect(401);
    await request(app).get('/snapshots/query/query-v1').expect(401);
  });

  it('keeps a service to its own snapshots', async () => {
    const { app } = bus();
    const answer = await request(app).get('/snapshots/posts/posts-v1').set(as(tokens.query)).expect(403);
    expect(answer.body).toEqual({
      error: 'query (QUERY_EVENTS_TOKEN) may not use the snapshots of posts, only its own',
      code: 'forbidden',
    });
  });
});

describe('a bus with no token at all (open intake, unsafe)', () => {
  it('takes any event from anyone', async () => {
    const app = createApp({
      log: new MemoryEventLog(),
      subscribers: new Deliverer([], new SoleLease(), silentLogger()),
      logger: silentLogger(),
    });
    await request(app).post('/events').send(commentModerated).expect(201);
  });
});
