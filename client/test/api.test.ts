/** The page's creates: an Idempotency-Key per submission, sent again with the same key while the outcome is unknown. */
import { ApiRequestError, createComment, createPost, fetchComments, fetchPosts } from '../src/api';

interface Sent {
  path: string;
  key: string | undefined;
}

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

function pathOf(input: RequestInfo | URL): string {
  if (typeof input === 'string') return input;
  return input instanceof URL ? input.href : input.url;
}

/** Answers each request with the next of `answers` (status and JSON body), recording what was sent. */
function serverAnswering(...answers: [number, unknown][]): Sent[] {
  const sent: Sent[] = [];
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    sent.push({ path: pathOf(input), key: headers.get('Idempotency-Key') ?? undefined });
    const [status, body] = answers[Math.min(sent.length, answers.length) - 1] ?? [500, {}];
    if (typeof body === 'string')
      return Promise.resolve(new Response(body, { status, headers: { 'content-type': 'text/html' } }));
    return Promise.resolve(
      new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } }),
    );
  };
  return sent;
}

const unconfirmed: [number, unknown] = [
  503,
  { error: 'event bus did not confirm (timed out); the change may or may not have been made', code: 'outcome_unknown' },
];
const created: [number, unknown] = [201, { id: 'p1', title: 'a' }];

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
    await expect(createPost('a')).rejects.toThrow(
      'We could not confirm that your post was saved. It may still appear in a moment; if it does not, please submit it again.',
    );
    expect(new Set(sent.map(({ key }) => key)).size).toBe(1);
    expect(sent).toHaveLength(3);
  });

  it('does not send again what was refused for sure (a 400, a 503 "nothing was changed")', async () => {
    const sent = serverAnswering([
      503,
      { error: 'event bus unavailable (ECONNREFUSED); nothing was changed, try again', code: 'unavailable' },
    ]);
    await expect(createPost('a')).rejects.toThrow(/nothing was changed/);
    expect(sent).toHaveLength(1);
  });
});

describe('what decides whether a create is sent again: the code, not the words', () => {
  it('sends again on outcome_unknown, whatever the message says and whatever the status', async () => {
    for (const status of [502, 503]) {
      const sent = serverAnswering(
        [status, { error: 'the posts service did not answer', code: 'outcome_unknown' }],
        created,
      );
      await expect(createPost('a')).resolves.toEqual({ id: 'p1', title: 'a' });
      expect(sent).toHaveLength(2);
    }
  });

  it('does not send again on another code, even when the message reads like an unknown outcome', async () => {
    const sent = serverAnswering(
      [503, { error: 'the change may or may not have been made', code: 'unavailable' }],
      created,
    );
    await expect(createPost('a')).rejects.toMatchObject({ status: 503, code: 'unavailable' });
    expect(sent).toHaveLength(1);
  });

  it('gives the code with the error, for the page to decide on', async () => {
    serverAnswering([
      422,
      { error: 'this Idempotency-Key was already used with a different body', code: 'key_reused' },
    ]);
    const refused: unknown = await createPost('a').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiRequestError);
    expect(refused).toMatchObject({
      status: 422,
      code: 'key_reused',
      message: 'this Idempotency-Key was already used with a different body',
    });
  });

  it("reads an answer without a code as before the codes: a proxy's 504 page and an older service's unconfirmed 503 are sent again", async () => {
    const throughIngress = serverAnswering([504, '<html>504 Gateway Time-out</html>'], created);
    await expect(createPost('a')).resolves.toEqual({ id: 'p1', title: 'a' });
    expect(throughIngress).toHaveLength(2);
    const olderService = serverAnswering(
      [503, { error: 'event bus did not confirm (timed out); the change may or may not have been made' }],
      created,
    );
    await expect(createPost('a')).resolves.toEqual({ id: 'p1', title: 'a' });
    expect(olderService).toHaveLength(2);
  });

  it("reads an older service's other errors by their status, and does not send them again", async () => {
    const sent = serverAnswering(
      [503, { error: 'event bus unavailable (ECONNREFUSED); nothing was changed, try again' }],
      created,
    );
    await expect(createPost('a')).rejects.toMatchObject({ status: 503, code: 'unavailable' });
    expect(sent).toHaveLength(1);
  });
});

describe('pages of the lists', () => {
  function serverWith(body: unknown, link?: string): string[] {
    const paths: string[] = [];
    globalThis.fetch = (input: RequestInfo | URL) => {
      paths.push(pathOf(input));
      return Promise.resolve(
        new Response(JSON.stringify(body), {
          status: 200,
          headers: { 'content-type': 'application/json', ...(link === undefined ? {} : { link }) },
        }),
      );
    };
    return paths;
  }

  it('reads where the older posts are from the Link header, and loads the page it names', async () => {
    serverWith({ p2: { id: 'p2', title: 'two', comments: [] } }, '</posts?limit=1&before=2>; rel="next"');
    await expect(fetchPosts()).resolves.toEqual({
      items: [{ id: 'p2', title: 'two', comments: [] }],
      older: '/posts?limit=1&before=2',
    });
    const paths = serverWith({ p1: { id: 'p1', title: 'one', comments: [] } });
    await expect(fetchPosts(undefined, '/posts?limit=1&before=2')).resolves.toEqual({
      items: [{ id: 'p1', title: 'one', comments: [] }],
      older: null,
    });
    expect(paths).toEqual(['/posts?limit=1&before=2']);
  });

  it('follows no Link to another site', async () => {
    serverWith({}, '<https://elsewhere.example/posts?before=1>; rel="next"');
    await expect(fetchPosts()).resolves.toEqual({ items: [], older: null });
  });

  it("loads a post's older comments and where the next ones are; a list of something else is an error", async () => {
    serverWith([{ id: 'c1', content: 'hi', status: 'approved' }], '</posts/p1/comments?limit=1&before=5>; rel="next"');
    await expect(fetchComments('/posts/p1/comments?limit=1&before=6')).resolves.toEqual({
      items: [{ id: 'c1', content: 'hi', status: 'approved' }],
      older: '/posts/p1/comments?limit=1&before=5',
    });
    serverWith({ not: 'a list' });
    await expect(fetchComments('/posts/p1/comments?limit=1&before=6')).rejects.toThrow(
      /comments in an unexpected format/,
    );
  });
});
