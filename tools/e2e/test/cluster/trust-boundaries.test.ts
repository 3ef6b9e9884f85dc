/**
 * The trust boundaries on the blog scaled out (`npm run test:cluster`): every replica reads the log itself,
 * yet still takes no envelope the bus did not sign, and each bus replica holds each publisher to its own
 * event types.
 */
import { randomUUID } from 'node:crypto';
import { eventsHeaders } from '@blog/common';
import { http, waitFor } from '@blog/testkit';
import { useScaledOutBlog } from './support';

const blog = useScaledOutBlog('blog-cluster-trust-');

const tokenOf = (service: 'posts' | 'query') => eventsHeaders(blog.stack().credentials.serviceTokens[service]);

test("a forged envelope posted to a query replica with a publisher's token is refused 401; the real post at that seq reaches every replica", async () => {
  const history = await http(`${blog.stack().url('event-bus', 0)}/events`, {
    headers: blog.stack().eventHeaders(),
    timeoutMs: 30_000,
  });
  const seq = ((history.json as { seq: number }[]).at(-1)?.seq ?? 0) + 1;
  const forged = {
    id: randomUUID(),
    seq,
    time: new Date().toISOString(),
    type: 'PostCreated',
    data: { id: randomUUID(), title: 'a post that does not exist' },
  };
  for (const replica of [0, 1]) {
    expect(
      (await http(`${blog.stack().url('query', replica)}/events`, { body: forged, headers: tokenOf('posts') })).status,
    ).toBe(401);
    expect(
      (
        await http(`${blog.stack().url('query', replica)}/events/batch`, {
          body: [forged],
          headers: blog.stack().eventHeaders(),
        })
      ).status,
    ).toBe(401);
  }
  expect(
    (await http(`${blog.stack().url('posts', 0)}/posts`, { body: { title: 'the real post' }, timeoutMs: 30_000 }))
      .status,
  ).toBe(201);
  for (const replica of [0, 1]) {
    const titles = await waitFor(
      async () => {
        const view = (await http(`${blog.stack().url('query', replica)}/posts`)).json as Record<
          string,
          { title: string }
        >;
        const shown = Object.values(view).map((post) => post.title);
        return shown.includes('the real post') ? shown : undefined;
      },
      { what: `query ${replica + 1} to show the real post`, timeoutMs: 30_000 },
    );
    expect(titles).not.toContain('a post that does not exist');
  }
});

test("every bus replica refuses a publisher another service's event type (403), and query any event", async () => {
  const moderated = { type: 'CommentModerated', data: { id: 'c', postId: 'p', content: 'x', status: 'approved' } };
  for (const replica of [0, 1]) {
    expect(
      (
        await http(`${blog.stack().url('event-bus', replica)}/events`, {
          body: moderated,
          headers: tokenOf('posts'),
          timeoutMs: 30_000,
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await http(`${blog.stack().url('event-bus', replica)}/events`, {
          body: { type: 'PostCreated', data: { id: randomUUID(), title: 'x' } },
          headers: tokenOf('query'),
          timeoutMs: 30_000,
        })
      ).status,
    ).toBe(403);
  }
});
