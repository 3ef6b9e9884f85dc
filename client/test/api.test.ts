/** The page's creates: an Idempotency-Key per submission, sent again with the same key while the outcome is unknown. */
import { createComment, createPost, fetchComments, fetchPosts } from '../src/api';

interface Sent {
  path: string;
  key: string | undefined;
}

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

/** Answers each request with the next of `answers` (status and JSON body), recording what was sent. */
function serverAnswering(...answers: [number, unknown][]): Sent[] {
  const sent: Sent[] = [];
  globalThis.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    sent.push({ path: String(input), key: headers.get('Idempotency-Key') ?? undefined });
    const [status, body] = answers[Math.min(sent.length, answers.length) - 1] ?? [500, {}];
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return sent;
}

const unconfirmed: [number, unknown] = [503, { error: 'event bus did not confirm (timed out); the change may or may not have been made' }];

describe('creates from the page', () => {
  it('sends a key with each submission, a new one for the next', async () => {
    const sent = serverAnswering([201, { id: 'p1', title: 'a' }]);
    await createPost('a');
    await createPost('a');
    expect(sent.map(({ key }) => /^[0-9a-f]{32}$/.test(key ?? ''))).toEqual([true, true]);
    expect(sent[0]?.key).not.toBe(sent[1]?.key);
  });

  it('sends an unconfirmed create again with the same key, and resolves with what the service answers then', async () => {
    const sent = serverAnswering(unconfirmed, [201, { id: 'c1', content: 'hi', status: 'pending' }]);
    await expect(createComment('p1', 'hi')).resolves.toEqual({ id: 'c1', content: 'hi', status: 'pending' });
    expect(sent).toHaveLength(2);
    expect(sent[1]?.key).toBe(sent[0]?.key);
  });

  it('says in plain words when it stays unconfirmed, after three tries', async () => {
    const sent = serverAnswering(unconfirmed);
    await expect(createPost('a')).rejects.toThrow('We could not confirm that your post was saved. It may still appear in a moment; if it does not, please submit it again.');
    expect(new Set(sent.map(({ key }) => key)).size).toBe(1);
    expect(sent).toHaveLength(3);
  });

  it('does not send again what was refused for sure (a 400, a 503 "nothing was changed")', async () => {
    const sent = serverAnswering([503, { error: 'event bus unavailable (ECONNREFUSED); nothing was changed, try again' }]);
    await expect(createPost('a')).rejects.toThrow(/nothing was changed/);
    expect(sent).toHaveLength(1);
  });
});

describe('pages of the lists', () => {
  function serverWith(body: unknown, link?: string): string[] {
    const paths: string[] = [];
    globalThis.fetch = (async (input: RequestInfo | URL) => {
      paths.push(String(input));
      return new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json', ...(link === undefined ? {} : { link }) } });
    }) as typeof fetch;
    return paths;
  }

  it('reads where the older posts are from the Link header, and loads the page it names', async () => {
    serverWith({ p2: { id: 'p2', title: 'two', comments: [] } }, '</posts?limit=1&before=2>; rel="next"');
    await expect(fetchPosts()).resolves.toEqual({ items: [{ id: 'p2', title: 'two', comments: [] }], older: '/posts?limit=1&before=2' });
    const paths = serverWith({ p1: { id: 'p1', title: 'one', comments: [] } });
    await expect(fetchPosts(undefined, '/posts?limit=1&before=2')).resolves.toEqual({ items: [{ id: 'p1', title: 'one', comments: [] }], older: null });
    expect(paths).toEqual(['/posts?limit=1&before=2']);
  });

  it('follows no Link to another site', async () => {
    serverWith({}, '<https://elsewhere.example/posts?before=1>; rel="next"');
    await expect(fetchPosts()).resolves.toEqual({ items: [], older: null });
  });

  it('loads a post\'s older comments and where the next ones are; a list of something else is an error', async () => {
    serverWith([{ id: 'c1', content: 'hi', status: 'approved' }], '</posts/p1/comments?limit=1&before=5>; rel="next"');
    await expect(fetchComments('/posts/p1/comments?limit=1&before=6')).resolves.toEqual({ items: [{ id: 'c1', content: 'hi', status: 'approved' }], older: '/posts/p1/comments?limit=1&before=5' });
    serverWith({ not: 'a list' });
    await expect(fetchComments('/posts/p1/comments?limit=1&before=6')).rejects.toThrow(/comments in an unexpected format/);
  });
});
