/**
 * The blog's main flow against a stack that is already running — the containers `npm run test:containers`
 * starts (tools/containers/src/main.ts) — rather than processes this test starts itself. Through the client's
 * port, like a user: a post, an approved comment and a rejected one, over HTTP and then in headless
 * Chromium. BLOG_URL is the client; BLOG_EVENT_BUS_URL the event bus, to see each reaction stored once,
 * with BLOG_EVENTS_TOKEN, the EVENTS_TOKEN the manifests give the bus.
 *
 * Not part of `npm test` (no stack to point at there): main.ts runs it with
 * `jest --config tools/containers/jest.config.js`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { eventsHeaders, type Comment, type CommentStatus, type Post, type PostsView } from '@blog/common';
import type { Browser, Locator, Page } from 'playwright-core';
import { launchChromium } from '@blog/testkit/chromium';
import { http, waitFor, type HttpAnswer } from '@blog/testkit';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: this test runs against a running stack (npm run test:containers)`);
  return value.replace(/\/+$/, '');
}

const BLOG = required('BLOG_URL');
const BUS = required('BLOG_EVENT_BUS_URL');
const BUS_HEADERS = eventsHeaders(process.env.BLOG_EVENTS_TOKEN || undefined);
const ARTIFACTS = process.env.BLOG_ARTIFACTS ?? path.join(__dirname, '..', 'artifacts');
/** Moderation is a few hops away: comments → bus → moderation → bus → comments → bus → query. */
const MODERATION_TIMEOUT_MS = 20_000;

function expectAnswer(answer: HttpAnswer, status: number, what: string): unknown {
  if (answer.status !== status)
    throw new Error(`${what}: expected HTTP ${status}, got ${answer.status} ${answer.text.slice(0, 300)}`);
  return answer.json;
}

async function statusesInQuery(postId: string): Promise<Record<string, CommentStatus> | undefined> {
  const view = expectAnswer(await http(`${BLOG}/posts`), 200, 'GET /posts') as PostsView;
  const post = view[postId];
  return post && Object.fromEntries(post.comments.map((comment) => [comment.id, comment.status]));
}

describe('the blog in containers', () => {
  test('a post, an approved and a rejected comment, through the client port', async () => {
    const title = `Container post ${Date.now()}`;
    const post = expectAnswer(
      await http(`${BLOG}/posts/create`, { body: { title } }),
      201,
      'POST /posts/create',
    ) as Post;
    expect(post).toEqual({ id: expect.any(String), title });

    const comment = async (content: string) => {
      const created = expectAnswer(
        await http(`${BLOG}/posts/${post.id}/comments`, { body: { content } }),
        201,
        `POST /posts/${post.id}/comments`,
      ) as Comment;
      expect(created).toEqual({ id: expect.any(String), content, status: 'pending' });
      return created;
    };
    const hello = await comment('hello from a container');
    const orange = await comment('an orange from a container');
    const expected = { [hello.id]: 'approved', [orange.id]: 'rejected' };

    let last: Record<string, CommentStatus> | undefined;
    await waitFor(
      async () => {
        last = await statusesInQuery(post.id);
        return JSON.stringify(last) === JSON.stringify(expected);
      },
      {
        what: 'query to show one approved and one rejected comment',
        timeoutMs: MODERATION_TIMEOUT_MS,
        detail: () => `last seen: ${JSON.stringify(last)}`,
      },
    );
    // The comments service agrees, and the bus stored each decision and each update once.
    const listed = expectAnswer(await http(`${BLOG}/posts/${post.id}/comments`), 200, 'GET comments') as Comment[];
    expect(listed.map(({ id, status }) => [id, status])).toEqual([
      [hello.id, 'approved'],
      [orange.id, 'rejected'],
    ]);
    expect((await http(`${BUS}/events`)).status).toBe(BUS_HEADERS.authorization ? 401 : 200);
    const events = expectAnswer(
      await http(`${BUS}/events`, { headers: BUS_HEADERS }),
      200,
      'GET /events on the bus',
    ) as { type: string; data: { id?: string } }[];
    for (const { id } of [hello, orange]) {
      for (const type of ['CommentCreated', 'CommentModerated', 'CommentUpdated']) {
        expect([id, type, events.filter((event) => event.type === type && event.data.id === id).length]).toEqual([
          id,
          type,
          1,
        ]);
      }
    }
  });

  describe('in headless Chromium', () => {
    let browser: Browser | undefined;

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      browser = await launchChromium();
    });

    afterAll(async () => {
      await browser?.close();
    });

    const byStatus = (card: Locator, status: CommentStatus) =>
      card.locator(`[data-testid="comment"][data-status="${status}"]`);

    async function addComment(page: Page, card: Locator, content: string): Promise<void> {
      const before = await card.getByTestId('comment').count();
      await card.getByLabel('New comment').fill(content);
      await card.getByRole('button', { name: 'Submit' }).click();
      await card.getByTestId('comment').nth(before).waitFor();
      await page.waitForFunction(
        (input) => input instanceof HTMLInputElement && input.value === '',
        await card.getByLabel('New comment').elementHandle(),
      );
    }

    test('a post and two comments are moderated in the page, without a reload', async () => {
      if (!browser) throw new Error('Chromium did not start');
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(err.message));
      try {
        await page.goto(BLOG);
        const title = `Container browser post ${Date.now()}`;
        const titleInput = page.getByLabel('Title', { exact: true });
        await titleInput.fill(title);
        await page.locator('form').filter({ has: titleInput }).getByRole('button', { name: 'Submit' }).click();
        const card = page.getByTestId('post').filter({ hasText: title });
        await card.waitFor();

        await addComment(page, card, 'hello');
        await addComment(page, card, 'Orange juice');
        await byStatus(card, 'approved').filter({ hasText: 'hello' }).waitFor({ timeout: MODERATION_TIMEOUT_MS });
        await byStatus(card, 'rejected')
          .filter({ hasText: 'This comment has been rejected' })
          .waitFor({ timeout: MODERATION_TIMEOUT_MS });
        expect(await card.textContent()).not.toContain('Orange');
        expect(pageErrors).toEqual([]);
        await page.screenshot({ path: path.join(ARTIFACTS, 'blog.png'), fullPage: true });
      } catch (err) {
        await page
          .screenshot({ path: path.join(ARTIFACTS, 'failure-browser.png'), fullPage: true })
          .catch(() => undefined);
        throw err;
      } finally {
        await context.close();
      }
    });
  });
});
