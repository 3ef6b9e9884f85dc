import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { observeQuery } from '../src/observe';
import { waitFor as waitForCondition } from '@blog/testkit';

const PREFIX = 'bench-test ';

interface FakeQuery {
  url: string;
  /** Every stream request's Last-Event-ID header (undefined when absent). */
  streamRequests: (string | undefined)[];
  close: () => Promise<void>;
}

/** A query service stand-in: `routes` answers each request; the open streams are ended on close. */
async function fakeQuery(
  route: (req: http.IncomingMessage, res: http.ServerResponse, fake: FakeQuery) => void,
): Promise<FakeQuery> {
  const open = new Set<http.ServerResponse>();
  const fake: FakeQuery = { url: '', streamRequests: [], close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    if (req.url === '/posts/stream') fake.streamRequests.push(req.headers['last-event-id'] as string | undefined);
    route(req, res, fake);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.close = async () => {
    for (const res of open) res.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return fake;
}

const sse = (id: number, event: string, data: unknown) =>
  `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** Resolves once `condition` holds; fails the test after 3 s. */
const waitFor = (condition: () => boolean) =>
  waitForCondition(condition, { what: 'the observer to see it', timeoutMs: 3_000, intervalMs: 5 });

describe('observeQuery on a target with the live feed', () => {
  let fake: FakeQuery;
  let stream: http.ServerResponse | undefined;
  beforeEach(async () => {
    stream = undefined;
    fake = await fakeQuery((req, res) => {
      if (req.url !== '/posts/stream') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      const view = {
        p1: {
          id: 'p1',
          title: `${PREFIX}old`,
          comments: [{ id: 'c0', content: `${PREFIX}old comment`, status: 'approved' }],
        },
      };
      res.write(`retry: 1000\n\n${sse(4, 'snapshot', view)}`);
      stream = res;
    });
  });
  afterEach(() => fake.close());

  it('records the snapshot, then each change when its chunk arrives, even split mid-message', async () => {
    const observer = await observeQuery(fake.url, PREFIX);
    try {
      expect(observer.method).toBe('stream');
      expect(observer.sightings.posts.get(`${PREFIX}old`)?.id).toBe('p1');
      expect(observer.sightings.comments.get(`${PREFIX}old comment`)?.status).toBe('approved');

      const before = performance.now();
      const text =
        sse(5, 'PostCreated', { id: 'p2', title: `${PREFIX}new` }) +
        ': ping\n\n' +
        sse(6, 'PostCreated', { id: 'x', title: 'someone else' }) +
        sse(7, 'CommentCreated', { id: 'c1', postId: 'p2', content: `${PREFIX}c`, status: 'pending' });
      stream?.write(text.slice(0, 20));
      await new Promise((resolve) => setTimeout(resolve, 30));
      stream?.write(text.slice(20));
      await waitFor(() => observer.sightings.comments.has(`${PREFIX}c`));
      const post = observer.sightings.posts.get(`${PREFIX}new`);
      expect(post?.id).toBe('p2');
      // The post's message was completed by the second chunk: stamped then, not at the first.
      expect(post?.at).toBeGreaterThan(before + 25);
      expect(observer.sightings.posts.has('someone else')).toBe(false);

      stream?.write(sse(8, 'CommentUpdated', { id: 'c1', postId: 'p2', content: `${PREFIX}c`, status: 'rejected' }));
      await waitFor(() => observer.sightings.comments.get(`${PREFIX}c`)?.status === 'rejected');
      const comment = observer.sightings.comments.get(`${PREFIX}c`);
      expect(comment?.firstAt.pending).toBeLessThanOrEqual(comment?.firstAt.rejected ?? -1);
      expect(observer.problems).toEqual([]);
      expect(observer.resolution().method).toBe('stream');
    } finally {
      await observer.close();
    }
  });

  it('notices a title shown under two ids (a create applied twice)', async () => {
    const observer = await observeQuery(fake.url, PREFIX);
    try {
      stream?.write(sse(5, 'PostCreated', { id: 'p9', title: `${PREFIX}old` }));
      await waitFor(() => observer.sightings.duplicates.size === 1);
      expect(observer.sightings.posts.get(`${PREFIX}old`)?.id).toBe('p1');
    } finally {
      await observer.close();
    }
  });
});

describe('observeQuery when the stream drops', () => {
  it('resumes with Last-Event-ID and counts the reconnection', async () => {
    const fake = await fakeQuery((req, res, self) => {
      if (req.url !== '/posts/stream') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (self.streamRequests.length === 1) {
        res.end(sse(10, 'snapshot', {}));
      } else {
        res.write(sse(11, 'PostCreated', { id: 'p', title: `${PREFIX}after the drop` }));
      }
    });
    const observer = await observeQuery(fake.url, PREFIX);
    try {
      await waitFor(() => observer.sightings.posts.has(`${PREFIX}after the drop`));
      expect(fake.streamRequests).toEqual([undefined, '10']);
      expect(observer.problems).toEqual([]);
      expect(observer.resolution().description).toMatch(/resumed 1 time/);
    } finally {
      await observer.close();
      await fake.close();
    }
  });
});

describe('observeQuery on a target without the live feed', () => {
  it('falls back to polling GET /posts and reports the poll round trip as the resolution', async () => {
    const view: Record<string, unknown> = {};
    let polls = 0;
    const fake = await fakeQuery((req, res) => {
      if (req.url === '/posts') {
        polls++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(view));
      } else {
        res.writeHead(404, { 'content-type': 'text/html' }).end('<pre>Cannot GET</pre>');
      }
    });
    const observer = await observeQuery(fake.url, PREFIX);
    try {
      expect(observer.method).toBe('poll');
      view.a = { id: 'a', title: `${PREFIX}polled`, comments: [{ id: 'k', content: `${PREFIX}k`, status: 'pending' }] };
      await waitFor(() => observer.sightings.posts.has(`${PREFIX}polled`));
      expect(observer.sightings.comments.get(`${PREFIX}k`)?.status).toBe('pending');
      const resolution = observer.resolution();
      if (resolution.method !== 'poll') throw new Error('expected the poll method');
      expect(resolution.fallbackReason).toMatch(/404/);
      expect(resolution.pollRoundTripMs.count).toBeGreaterThan(1);
      expect(resolution.pollRoundTripMs.p50).toBeGreaterThan(0);
    } finally {
      await observer.close();
      await fake.close();
    }
    // Closed means no more polls.
    const after = polls;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(polls).toBe(after);
  });
});
