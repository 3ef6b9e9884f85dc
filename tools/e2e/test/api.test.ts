/**
 * Full-stack API tests: every service is a real process (the compiled build), on free ports, and the
 * public API is used through the client server, which routes paths exactly like the Kubernetes ingress.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Comment, CommentStatus, Post, PostsView, PostWithComments } from '@blog/common';
import { http, SERVICES, startStack, waitFor, type HttpAnswer, type ServiceName, type Stack } from '@blog/testkit';
import type { SubscriberStatus } from '@blog/common/api';

const LOGS = path.join(__dirname, '..', 'artifacts', 'logs');
const UNKNOWN_POST = '00000000-0000-4000-8000-000000000000';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ logDir: path.join(LOGS, 'api') });
});

afterAll(async () => {
  await stack?.stopAll();
});

// ---- helpers -------------------------------------------------------------------------------------

function expectStatus(answer: HttpAnswer, status: number, what: string): void {
  if (answer.status !== status)
    throw new Error(`${what}: expected HTTP ${status}, got ${answer.status} ${answer.text.slice(0, 300)}`);
}

async function createPost(gateway: string, title: string): Promise<Post> {
  const answer = await http(`${gateway}/posts/create`, { body: { title } });
  expectStatus(answer, 201, `POST /posts/create ${JSON.stringify(title)}`);
  expect(answer.json).toEqual({ id: expect.any(String), title });
  return answer.json as Post;
}

async function createComment(gateway: string, postId: string, content: string): Promise<Comment> {
  const answer = await http(`${gateway}/posts/${postId}/comments`, { body: { content } });
  expectStatus(answer, 201, `POST /posts/${postId}/comments ${JSON.stringify(content)}`);
  expect(answer.json).toEqual({ id: expect.any(String), content, status: 'pending' });
  return answer.json as Comment;
}

/** Query's view, through the gateway (`GET /posts` goes to query). */
async function queryView(gateway: string): Promise<PostsView> {
  const answer = await http(`${gateway}/posts`);
  expectStatus(answer, 200, 'GET /posts (query)');
  return answer.json as PostsView;
}

/** The comments service's list, through the gateway. */
async function commentsOf(gateway: string, postId: string): Promise<Comment[]> {
  const answer = await http(`${gateway}/posts/${postId}/comments`);
  expectStatus(answer, 200, `GET /posts/${postId}/comments`);
  return answer.json as Comment[];
}

/** The posts service's own list (not public: the gateway sends GET /posts to query). */
async function postsServiceList(s: Stack): Promise<Record<string, Post>> {
  const answer = await http(`${s.url('posts')}/posts`);
  expectStatus(answer, 200, 'GET /posts (posts service)');
  return answer.json as Record<string, Post>;
}

type Expected = Record<string, CommentStatus>;

const hasStatuses = (comments: readonly Comment[] | undefined, expected: Expected): boolean =>
  comments !== undefined &&
  comments.length === Object.keys(expected).length &&
  comments.every((comment) => expected[comment.id] === comment.status);

/** Waits until query shows the post with exactly these comments in these statuses. */
async function waitForQuery(
  gateway: string,
  postId: string,
  expected: Expected,
  timeoutMs = 10_000,
): Promise<PostWithComments> {
  let last: PostWithComments | undefined;
  return waitFor(
    async () => {
      last = (await queryView(gateway))[postId];
      return hasStatuses(last?.comments, expected) && last;
    },
    {
      what: `query to show post ${postId} with comments ${JSON.stringify(expected)}`,
      timeoutMs,
      detail: () => `last seen: ${JSON.stringify(last)}`,
    },
  );
}

async function waitForComments(gateway: string, postId: string, expected: Expected): Promise<Comment[]> {
  let last: Comment[] | undefined;
  return waitFor(
    async () => {
      last = await commentsOf(gateway, postId);
      return hasStatuses(last, expected) && last;
    },
    {
      what: `comments to list ${JSON.stringify(expected)} for post ${postId}`,
      detail: () => `last seen: ${JSON.stringify(last)}`,
    },
  );
}

interface BusEvent {
  seq: number;
  type: string;
  data: { id?: string; postId?: string } | null;
}

async function busEvents(s: Stack): Promise<BusEvent[]> {
  const answer = await http(`${s.url('event-bus')}/events`, { headers: s.eventHeaders() });
  expectStatus(answer, 200, 'GET /events (bus)');
  return answer.json as BusEvent[];
}

/** Waits until the bus has delivered its whole history to every subscriber. */
async function waitForDelivery(s: Stack, timeoutMs = 10_000): Promise<void> {
  let last: unknown;
  await waitFor(
    async () => {
      const answer = await http(`${s.url('event-bus')}/subscribers`, { headers: s.eventHeaders() });
      last = answer.json;
      const subscribers = answer.json as SubscriberStatus[];
      return answer.status === 200 && subscribers.length === 4 && subscribers.every((sub) => sub.lag === 0);
    },
    {
      what: 'the bus to deliver every event to every subscriber',
      timeoutMs,
      detail: () => `subscribers: ${JSON.stringify(last)}`,
    },
  );
}

/** How many events of a type the bus holds for a comment. */
const countFor = (events: readonly BusEvent[], type: string, commentId: string) =>
  events.filter((event) => event.type === type && event.data?.id === commentId).length;

// ---- tests ---------------------------------------------------------------------------------------

test('a post and its comments are moderated and every service agrees, through the gateway', async () => {
  const gateway = stack.url('client');
  const post = await createPost(gateway, 'Hello from the e2e tests');
  const hello = await createComment(gateway, post.id, 'hello');
  const orange = await createComment(gateway, post.id, 'ORANGE juice');

  const shown = await waitForQuery(gateway, post.id, { [hello.id]: 'approved', [orange.id]: 'rejected' });
  expect(shown).toEqual({
    id: post.id,
    title: 'Hello from the e2e tests',
    comments: [
      { id: hello.id, content: 'hello', status: 'approved' },
      { id: orange.id, content: 'ORANGE juice', status: 'rejected' },
    ],
  });

  // comments set the final status before publishing the CommentUpdated query just showed.
  expect(await commentsOf(gateway, post.id)).toEqual(shown.comments);
  expect((await postsServiceList(stack))[post.id]).toEqual(post);

  // Exactly one moderation and one update per comment reach the log, and every subscriber got them all.
  await waitForDelivery(stack);
  const events = await busEvents(stack);
  expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
  for (const comment of [hello, orange]) {
    expect({
      comment: comment.content,
      created: countFor(events, 'CommentCreated', comment.id),
      moderated: countFor(events, 'CommentModerated', comment.id),
      updated: countFor(events, 'CommentUpdated', comment.id),
    }).toEqual({
      comment: comment.content,
      created: 1,
      moderated: 1,
      updated: 1,
    });
  }
});

test('a service started last rebuilds everything from the bus history', async () => {
  const late = await startStack({
    services: SERVICES.filter((name) => name !== 'query'),
    logDir: path.join(LOGS, 'api-query-last'),
  });
  try {
    const gateway = late.url('client');
    const post = await createPost(gateway, 'Written before query existed');
    const hello = await createComment(gateway, post.id, 'hello');
    const orange = await createComment(gateway, post.id, 'I like Orange juice');
    const expected: Expected = { [hello.id]: 'approved', [orange.id]: 'rejected' };
    // The whole story (created, moderated, updated) is in the log before query starts.
    await waitForComments(gateway, post.id, expected);
    await waitFor(async () => (await busEvents(late)).filter((event) => event.type === 'CommentUpdated').length === 2, {
      what: 'both CommentUpdated events to be in the log',
    });

    const unavailable = await http(`${gateway}/posts`);
    expect({ status: unavailable.status, json: unavailable.json }).toEqual({
      status: 502,
      json: { error: expect.any(String), code: 'unavailable' },
    });

    await late.start('query');
    // Ready means caught up: the view is complete at once, no polling.
    expect((await queryView(gateway))[post.id]).toEqual({
      id: post.id,
      title: 'Written before query existed',
      comments: [
        { id: hello.id, content: 'hello', status: 'approved' },
        { id: orange.id, content: 'I like Orange juice', status: 'rejected' },
      ],
    });

    // Live delivery to the late subscriber resumes too (the bus was backing off while it was missing).
    const later = await createComment(gateway, post.id, 'still here');
    await waitForQuery(gateway, post.id, { ...expected, [later.id]: 'approved' }, 15_000);
    await waitForDelivery(late, 15_000);
  } finally {
    await late.stopAll();
  }
});

test.each<ServiceName>(['comments', 'posts'])(
  '%s killed with SIGKILL comes back with its full state',
  async (victim) => {
    const gateway = stack.url('client');
    const post = await createPost(gateway, `Survives a kill -9 of ${victim}`);
    const hello = await createComment(gateway, post.id, 'hello before the crash');
    const orange = await createComment(gateway, post.id, 'orange before the crash');
    const expected: Expected = { [hello.id]: 'approved', [orange.id]: 'rejected' };
    await waitForQuery(gateway, post.id, expected);
    const commentsBefore = await commentsOf(gateway, post.id);
    const postsBefore = await postsServiceList(stack);
    expect(Object.keys(postsBefore)).toContain(post.id);

    const pidBefore = stack.pid(victim);
    expect(await stack.kill(victim)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(stack.isRunning(victim)).toBe(false);

    // Meanwhile the gateway answers for the missing service with a JSON 502.
    const down =
      victim === 'comments'
        ? await http(`${gateway}/posts/${post.id}/comments`)
        : await http(`${gateway}/posts/create`, { body: { title: 'nobody home' } });
    expect({ status: down.status, json: down.json }).toEqual({
      status: 502,
      json: { error: expect.any(String), code: 'unavailable' },
    });

    await stack.start(victim);
    expect(stack.pid(victim)).not.toBe(pidBefore);

    // Ready means caught up: the state from before is there at once.
    expect(await commentsOf(gateway, post.id)).toEqual(commentsBefore);
    expect(await postsServiceList(stack)).toEqual(postsBefore);

    // And it works as before: new writes go through and are moderated.
    const after = await createComment(gateway, post.id, 'hello after the restart');
    const newPost = await createPost(gateway, `Created after ${victim} restarted`);
    await waitForQuery(gateway, post.id, { ...expected, [after.id]: 'approved' }, 15_000);
    await waitFor(async () => (await queryView(gateway))[newPost.id] !== undefined, {
      what: `query to show post ${newPost.id}`,
    });

    // Replaying the history on restart published nothing again.
    await waitForDelivery(stack, 15_000);
    const events = await busEvents(stack);
    for (const comment of [hello, orange]) {
      expect([
        comment.content,
        countFor(events, 'CommentModerated', comment.id),
        countFor(events, 'CommentUpdated', comment.id),
      ]).toEqual([comment.content, 1, 1]);
    }
    expect(events.filter((event) => event.type === 'PostCreated' && event.data?.id === post.id)).toHaveLength(1);
  },
);

test('the event bus killed with SIGKILL keeps its history: nothing is lost or applied twice', async () => {
  const gateway = stack.url('client');
  const post = await createPost(gateway, 'Survives a kill -9 of the event bus');
  const hello = await createComment(gateway, post.id, 'hello before the bus crash');
  const orange = await createComment(gateway, post.id, 'orange before the bus crash');
  const expected: Expected = { [hello.id]: 'approved', [orange.id]: 'rejected' };
  await waitForQuery(gateway, post.id, expected);
  await waitForDelivery(stack);
  const historyBefore = await busEvents(stack);

  await stack.kill('event-bus');
  // Without the bus a create fails fast with a JSON 503 and creates nothing.
  const down = await http(`${gateway}/posts/create`, { body: { title: 'created while the bus is down' } });
  expect({ status: down.status, json: down.json }).toEqual({
    status: 503,
    json: { error: expect.stringMatching(/event bus unavailable/), code: 'unavailable' },
  });

  await stack.start('event-bus');
  expect(await busEvents(stack)).toEqual(historyBefore);

  const after = await createComment(gateway, post.id, 'hello after the bus restarted');
  const newPost = await createPost(gateway, 'Created after the bus restarted');
  await waitForQuery(gateway, post.id, { ...expected, [after.id]: 'approved' }, 15_000);
  await waitFor(async () => (await queryView(gateway))[newPost.id] !== undefined, {
    what: `query to show post ${newPost.id}`,
  });

  await waitForDelivery(stack, 15_000);
  const events = await busEvents(stack);
  for (const comment of [hello, orange, after]) {
    expect([
      comment.content,
      countFor(events, 'CommentModerated', comment.id),
      countFor(events, 'CommentUpdated', comment.id),
    ]).toEqual([comment.content, 1, 1]);
  }
  const titles = Object.values(await queryView(gateway)).map((p) => p.title);
  expect(titles).not.toContain('created while the bus is down');
});

test('comments made while moderation is stopped wait as pending and are moderated once it is back', async () => {
  const gateway = stack.url('client');
  const post = await createPost(gateway, 'Moderation takes a break');
  // SIGTERM is a clean shutdown: exit code 0.
  expect(await stack.stop('moderation')).toEqual({ code: 0, signal: null });

  const hello = await createComment(gateway, post.id, 'hello while moderation is away');
  const orange = await createComment(gateway, post.id, 'an orange while moderation is away');
  await waitForQuery(gateway, post.id, { [hello.id]: 'pending', [orange.id]: 'pending' });

  await stack.start('moderation');
  await waitForQuery(gateway, post.id, { [hello.id]: 'approved', [orange.id]: 'rejected' });
  await waitForDelivery(stack, 15_000);
  const events = await busEvents(stack);
  for (const comment of [hello, orange]) {
    expect([
      comment.content,
      countFor(events, 'CommentModerated', comment.id),
      countFor(events, 'CommentUpdated', comment.id),
    ]).toEqual([comment.content, 1, 1]);
  }
});

test('malformed requests get a 4xx JSON error and crash nothing', async () => {
  const gateway = stack.url('client');
  const post = await createPost(gateway, 'Target of bad requests');
  const eventsBefore = (await busEvents(stack)).length;
  const json = { 'content-type': 'application/json' };
  const auth = stack.eventHeaders();
  const iso = new Date().toISOString();

  const cases: {
    what: string;
    url: string;
    method?: string;
    body?: unknown;
    headers?: Record<string, string>;
    status: number;
  }[] = [
    { what: 'non-JSON body', url: `${gateway}/posts/create`, body: '{"title": ', status: 400 },
    { what: 'JSON array', url: `${gateway}/posts/create`, body: ['title'], status: 400 },
    { what: 'JSON string', url: `${gateway}/posts/create`, body: '"just a string"', status: 400 },
    { what: 'missing title', url: `${gateway}/posts/create`, body: {}, status: 400 },
    { what: 'blank title', url: `${gateway}/posts/create`, body: { title: '   ' }, status: 400 },
    { what: 'title not a string', url: `${gateway}/posts/create`, body: { title: { $gt: '' } }, status: 400 },
    { what: 'title too long', url: `${gateway}/posts/create`, body: { title: 'x'.repeat(201) }, status: 400 },
    { what: 'huge body', url: `${gateway}/posts/create`, body: { title: 'x'.repeat(200_000) }, status: 413 },
    {
      what: 'form-encoded body',
      url: `${gateway}/posts/create`,
      body: 'title=hi',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      status: 400,
    },
    {
      what: 'unsupported charset',
      url: `${gateway}/posts/create`,
      body: '{"title":"hi"}',
      headers: { 'content-type': 'application/json; charset=iso-8859-1' },
      status: 415,
    },
    {
      what: 'comment on an unknown post',
      url: `${gateway}/posts/${UNKNOWN_POST}/comments`,
      body: { content: 'hi' },
      status: 404,
    },
    { what: 'non-JSON comment', url: `${gateway}/posts/${post.id}/comments`, body: 'content=hi', status: 400 },
    {
      what: 'comment content not a string',
      url: `${gateway}/posts/${post.id}/comments`,
      body: { content: 42 },
      status: 400,
    },
    {
      what: 'huge comment',
      url: `${gateway}/posts/${post.id}/comments`,
      body: { content: 'y'.repeat(200_000) },
      status: 413,
    },
    {
      what: 'the bus is not public',
      url: `${gateway}/events`,
      body: { type: 'PostCreated', data: { id: 'x', title: 'x' } },
      status: 404,
    },
    {
      what: 'bus: event without type',
      url: `${stack.url('event-bus')}/events`,
      body: { data: {} },
      headers: auth,
      status: 400,
    },
    {
      what: 'bus: known type, bad data',
      url: `${stack.url('event-bus')}/events`,
      body: { type: 'PostCreated', data: { title: '' } },
      headers: auth,
      status: 400,
    },
    {
      what: 'bus: bad history query',
      url: `${stack.url('event-bus')}/events?after=-1`,
      method: 'GET',
      headers: auth,
      status: 400,
    },
  ];
  // Signed as the bus signs its deliveries, so that they reach the services' parsers.
  const delivery = (body: unknown) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return { body: text, headers: { ...json, ...stack.deliveryHeaders(text) } };
  };
  for (const service of ['posts', 'comments', 'query', 'moderation'] as const) {
    const url = `${stack.url(service)}/events`;
    cases.push(
      { what: `${service}: event not JSON`, url, ...delivery('not json'), status: 400 },
      { what: `${service}: event is an array`, url, ...delivery([1, 2]), status: 400 },
      {
        what: `${service}: event without seq`,
        url,
        ...delivery({ type: 'PostCreated', data: { id: 'p', title: 't' } }),
        status: 400,
      },
      {
        what: `${service}: event with bad data`,
        url,
        ...delivery({ id: 'e', seq: 1, time: iso, type: 'CommentCreated', data: { id: 'c' } }),
        status: 400,
      },
      {
        what: `${service}: event not signed by the bus`,
        url,
        body: { id: 'e', seq: 1, time: iso, type: 'PostCreated', data: { id: 'p', title: 't' } },
        headers: auth,
        status: 401,
      },
    );
  }

  const problems: string[] = [];
  for (const { what, url, method, body, headers, status } of cases) {
    const answer = await http(url, { method, body, headers });
    const error = (answer.json as { error?: unknown } | undefined)?.error;
    const isJson = (answer.headers.get('content-type') ?? '').includes('application/json');
    if (answer.status !== status || !isJson || typeof error !== 'string' || error === '') {
      problems.push(
        `${what}: expected ${status} with a JSON {error}, got ${answer.status} ${answer.headers.get('content-type')} ${answer.text.slice(0, 200)}`,
      );
    }
  }
  expect(problems).toEqual([]);

  // Nothing reached the log, every process is alive and healthy, and the blog still works.
  expect((await busEvents(stack)).length).toBe(eventsBefore);
  for (const name of SERVICES) {
    expect([name, stack.isRunning(name)]).toEqual([name, true]);
    const health = await http(`${stack.url(name)}/healthz`);
    expect([name, health.status]).toEqual([name, 200]);
  }
  const comment = await createComment(gateway, post.id, 'hello after the bad requests');
  await waitForQuery(gateway, post.id, { [comment.id]: 'approved' });

  // No service logged an error (pino level 50+) for any of it.
  const errors = SERVICES.flatMap((name) =>
    readFileSync(stack.logFile(name), 'utf8')
      .split('\n')
      .filter((line) => /"level":(5|6)\d/.test(line))
      .map((line) => `${name}: ${line.slice(0, 300)}`),
  );
  expect(errors).toEqual([]);
});

test('a create sent again with its Idempotency-Key, also after a restart of posts and comments, answers the same resource and stores nothing new', async () => {
  const gateway = stack.url('client');
  const keyed = (path: string, body: unknown, key: string) =>
    http(`${gateway}${path}`, { body, headers: { 'Idempotency-Key': key } });
  const post = await keyed('/posts/create', { title: 'Sent twice' }, 'e2e-post-key');
  expectStatus(post, 201, 'keyed create');
  const postId = (post.json as Post).id;
  const comment = await keyed(`/posts/${postId}/comments`, { content: 'sent twice too' }, 'e2e-comment-key');
  expectStatus(comment, 201, 'keyed comment');
  expect((await keyed('/posts/create', { title: 'Another title' }, 'e2e-post-key')).status).toBe(422);

  for (const service of ['posts', 'comments'] as const) {
    await stack.stop(service);
    await stack.start(service);
  }
  const postAgain = await keyed('/posts/create', { title: 'Sent twice' }, 'e2e-post-key');
  expect([postAgain.status, postAgain.json]).toEqual([201, post.json]);
  const commentAgain = await keyed(`/posts/${postId}/comments`, { content: 'sent twice too' }, 'e2e-comment-key');
  expect([commentAgain.status, (commentAgain.json as Comment).id]).toEqual([201, (comment.json as Comment).id]);
  const events = await busEvents(stack);
  expect(countFor(events, 'PostCreated', postId)).toBe(1);
  expect(countFor(events, 'CommentCreated', (comment.json as Comment).id)).toBe(1);
});
