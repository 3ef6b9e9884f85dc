/**
 * A page served from another origin (one listed in CORS_ORIGINS, like the course's own client run on its
 * own port) creates a post and a comment through the :3000 router, in headless Chromium: the browser's
 * real CORS preflights (OPTIONS) go through the router to the services, which answer them. Nothing is
 * intercepted.
 */
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium } from '@blog/testkit/chromium';
import { eventually, freePorts, http, startStack, type Stack } from '@blog/testkit';

const ARTIFACTS = path.join(__dirname, '..', 'artifacts');

let stack: Stack | undefined;
let browser: Browser | undefined;
let page: Server | undefined;
let pageOrigin: string;

/** A page that calls the blog's API at `api` from its own origin, and records what it was answered. */
function pageCalling(api: string): string {
  return `<!doctype html><title>Another origin</title><script>
    window.outcome = (async () => {
      const json = { 'content-type': 'application/json' };
      const post = await fetch(${JSON.stringify(api)} + '/posts/create', { method: 'POST', headers: json, body: JSON.stringify({ title: 'from another origin' }) });
      const created = await post.json();
      const comment = await fetch(${JSON.stringify(api)} + '/posts/' + created.id + '/comments', { method: 'POST', headers: json, body: JSON.stringify({ content: 'a comment from another origin' }) });
      const posts = await fetch(${JSON.stringify(api)} + '/posts');
      return { post: post.status, comment: comment.status, list: posts.status, id: created.id };
    })().catch((err) => ({ error: String(err) }));
  </script>`;
}

beforeAll(async () => {
  const [port] = await freePorts(1);
  pageOrigin = `http://127.0.0.1:${port}`;
  const cors = { CORS_ORIGINS: pageOrigin };
  const [started, launched] = await Promise.allSettled([
    startStack({
      logDir: path.join(ARTIFACTS, 'logs', 'cross-origin'),
      env: { posts: cors, comments: cors, query: cors },
    }),
    launchChromium(),
  ]);
  if (started.status === 'fulfilled') stack = started.value;
  if (launched.status === 'fulfilled') browser = launched.value;
  if (started.status === 'rejected') throw started.reason;
  if (launched.status === 'rejected') throw launched.reason;
  if (!stack) throw new Error('the stack did not start');
  const html = pageCalling(stack.url('client'));
  page = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end(html));
  await new Promise<void>((resolve) => page?.listen(port, '127.0.0.1', resolve));
});

afterAll(async () => {
  page?.close();
  await Promise.allSettled([browser?.close(), stack?.stopAll()]);
});

test('a page of another allowed origin creates a post and a comment through the router, preflights included', async () => {
  if (!browser || !stack) throw new Error('the stack or the browser did not start (see beforeAll)');
  const context = await browser.newContext();
  try {
    const tab = await context.newPage();
    const preflights: string[] = [];
    tab.on('request', (request) => {
      if (request.method() === 'OPTIONS') preflights.push(new URL(request.url()).pathname);
    });
    await tab.goto(pageOrigin);
    const outcome = await tab.evaluate<{ post: number; comment: number; list: number; id: string }>('window.outcome');
    expect(outcome).toMatchObject({ post: 201, comment: 201, list: 200 });
    const router = stack.url('client');
    await eventually(
      async () => {
        const { json } = await http(`${router}/posts`);
        expect(
          (json as Record<string, { comments: { content: string }[] }>)[outcome.id]?.comments.map(
            ({ content }) => content,
          ),
        ).toEqual(['a comment from another origin']);
      },
      { timeoutMs: 15_000 },
    );
    // What Chromium reports of its preflights depends on its version; when it reports them, they went to the API.
    expect(preflights.every((pathname) => pathname.startsWith('/posts'))).toBe(true);
  } finally {
    await context.close();
  }
});

test('the router passes a preflight from an allowed origin to the service and its answer back; from another origin, no CORS headers', async () => {
  if (!stack) throw new Error('the stack did not start');
  const preflight = (origin: string) =>
    http(`${stack?.url('client')}/posts/create`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
  const allowed = await preflight(pageOrigin);
  expect(allowed.status).toBe(204);
  expect(allowed.headers.get('access-control-allow-origin')).toBe(pageOrigin);
  const other = await preflight('http://elsewhere.example');
  expect(other.headers.get('access-control-allow-origin')).toBeNull();
});
