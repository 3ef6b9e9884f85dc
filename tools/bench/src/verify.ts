/**
 * Correctness against the query service's final `GET /posts`: every acknowledged post and comment is there
 * exactly once (with the right id, post and status), and nothing else of this phase is. Stragglers are
 * waited for up to a bound before they count as lost.
 */
import { type CommentStatus, postsOfView } from '@blog/common/api';
import { delay } from '@blog/testkit';
import { JsonClient } from './http';
import { readWholeView } from './whole-view';

/** Where query (the view) and comments (a post's older comments) answer. */
export interface ServiceUrls {
  query: string;
  comments: string;
}

export interface AcknowledgedPost {
  id: string;
  title: string;
}

export interface AcknowledgedComment {
  id: string;
  postId: string;
  content: string;
  /** The status moderation must end with. */
  expected: Exclude<CommentStatus, 'pending'>;
}

export interface PostsVerdict {
  acknowledged: number;
  /** Acknowledged but not in the view (or shown under another id). */
  missing: number;
  /** Titles shown more than once. */
  duplicated: number;
  /** Titles of this phase shown although their create was never acknowledged. */
  unacknowledged: number;
  /** How long the check waited for stragglers. */
  waitedMs: number;
}

export interface CommentsVerdict {
  acknowledged: number;
  missing: number;
  duplicated: number;
  /** Shown under another post or id. */
  misplaced: number;
  /** Still 'pending' when the check gave up waiting. */
  unsettled: number;
  /** Settled with the other status than the orange rule gives. */
  wrongStatus: number;
  unacknowledged: number;
  waitedMs: number;
}

const POLL_INTERVAL_MS = 250;

export async function verifyPosts(
  urls: ServiceUrls,
  prefix: string,
  acknowledged: readonly AcknowledgedPost[],
  timeoutMs: number,
): Promise<PostsVerdict> {
  const { verdict, waitedMs } = await judgeUntilComplete(
    urls,
    timeoutMs,
    (view) => judgePosts(view, prefix, acknowledged),
    ({ missing }) => missing === 0,
  );
  return { ...verdict, waitedMs };
}

export async function verifyComments(
  urls: ServiceUrls,
  prefix: string,
  acknowledged: readonly AcknowledgedComment[],
  timeoutMs: number,
): Promise<CommentsVerdict> {
  const { verdict, waitedMs } = await judgeUntilComplete(
    urls,
    timeoutMs,
    (view) => judgeComments(view, prefix, acknowledged),
    ({ missing, unsettled }) => missing === 0 && unsettled === 0,
  );
  return { ...verdict, waitedMs };
}

/** Judges query's view again and again until it is complete or time is up; returns the last verdict. */
async function judgeUntilComplete<V>(
  urls: ServiceUrls,
  timeoutMs: number,
  judge: (view: unknown) => V,
  complete: (verdict: V) => boolean,
): Promise<{ verdict: V; waitedMs: number }> {
  const query = new JsonClient(urls.query, { connections: 1, timeoutMs: 30_000 });
  const comments = new JsonClient(urls.comments, { connections: 1, timeoutMs: 30_000 });
  const started = performance.now();
  try {
    for (;;) {
      const verdict = judge(await readWholeView(query, comments));
      const waitedMs = performance.now() - started;
      if (complete(verdict) || waitedMs >= timeoutMs) return { verdict, waitedMs };
      await delay(POLL_INTERVAL_MS);
    }
  } finally {
    await Promise.all([query.close(), comments.close()]);
  }
}

export function judgePosts(
  view: unknown,
  prefix: string,
  acknowledged: readonly AcknowledgedPost[],
): Omit<PostsVerdict, 'waitedMs'> {
  const idsByTitle = new Map<string, string[]>();
  for (const post of postsOfView(view) ?? []) {
    if (!post.title.startsWith(prefix)) continue;
    const ids = idsByTitle.get(post.title) ?? [];
    ids.push(post.id);
    idsByTitle.set(post.title, ids);
  }
  let missing = 0;
  let duplicated = 0;
  for (const { id, title } of acknowledged) {
    const ids = idsByTitle.get(title) ?? [];
    if (!ids.includes(id)) missing++;
    if (ids.length > 1) duplicated++;
  }
  const acknowledgedTitles = new Set(acknowledged.map(({ title }) => title));
  const unacknowledged = [...idsByTitle.keys()].filter((title) => !acknowledgedTitles.has(title)).length;
  return { acknowledged: acknowledged.length, missing, duplicated, unacknowledged };
}

export function judgeComments(
  view: unknown,
  prefix: string,
  acknowledged: readonly AcknowledgedComment[],
): Omit<CommentsVerdict, 'waitedMs'> {
  const shownByContent = new Map<string, { id: string; postId: string; status: CommentStatus }[]>();
  for (const post of postsOfView(view) ?? []) {
    for (const comment of post.comments) {
      if (!comment.content.startsWith(prefix)) continue;
      const shown = shownByContent.get(comment.content) ?? [];
      shown.push({ id: comment.id, postId: post.id, status: comment.status });
      shownByContent.set(comment.content, shown);
    }
  }
  const verdict = {
    acknowledged: acknowledged.length,
    missing: 0,
    duplicated: 0,
    misplaced: 0,
    unsettled: 0,
    wrongStatus: 0,
    unacknowledged: 0,
  };
  for (const { id, postId, content, expected } of acknowledged) {
    const shown = shownByContent.get(content) ?? [];
    const first = shown[0];
    if (first === undefined) {
      verdict.missing++;
      continue;
    }
    if (shown.length > 1) verdict.duplicated++;
    if (first.id !== id || first.postId !== postId) verdict.misplaced++;
    if (first.status === 'pending') verdict.unsettled++;
    else if (first.status !== expected) verdict.wrongStatus++;
  }
  const acknowledgedContents = new Set(acknowledged.map(({ content }) => content));
  verdict.unacknowledged = [...shownByContent.keys()].filter((content) => !acknowledgedContents.has(content)).length;
  return verdict;
}
