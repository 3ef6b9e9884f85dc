import { generateKeyPairSync } from 'node:crypto';
import {
  DELIVERY_SIGNATURE_HEADER,
  eventsAuthorization,
  EventConsumer,
  signDelivery,
  silentLogger,
  type PostsView,
} from '@blog/common';
import { envelopeOf, InMemoryBus } from '@blog/common/testing';
import type { Express } from 'express';
import request from 'supertest';
import { createApp } from '../src/app';
import { queryEventHandlers } from '../src/event-handlers';
import { ChangeFeed } from '../src/feed';
import { QueryStore } from '../src/store';

const busKeys = generateKeyPairSync('ed25519');
const otherKeys = generateKeyPairSync('ed25519');
const QUERY_TOKEN = 'the-token-query-reads-with';

/** Query as index.ts wires it with DELIVERY_PUBLIC_KEY set, caught up with `history`. */
async function signedQuery(history = new InMemoryBus()) {
  const logger = silentLogger();
  const store = new QueryStore();
  const feed = new ChangeFeed();
  const consumer = new EventConsumer({
    history,
    handlers: queryEventHandlers(store, (change) => feed.publish(change)),
    logger,
  });
  const app = createApp({ store, feed, consumer, logger, eventsToken: QUERY_TOKEN, deliveryKey: busKeys.publicKey });
  await consumer.start();
  return { app, history, consumer };
}

/** A delivery as the bus sends it: the exact body, with the signature of those bytes. */
function deliver(app: Express, path: '/events' | '/events/batch', body: unknown, signingKey = busKeys.privateKey) {
  const json = JSON.stringify(body);
  return request(app)
    .post(path)
    .set('content-type', 'application/json')
    .set(DELIVERY_SIGNATURE_HEADER, signDelivery(json, signingKey))
    .send(json);
}

async function titles(app: Express): Promise<string[]> {
  const { body } = await request(app).get('/posts').expect(200);
  return Object.values(body as PostsView)
    .map((post) => post.title)
    .sort();
}

const post = (id: string, title: string, seq: number) => envelopeOf({ type: 'PostCreated', data: { id, title } }, seq);

describe('query applies only deliveries the bus signed (DELIVERY_PUBLIC_KEY)', () => {
  it('refuses with 401 a forged envelope at the next seq sent with an events token, and then applies the real event at that seq', async () => {
    const history = new InMemoryBus();
    history.append({ type: 'PostCreated', data: { id: 'p1', title: 'real first' } });
    const { app } = await signedQuery(history);
    const forged = post('fake', 'a post that does not exist', 2);

    const refused = await request(app)
      .post('/events')
      .set('authorization', eventsAuthorization(QUERY_TOKEN))
      .send(forged)
      .expect(401)
      .expect('content-type', /json/);
    expect(refused.body).toEqual({ error: expect.stringContaining(DELIVERY_SIGNATURE_HEADER), code: 'unauthorized' });
    await request(app)
      .post('/events/batch')
      .set('authorization', eventsAuthorization(QUERY_TOKEN))
      .send([forged])
      .expect(401);

    const real = history.append({ type: 'PostCreated', data: { id: 'p2', title: 'real second' } });
    await deliver(app, '/events', real).expect(200, { status: 'OK', position: 2 });
    expect(await titles(app)).toEqual(['real first', 'real second']);
  });

  it('refuses a batch signed with another key, or whose body is not the one signed, and applies nothing', async () => {
    const { app, consumer } = await signedQuery();
    const batch = [post('p1', 'one', 1)];
    const answer = await deliver(app, '/events/batch', batch, otherKeys.privateKey).expect(401);
    expect(answer.body).toEqual({ error: expect.stringMatching(/signature does not match/), code: 'unauthorized' });

    const signature = signDelivery(JSON.stringify(batch), busKeys.privateKey);
    const altered = JSON.stringify([post('p1', 'changed on the way', 1)]);
    await request(app)
      .post('/events/batch')
      .set('content-type', 'application/json')
      .set(DELIVERY_SIGNATURE_HEADER, signature)
      .send(altered)
      .expect(401);
    await request(app)
      .post('/events/batch')
      .set('content-type', 'application/json')
      .set(DELIVERY_SIGNATURE_HEADER, 'not base64!')
      .send(altered)
      .expect(401);
    expect(consumer.position).toBe(0);
    expect(await titles(app)).toEqual([]);
  });

  it("applies a signed batch, and a replay of it changes nothing (its events are the bus's own, already applied)", async () => {
    const { app, consumer } = await signedQuery();
    const batch = [post('p1', 'one', 1), post('p2', 'two', 2)];
    await deliver(app, '/events/batch', batch).expect(200, { status: 'OK', position: 2 });
    await deliver(app, '/events/batch', batch).expect(200, { status: 'OK', position: 2 });
    expect(consumer.stats).toMatchObject({ applied: 2, duplicates: 2 });
    expect(await titles(app)).toEqual(['one', 'two']);
  });

  it('answers a signed delivery with a non-JSON body 400, and still refuses an unsigned one before reading it', async () => {
    const { app } = await signedQuery();
    await request(app)
      .post('/events')
      .set('content-type', 'text/plain')
      .set(DELIVERY_SIGNATURE_HEADER, signDelivery('x', busKeys.privateKey))
      .send('x')
      .expect(400);
    await request(app).post('/events').set('content-type', 'application/json').send('x'.repeat(100_000)).expect(401);
  });
});
