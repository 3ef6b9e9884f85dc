/**
 * The trust boundaries on the blog scaled out (`npm run test:cluster`): every replica reads the log itself,
 * yet still takes no envelope the bus did not sign, and each bus replica holds each publisher to its own
 * event types.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventsHeaders } from '@blog/common';
import { http, startNatsCluster, startReplicatedStack, waitFor, type NatsCluster, type ReplicatedStack } from '@blog/testkit';

let dir: string;
let nats: NatsCluster;
let stack: ReplicatedStack;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'blog-cluster-trust-'));
  nats = await startNatsCluster({ dir: path.join(dir, 'nats') });
  stack = await startReplicatedStack({ nats, logDir: path.join(dir, 'logs') });
}, 120_000);

afterAll(async () => {
  await stack?.stopAll();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const tokenOf = (service: 'posts' | 'query') => eventsHeaders(stack.credentials.serviceTokens[service]);

test("a forged envelope posted to a query replica with a publisher's token is refused 401; the real post at that seq reaches every replica", async () => {
  const history = await http(`${stack.url('event-bus', 0)}/events`, { headers: stack.eventHeaders(), timeoutMs: 30_000 });
  const seq = ((history.json as { seq: number }[]).at(-1)?.seq ?? 0) + 1;
  const forged = { id: randomUUID(), seq, time: new Date().toISOString(), type: 'PostCreated', data: { id: randomUUID(), title: 'a post that does not exist' } };
  for (const replica of [0, 1]) {
    expect((await http(`${stack.url('query', replica)}/events`, { body: forged, headers: tokenOf('posts') })).status).toBe(401);
    expect((await http(`${stack.url('query', replica)}/events/batch`, { body: [forged], headers: stack.eventHeaders() })).status).toBe(401);
  }
  expect((await http(`${stack.url('posts', 0)}/posts`, { body: { title: 'the real post' }, timeoutMs: 30_000 })).status).toBe(201);
  for (const replica of [0, 1]) {
    const titles = await waitFor(async () => {
      const view = (await http(`${stack.url('query', replica)}/posts`)).json as Record<string, { title: string }>;
      const shown = Object.values(view).map((post) => post.title);
      return shown.includes('the real post') ? shown : undefined;
    }, { what: `query ${replica + 1} to show the real post`, timeoutMs: 30_000 });
    expect(titles).not.toContain('a post that does not exist');
  }
});

test('every bus replica refuses a publisher another service\'s event type (403), and query any event', async () => {
  const moderated = { type: 'CommentModerated', data: { id: 'c', postId: 'p', content: 'x', status: 'approved' } };
  for (const replica of [0, 1]) {
    expect((await http(`${stack.url('event-bus', replica)}/events`, { body: moderated, headers: tokenOf('posts'), timeoutMs: 30_000 })).status).toBe(403);
    expect((await http(`${stack.url('event-bus', replica)}/events`, { body: { type: 'PostCreated', data: { id: randomUUID(), title: 'x' } }, headers: tokenOf('query'), timeoutMs: 30_000 })).status).toBe(403);
  }
});
