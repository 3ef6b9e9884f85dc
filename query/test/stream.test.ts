import type { Server } from 'node:http';
import { EventConsumer, listen, PAGES, silentLogger, type Envelope } from '@blog/common';
import { envelopeOf, InMemoryBus, settle } from '@blog/common/testing';
import { eventually } from '@blog/testkit';
import request from 'supertest';
import { createApp } from '../src/app';
import { queryEventHandlers } from '../src/event-handlers';
import { ChangeFeed, type ChangeFeedOptions } from '../src/feed';
import { QueryStore } from '../src/store';

interface Message {
  id?: string;
  event?: string;
  data: string;
}

/** An open `GET /posts/stream`: the messages received so far, parsed. */
interface OpenStream {
  messages: Message[];
  close: () => void;
}

const servers: Server[] = [];
const streams: OpenStream[] = [];

afterEach(async () => {
  streams.splice(0).forEach((stream) => stream.close());
  await Promise.all(
    servers
      .splice(0)
      .map((server) => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve())))),
  );
});

async function setup(feedOptions: ChangeFeedOptions = {}) {
  const logger = silentLogger();
  const history = new InMemoryBus();
  const store = new QueryStore();
  const feed = new ChangeFeed(feedOptions);
  const consumer = new EventConsumer({
    history,
    handlers: queryEventHandlers(store, (change) => feed.publish(change)),
    logger,
  });
  await consumer.start();
  const app = createApp({ store, feed, consumer, logger });
  const { server, port } = await listen(app, 0, '127.0.0.1');
  servers.push(server);
  let seq = 0;
  /** Delivers an event the way the bus does, with the next seq. */
  const deliver = async (event: Parameters<typeof envelopeOf>[0]): Promise<Envelope> => {
    const envelope = envelopeOf(event, ++seq);
    await request(app).post('/events').send(envelope).expect(200);
    return envelope;
  };
  return { url: `http://127.0.0.1:${port}`, app, feed, deliver };
}

async function openStream(url: string, headers: Record<string, string> = {}): Promise<OpenStream> {
  const controller = new AbortController();
  const response = await fetch(`${url}/posts/stream`, { headers, signal: controller.signal });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const stream: OpenStream = { messages: [], close: () => controller.abort() };
  streams.push(stream);
  void (async () => {
    const decoder = new TextDecoder();
    let text = '';
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        text += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = text.indexOf('\n\n')) !== -1) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const message: Message = { data: '' };
          for (const line of block.split('\n')) {
            const [field, ...rest] = line.split(': ');
            if (field === 'id' || field === 'event' || field === 'data') message[field] = rest.join(': ');
          }
          if (message.event !== undefined) stream.messages.push(message);
        }
      }
    } catch {
      // aborted by close()
    }
  })();
  return stream;
}

const post = (id: string) => ({ type: 'PostCreated' as const, data: { id, title: `title ${id}` } });
const comment = (id: string, postId: string, status: 'pending' | 'approved' | 'rejected') => ({
  id,
  postId,
  content: `about ${postId}`,
  status,
});

describe('query: the live stream (GET /posts/stream)', () => {
  it('sends a snapshot, then every change as it is applied, with seqs as ids', async () => {
    const { url, deliver } = await setup();
    await deliver(post('p1'));
    const stream = await openStream(url);
    await eventually(() => expect(stream.messages).toHaveLength(1));
    expect(stream.messages[0]).toEqual({ id: '1', event: 'snapshot', data: expect.any(String) });
    expect(JSON.parse(stream.messages[0]!.data)).toEqual({ p1: { id: 'p1', title: 'title p1', comments: [] } });

    await deliver(post('p2'));
    await deliver({ type: 'CommentCreated', data: comment('c1', 'p2', 'pending') });
    await deliver({ type: 'CommentModerated', data: comment('c1', 'p2', 'rejected') });
    await deliver({ type: 'CommentUpdated', data: comment('c1', 'p2', 'rejected') });
    await eventually(() => expect(stream.messages).toHaveLength(4));
    expect(stream.messages.slice(1).map(({ id, event }) => [id, event])).toEqual([
      ['2', 'PostCreated'],
      ['3', 'CommentCreated'],
      // seq 4, CommentModerated, changes nothing the view shows
      ['5', 'CommentUpdated'],
    ]);
    expect(JSON.parse(stream.messages[3]!.data)).toEqual(comment('c1', 'p2', 'rejected'));
  });

  it('sends a named ping event the page can see, saying how often, without an id (Last-Event-ID stays the last change)', async () => {
    const { url, deliver } = await setup({ pingIntervalMs: 50 });
    await deliver(post('p1'));
    const stream = await openStream(url);
    await eventually(() =>
      expect(stream.messages.filter(({ event }) => event === 'ping').length).toBeGreaterThanOrEqual(2),
    );
    const ping = stream.messages.find(({ event }) => event === 'ping');
    expect(ping).toEqual({ event: 'ping', data: JSON.stringify({ everyMs: 50 }) });
  });

  it('sends each change once when a page of the history is applied again after a handler failed in it', async () => {
    const logger = silentLogger();
    const history = new InMemoryBus();
    const store = new QueryStore();
    const feed = new ChangeFeed();
    const consumer = new EventConsumer({
      history,
      state: store.state,
      handlers: queryEventHandlers(store, (change) => feed.publish(change)),
      logger,
    });
    await consumer.start();
    const { server, port } = await listen(createApp({ store, feed, consumer, logger }), 0, '127.0.0.1');
    servers.push(server);
    const stream = await openStream(`http://127.0.0.1:${port}`);
    await eventually(() => expect(stream.messages).toHaveLength(1));

    await history.publish(post('p1'));
    // A comment of a post query never saw: rejected, after p1's change was sent.
    await history.publish({ type: 'CommentCreated', data: comment('c1', 'unknown', 'pending') });
    await history.publish(post('p2'));
    await consumer.sync();
    expect(consumer.stats).toMatchObject({ applied: 2, rejected: 1 });
    await eventually(() =>
      expect(stream.messages.map(({ id, event }) => [id, event])).toEqual([
        ['0', 'snapshot'],
        ['1', 'PostCreated'],
        ['3', 'PostCreated'],
      ]),
    );
    await settle();
    expect(stream.messages).toHaveLength(3);
  });

  it(`sends the first page of the view as its snapshot (the newest ${PAGES.defaultLimit} posts), then where the older ones are`, async () => {
    const { url, deliver } = await setup();
    for (let i = 1; i <= PAGES.defaultLimit + 2; i++) await deliver(post(`p${i}`));
    const stream = await openStream(url);
    await eventually(() => expect(stream.messages).toHaveLength(2));
    const snapshot = Object.keys(JSON.parse(stream.messages[0]!.data) as object);
    expect(snapshot).toHaveLength(PAGES.defaultLimit);
    expect(snapshot[0]).toBe('p3');
    // Then where the older posts are: the post p3 was made by the event of seq 3.
    expect(stream.messages[1]).toEqual({
      event: 'older-posts',
      data: JSON.stringify(`/posts?limit=${PAGES.defaultLimit}&before=3`),
    });
  });

  it('sends a snapshot to a subscriber resuming from before the position the view was resumed at (its state on disk)', async () => {
    const { url, deliver } = await setup({ heldAfter: 2 });
    for (const id of ['p1', 'p2', 'p3']) await deliver(post(id));
    const resumed = await openStream(url, { 'last-event-id': '1' });
    await eventually(() => expect(resumed.messages.map((m) => m.event)).toEqual(['snapshot']));
    const fromThere = await openStream(url, { 'last-event-id': '2' });
    await eventually(() => expect(fromThere.messages.map((m) => [m.id, m.event])).toEqual([['3', 'PostCreated']]));
  });

  it('sends the same change to every open stream', async () => {
    const { url, deliver } = await setup();
    const streams = await Promise.all([openStream(url), openStream(url)]);
    await deliver(post('p1'));
    for (const stream of streams) {
      await eventually(() => expect(stream.messages.map((m) => m.event)).toEqual(['snapshot', 'PostCreated']));
    }
  });

  it('resumes after Last-Event-ID with exactly the changes missed: no gap, no duplicate', async () => {
    const { url, deliver } = await setup();
    await deliver(post('p1'));
    await deliver(post('p2'));
    await deliver(post('p3'));
    const resumed = await openStream(url, { 'last-event-id': '1' });
    await eventually(() => expect(resumed.messages.map((m) => m.id)).toEqual(['2', '3']));
    expect(resumed.messages.every((m) => m.event === 'PostCreated')).toBe(true);
    await deliver(post('p4'));
    await eventually(() => expect(resumed.messages.map((m) => m.id)).toEqual(['2', '3', '4']));
  });

  it('sends a snapshot instead when the changes after Last-Event-ID are no longer held, or the id is unusable', async () => {
    const { url, deliver } = await setup({ capacity: 2 });
    for (let i = 1; i <= 6; i++) await deliver(post(`p${i}`));
    for (const lastId of ['1', '99', 'abc']) {
      const stream = await openStream(url, { 'last-event-id': lastId });
      await eventually(() => expect(stream.messages).toHaveLength(1));
      expect(stream.messages[0]).toMatchObject({ id: '6', event: 'snapshot' });
      expect(Object.keys(JSON.parse(stream.messages[0]!.data) as object)).toHaveLength(6);
    }
  });

  it('ends every stream when the feed closes (the service shutting down)', async () => {
    const { url, feed } = await setup();
    await openStream(url);
    await eventually(() => expect(feed.subscriberCount).toBe(1));
    feed.close();
    expect(feed.subscriberCount).toBe(0);
  });

  it('forgets a subscriber that disconnects', async () => {
    const { url, feed } = await setup();
    const stream = await openStream(url);
    await eventually(() => expect(feed.subscriberCount).toBe(1));
    stream.close();
    await eventually(() => expect(feed.subscriberCount).toBe(0));
  });
});
