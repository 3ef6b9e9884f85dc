/**
 * The blog in a real headless Chromium (the system's /usr/bin/chromium, never a downloaded browser),
 * against the whole stack as real processes, through the client server like a user on posts.com.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium } from '@blog/testkit/chromium';
import { startStack, type Stack } from '@blog/testkit';
import { PAGES } from '@blog/common';

const ARTIFACTS = path.join(__dirname, '..', 'artifacts');
const CLIENT_BUILD = path.join(__dirname, '..', '..', '..', 'client', 'dist', 'index.html');
/** Moderation is a few hops away (comments → bus → moderation → bus → comments → bus → query → the stream). */
const MODERATION_TIMEOUT_MS = 15_000;
/** A restarted query service replays the history before it is ready; the page then reconnects after its backoff. */
const CATCH_UP_TIMEOUT_MS = 60_000;
const PING_MS = 1_000;

let stack: Stack | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!existsSync(CLIENT_BUILD)) throw new Error(`${CLIENT_BUILD} is missing: run \`npm run build\` first`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const [started, launched] = await Promise.allSettled([
    // A ping every second on the live stream, so that a frozen query is noticed within seconds.
    startStack({
      logDir: path.join(ARTIFACTS, 'logs', 'browser'),
      env: { query: { STREAM_PING_MS: String(PING_MS) } },
    }),
    launchChromium(),
  ]);
  if (started.status === 'fulfilled') stack = started.value;
  if (launched.status === 'fulfilled') browser = launched.value;
  if (started.status === 'rejected') throw started.reason;
  if (launched.status === 'rejected') throw launched.reason;
});

afterAll(async () => {
  await Promise.allSettled([browser?.close(), stack?.stopAll()]);
});

/** Runs a test on a fresh page; on failure saves a screenshot next to the logs. Uncaught page errors fail the test. */
async function withPage(name: string, run: (page: Page, baseUrl: string) => Promise<void>): Promise<void> {
  await withTabs(name, 1, ([page], baseUrl) => run(page as Page, baseUrl));
}

/**
 * Runs a test on `count` tabs of one fresh browser context, like one user with several tabs open; on
 * failure saves a screenshot of each. Uncaught page errors fail the test.
 */
async function withTabs(
  name: string,
  count: number,
  run: (pages: Page[], baseUrl: string) => Promise<void>,
): Promise<void> {
  if (!browser || !stack) throw new Error('the stack or the browser did not start (see beforeAll)');
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  const pages: Page[] = [];
  for (let i = 0; i < count; i += 1) {
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    pages.push(page);
  }
  try {
    await run(pages, stack.url('client'));
    expect(pageErrors).toEqual([]);
  } catch (err) {
    await Promise.all(
      pages.map((page, i) =>
        page
          .screenshot({
            path: path.join(ARTIFACTS, `failure-${name}${count > 1 ? `-${i + 1}` : ''}.png`),
            fullPage: true,
          })
          .catch(() => undefined),
      ),
    );
    throw err;
  } finally {
    await context.close();
  }
}

/** Creates a post through the form; its card is found by `findBy`, a part of the title (all of it by default). */
async function createPost(page: Page, title: string, findBy = title): Promise<Locator> {
  const titleInput = page.getByLabel('Title', { exact: true });
  const form = page.locator('form').filter({ has: titleInput });
  await titleInput.fill(title);
  await form.getByRole('button', { name: 'Submit' }).click();
  const card = page.getByTestId('post').filter({ hasText: findBy });
  await card.waitFor();
  // The form is cleared once the post is created.
  await page.waitForFunction(
    (input) => input instanceof HTMLInputElement && input.value === '',
    await titleInput.elementHandle(),
  );
  return card;
}

async function addComment(card: Locator, content: string): Promise<void> {
  const input = card.getByLabel('New comment');
  const before = await card.getByTestId('comment').count();
  await input.fill(content);
  await card.getByRole('button', { name: 'Submit' }).click();
  // The comment shows up at once (pending or already moderated) and the field is cleared.
  await card.getByTestId('comment').nth(before).waitFor();
  await card
    .page()
    .waitForFunction(
      (element) => element instanceof HTMLInputElement && element.value === '',
      await input.elementHandle(),
    );
}

const comment = (card: Locator, status: string) => card.locator(`[data-testid="comment"][data-status="${status}"]`);

/** The connection indicator once it shows `state` (live, reconnecting, …). */
const connection = (page: Page, state: string) => page.locator(`[data-testid="connection"][data-state="${state}"]`);

/** Marks the document, so that a test can tell later that the page was never reloaded. */
async function markDocument(page: Page): Promise<void> {
  await page.evaluate(() => {
    (window as unknown as Record<string, unknown>).__sameDocument = true;
  });
}

const isSameDocument = (page: Page) =>
  page.evaluate(() => (window as unknown as Record<string, unknown>).__sameDocument);

test('a post and two comments made in the browser are moderated before your eyes, without a reload', async () => {
  await withPage('moderation', async (page, baseUrl) => {
    await page.goto(baseUrl);
    await markDocument(page);

    const title = `Browser post ${Date.now()}`;
    const card = await createPost(page, title);
    await addComment(card, 'hello');
    await addComment(card, 'ORANGE juice');

    await comment(card, 'approved').filter({ hasText: 'hello' }).waitFor({ timeout: MODERATION_TIMEOUT_MS });
    await comment(card, 'rejected')
      .filter({ hasText: 'This comment has been rejected' })
      .waitFor({ timeout: MODERATION_TIMEOUT_MS });

    expect(
      await card
        .getByTestId('comment')
        .evaluateAll((items) => items.map((item) => [item.getAttribute('data-status'), item.textContent])),
    ).toEqual([
      ['approved', 'hello'],
      ['rejected', 'This comment has been rejected'],
    ]);
    // The rejected text itself is never shown, and all of this happened in the page first loaded.
    expect(await card.textContent()).not.toContain('ORANGE');
    expect(await isSameDocument(page)).toBe(true);

    await page.screenshot({ path: path.join(ARTIFACTS, 'blog.png'), fullPage: true });
  });
});

test('markup in a title is shown as text and never runs', async () => {
  await withPage('xss', async (page, baseUrl) => {
    const title = `<b>x</b><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> ${Date.now()}`;
    const pwned = () => page.evaluate(() => (window as unknown as Record<string, unknown>).__pwned);

    await page.goto(baseUrl);
    const card = await createPost(page, title);
    expect(await card.locator('h3').textContent()).toBe(title);
    expect(await card.locator('b, script, img').count()).toBe(0);
    expect(await pwned()).toBeUndefined();

    // The same after a reload, when the title comes from the query service rather than from the form.
    await page.reload();
    const reloaded = page.getByTestId('post').filter({ hasText: title });
    await reloaded.waitFor();
    expect(await reloaded.locator('h3').textContent()).toBe(title);
    expect(
      await page.locator('[data-testid="post"] b, [data-testid="post"] script, [data-testid="post"] img').count(),
    ).toBe(0);
    expect(await pwned()).toBeUndefined();
  });
});

test('markup in a title and a comment shows as text, and never runs, in the tab that wrote them and in a tab that got them live', async () => {
  await withTabs('markup-live', 2, async ([writer, reader], baseUrl) => {
    if (!writer || !reader) throw new Error('two tabs are needed');
    // Were this text turned into elements, the <img> would set the marker from its onerror (src=x fails
    // to load), even when inserted as innerHTML; a <script> inserted that way never runs, but it would
    // still be an element, which the checks below look for.
    const stamp = `Markup ${Date.now()}`;
    const title = `${stamp} <img src=x onerror="window.__xss='title img'"><script>window.__xss='title script'</script>`;
    const content = `<img src=x onerror="window.__xss='comment img'"> <script>window.__xss='comment script'</script> <b>bold?</b>`;
    const marker = (page: Page) => page.evaluate(() => (window as unknown as Record<string, unknown>).__xss);

    await Promise.all([writer.goto(baseUrl), reader.goto(baseUrl)]);
    await Promise.all([connection(writer, 'live').waitFor(), connection(reader, 'live').waitFor()]);
    // Found by the plain part of the title, so that a title shown as HTML fails the checks below rather
    // than the search for its card.
    const written = await createPost(writer, title, stamp);
    await addComment(written, content);
    const received = reader.getByTestId('post').filter({ hasText: stamp });
    // The comment's text shows once moderation approves it, in the writer's tab and over the reader's stream.
    await comment(written, 'approved').waitFor({ timeout: MODERATION_TIMEOUT_MS });
    await comment(received, 'approved').waitFor({ timeout: MODERATION_TIMEOUT_MS });

    for (const [tab, page, card] of [
      ['writer', writer, written],
      ['reader', reader, received],
    ] as const) {
      const heading = card.locator('h3');
      const approved = comment(card, 'approved');
      expect([tab, await heading.innerText(), await heading.textContent()]).toEqual([tab, title, title]);
      expect([tab, await approved.innerText(), await approved.textContent()]).toEqual([tab, content, content]);
      // Text nodes only: nothing the markup names was built anywhere in the list of posts.
      expect([tab, await heading.locator('*').count(), await approved.locator('*').count()]).toEqual([tab, 0, 0]);
      expect([
        tab,
        await page.getByRole('region', { name: 'Posts', exact: true }).locator('img, script, b').count(),
      ]).toEqual([tab, 0]);
      expect([tab, await marker(page)]).toEqual([tab, undefined]);
    }
  });
});

test('what one tab creates, and each moderation result, appears in another tab live; after query restarts the tab catches up', async () => {
  await withTabs('live', 2, async ([writer, reader], baseUrl) => {
    if (!writer || !reader || !stack) throw new Error('two tabs and the stack are needed');
    await Promise.all([writer.goto(baseUrl), reader.goto(baseUrl)]);
    await Promise.all([connection(writer, 'live').waitFor(), connection(reader, 'live').waitFor()]);
    expect(await reader.getByTestId('connection').getAttribute('aria-live')).toBe('polite');
    await markDocument(reader);

    const title = `Live post ${Date.now()}`;
    const card = await createPost(writer, title);
    const seen = reader.getByTestId('post').filter({ hasText: title });
    await seen.waitFor();
    await addComment(card, 'hello');
    await addComment(card, 'ORANGE juice');
    await comment(seen, 'approved').filter({ hasText: 'hello' }).waitFor({ timeout: MODERATION_TIMEOUT_MS });
    await comment(seen, 'rejected').waitFor({ timeout: MODERATION_TIMEOUT_MS });
    expect(
      await seen.getByTestId('comment').evaluateAll((items) => items.map((item) => item.getAttribute('data-status'))),
    ).toEqual(['approved', 'rejected']);
    expect(await seen.textContent()).not.toContain('ORANGE');
    // Shown once in each tab: the writer's copy from its 201 answer is not doubled by the stream's.
    expect(await writer.getByTestId('post').filter({ hasText: title }).count()).toBe(1);
    expect(await card.getByTestId('comment').count()).toBe(2);

    // With query down the reader says so; posts still accepts a new post, which the writer shows at once.
    await stack.stop('query');
    await connection(reader, 'reconnecting').waitFor({ timeout: CATCH_UP_TIMEOUT_MS });
    const whileDown = `Made while query was down ${Date.now()}`;
    await createPost(writer, whileDown);

    await stack.start('query');
    await reader.getByTestId('post').filter({ hasText: whileDown }).waitFor({ timeout: CATCH_UP_TIMEOUT_MS });
    await connection(reader, 'live').waitFor({ timeout: CATCH_UP_TIMEOUT_MS });
    await connection(writer, 'live').waitFor({ timeout: CATCH_UP_TIMEOUT_MS });
    expect(await reader.getByTestId('post').filter({ hasText: title }).count()).toBe(1);
    expect(await reader.getByTestId('post').filter({ hasText: whileDown }).count()).toBe(1);
    expect(await writer.getByTestId('post').filter({ hasText: whileDown }).count()).toBe(1);
    expect(await isSameDocument(reader)).toBe(true);
  });
}, 180_000);

test('with query frozen (SIGSTOP) the page stops saying Live within two ping intervals, and is Live again once it resumes', async () => {
  await withPage('frozen', async (page, baseUrl) => {
    const pid = stack?.pid('query');
    if (pid === undefined) throw new Error('query is not running');
    await page.goto(baseUrl);
    await connection(page, 'live').waitFor();
    // Quiet but alive: the pings keep it Live for longer than two intervals.
    await page.waitForTimeout(3 * PING_MS);
    expect(await page.getByTestId('connection').getAttribute('data-state')).toBe('live');
    process.kill(pid, 'SIGSTOP');
    try {
      // A frozen process keeps its connections open and answers nothing: only the missing pings tell.
      await connection(page, 'reconnecting').waitFor({ timeout: 10 * PING_MS });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await connection(page, 'live').waitFor({ timeout: CATCH_UP_TIMEOUT_MS });
  });
}, 90_000);

// Last: the page then lists more posts than its first page holds.
test('a blog with more posts than the first page shows the newest, and older posts and comments on demand', async () => {
  if (!stack) throw new Error('the stack did not start (see beforeAll)');
  const run = Date.now().toString(36);
  const create = async (url: string, body: object) => {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status !== 201) throw new Error(`${url} answered ${res.status}`);
    return (await res.json()) as { id: string };
  };
  const oldest = await create(`${stack.url('posts')}/posts`, { title: `oldest ${run}` });
  for (let i = 0; i <= PAGES.commentsPerPost; i += 1)
    await create(`${stack.url('comments')}/posts/${oldest.id}/comments`, { content: `comment ${i} ${run}` });
  for (let batch = 0; batch < PAGES.defaultLimit; batch += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        create(`${stack!.url('posts')}/posts`, { title: `newer ${batch + i} ${run}` }),
      ),
    );
  }

  await withPage('older-pages', async (page, baseUrl) => {
    await page.goto(baseUrl);
    await page
      .getByTestId('post')
      .filter({ hasText: `newer ${PAGES.defaultLimit - 1} ${run}` })
      .waitFor();
    const oldestCard = page.getByTestId('post').filter({ hasText: `oldest ${run}` });
    expect(await oldestCard.count()).toBe(0);

    await page.getByRole('button', { name: 'Show older posts' }).click();
    await oldestCard.waitFor();
    await expect(oldestCard.getByTestId('comment').count()).resolves.toBe(PAGES.commentsPerPost);
    await oldestCard.getByRole('button', { name: 'Show older comments' }).click();
    await page.waitForFunction(
      ([card, expected]) => (card as Element).querySelectorAll('[data-testid="comment"]').length === expected,
      [await oldestCard.elementHandle(), PAGES.commentsPerPost + 1] as const,
    );
    await expect(oldestCard.getByRole('button', { name: 'Show older comments' }).count()).resolves.toBe(0);
  });
}, 120_000);
