/**
 * The trust boundaries between the bus and the services, on the real stack: a service applies only what
 * the bus stored (deliveries the bus signed), and each publisher publishes only its own event types with
 * its own token. Each case is an attack that worked while every process shared one token.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { eventsHeaders, type PostsView } from '@blog/common';
import { http, startStack, waitFor, type Stack } from '@blog/testkit';

const LOGS = path.join(__dirname, '..', 'artifacts', 'logs');

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ logDir: path.join(LOGS, 'trust-boundaries') });
});

afterAll(async () => {
  await stack?.stopAll();
});

const tokenOf = (service: 'posts' | 'comments' | 'moderation' | 'query') => {
  const token = stack.credentials?.serviceTokens[service];
  if (token === undefined) throw new Error('the stack has no event credentials');
  return eventsHeaders(token);
};

async function busEnd(): Promise<number> {
  const answer = await http(`${stack.url('event-bus')}/events`, { headers: stack.eventHeaders() });
  return (answer.json as { seq: number }[]).at(-1)?.seq ?? 0;
}

async function queryTitles(): Promise<string[]> {
  const answer = await http(`${stack.url('query')}/posts`);
  return Object.values(answer.json as PostsView).map((post) => post.title);
}

test("an envelope the bus never stored, posted straight to query with a publisher's token, is refused 401; the real event at that seq is applied", async () => {
  const seq = (await busEnd()) + 1;
  const forged = {
    id: randomUUID(),
    seq,
    time: new Date().toISOString(),
    type: 'PostCreated',
    data: { id: randomUUID(), title: 'a post that does not exist' },
  };
  for (const path of ['/events', '/events/batch']) {
    const answer = await http(`${stack.url('query')}${path}`, {
      body: path === '/events' ? forged : [forged],
      headers: tokenOf('posts'),
    });
    expect([path, answer.status, (answer.json as { error?: string }).error]).toEqual([
      path,
      401,
      expect.stringContaining('signed by the event bus'),
    ]);
  }

  const created = await http(`${stack.url('posts')}/posts`, { body: { title: 'the real post' } });
  expect(created.status).toBe(201);
  expect(await busEnd()).toBe(seq);
  const titles = await waitFor(
    async () => {
      const shown = await queryTitles();
      return shown.includes('the real post') ? shown : undefined;
    },
    { what: 'query to show the real post', timeoutMs: 10_000 },
  );
  expect(titles).not.toContain('a post that does not exist');
});

test("a publisher cannot deliver to another service: posts' token and the operator token carry no bus signature", async () => {
  const envelope = {
    id: randomUUID(),
    seq: (await busEnd()) + 1,
    time: new Date().toISOString(),
    type: 'CommentModerated',
    data: { id: 'c', postId: 'p', content: 'x', status: 'approved' },
  };
  for (const headers of [tokenOf('posts'), stack.eventHeaders()]) {
    expect((await http(`${stack.url('comments')}/events`, { body: envelope, headers })).status).toBe(401);
  }
});

test("each publisher publishes only its own event types: posts' CommentModerated and anything from query are refused 403", async () => {
  const moderated = { type: 'CommentModerated', data: { id: 'c', postId: 'p', content: 'x', status: 'approved' } };
  const fromPosts = await http(`${stack.url('event-bus')}/events`, { body: moderated, headers: tokenOf('posts') });
  expect([fromPosts.status, fromPosts.json]).toEqual([
    403,
    {
      error: expect.stringMatching(/^posts \(POSTS_EVENTS_TOKEN\) may not publish CommentModerated/),
      code: 'forbidden',
    },
  ]);
  const fromQuery = await http(`${stack.url('event-bus')}/events`, {
    body: { type: 'PostCreated', data: { id: randomUUID(), title: 'x' } },
    headers: tokenOf('query'),
  });
  expect(fromQuery.status).toBe(403);
  // The same token still reads the log.
  expect((await http(`${stack.url('event-bus')}/events?after=0&limit=1`, { headers: tokenOf('query') })).status).toBe(
    200,
  );
});
