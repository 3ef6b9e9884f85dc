/**
 * The blog scaled out, as real processes on 127.0.0.1 (`npm run test:cluster`): a 3-node NATS JetStream
 * cluster, 2 bus replicas sharing the stream, and 2 replicas of posts, comments, moderation and query,
 * each reading the log itself (EVENTS_FOLLOW). Every replica applies every event; reactions happen once
 * however many moderation and comments replicas react; replicas killed with -9 come back to the same state.
 */
import { expectedModeration, http, waitFor } from '@blog/testkit';
import { useScaledOutBlog } from './support';

const blog = useScaledOutBlog('blog-replicas-');

interface StoredEvent {
  seq: number;
  id: string;
  type: string;
  data: { id: string };
}

async function history(busReplica: number): Promise<StoredEvent[]> {
  const answer = await http(`${blog.stack().url('event-bus', busReplica)}/events`, {
    headers: blog.stack().eventHeaders(),
  });
  if (answer.status !== 200) throw new Error(`GET /events on bus ${busReplica + 1}: HTTP ${answer.status}`);
  return answer.json as StoredEvent[];
}

async function createPost(postsReplica: number, title: string): Promise<string> {
  const answer = await http(`${blog.stack().url('posts', postsReplica)}/posts/create`, {
    body: { title },
    timeoutMs: 30_000,
  });
  if (answer.status !== 201)
    throw new Error(`POST /posts/create on posts ${postsReplica + 1}: HTTP ${answer.status} ${answer.text}`);
  return (answer.json as { id: string }).id;
}

async function createComment(commentsReplica: number, postId: string, content: string): Promise<string> {
  const answer = await http(`${blog.stack().url('comments', commentsReplica)}/posts/${postId}/comments`, {
    body: { content },
    timeoutMs: 30_000,
  });
  if (answer.status !== 201)
    throw new Error(`POST comment on comments ${commentsReplica + 1}: HTTP ${answer.status} ${answer.text}`);
  return (answer.json as { id: string }).id;
}

type View = Record<string, { id: string; title: string; comments: { id: string; content: string; status: string }[] }>;

const viewOf = async (queryReplica: number) =>
  (await http(`${blog.stack().url('query', queryReplica)}/posts`)).json as View;

/** Waits until every query replica shows the same view, and returns it. */
async function sameViewEverywhere(what: string, holds: (view: View) => boolean): Promise<View> {
  return waitFor(
    async () => {
      const views = await Promise.all(
        blog
          .stack()
          .urls('query')
          .map((_, replica) => viewOf(replica)),
      );
      const [first] = views;
      return first && holds(first) && views.every((view) => JSON.stringify(view) === JSON.stringify(first))
        ? first
        : undefined;
    },
    { what, timeoutMs: 30_000, intervalMs: 200 },
  );
}

function countByData(events: readonly StoredEvent[], type: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const event of events) if (event.type === type) counts.set(event.data.id, (counts.get(event.data.id) ?? 0) + 1);
  return counts;
}

test('posts and comments created through different replicas reach every replica; each comment is moderated and updated once', async () => {
  const contents = ['plain words', 'an orange', 'more words', 'no fruit here'];
  const posts: string[] = [];
  for (let n = 0; n < contents.length; n++) posts.push(await createPost(n % 2, `post ${n}`));
  const comments = await Promise.all(
    posts.map((postId, n) => createComment((n + 1) % 2, postId, contents[n] as string)),
  );

  const view = await sameViewEverywhere('every comment moderated, the same on both query replicas', (shown) =>
    posts.every(
      (postId) =>
        shown[postId]?.comments.every((comment) => comment.status !== 'pending') &&
        shown[postId]?.comments.length === 1,
    ),
  );
  posts.forEach((postId, n) =>
    expect(view[postId]?.comments[0]).toMatchObject({
      id: comments[n],
      status: expectedModeration(contents[n] as string),
    }),
  );

  const [first, second] = [await history(0), await history(1)];
  expect(second).toEqual(first);
  expect(first.map(({ seq }) => seq)).toEqual(first.map((_, index) => index + 1));
  for (const type of ['CommentModerated', 'CommentUpdated']) {
    const counts = countByData(first, type);
    expect(comments.map((id) => counts.get(id))).toEqual(comments.map(() => 1));
  }
});

test('kill -9 of a bus replica: the other goes on storing, and the restarted one serves the same log to its services', async () => {
  await blog.stack().kill('event-bus', 1);
  const postId = await createPost(0, 'stored while a bus replica is down');
  await blog.stack().start('event-bus', 1);
  expect(await history(1)).toEqual(await history(0));
  const afterRestart = await createPost(1, 'stored through the restarted replica');
  await sameViewEverywhere(
    'both posts on both query replicas',
    (view) => view[postId] !== undefined && view[afterRestart] !== undefined,
  );
});

test('a query replica killed with -9 comes back with the same read model', async () => {
  await blog.stack().kill('query', 0);
  const postId = await createPost(1, 'created while a query replica is down');
  await blog.stack().start('query', 0);
  await sameViewEverywhere(
    'the restarted query replica to show the new post like the other',
    (view) => view[postId] !== undefined,
  );
});

test("the bus replicas did all that with their NATS user's permissions: the servers logged no violation", () => {
  expect(blog.nats().violations()).toEqual([]);
});
