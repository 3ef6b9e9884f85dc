/**
 * Phase 3: comments through moderation at a fixed offered rate (open loop), one in five containing
 * "orange". A comment settles when query shows its final status; the latency runs from just before its
 * create request to that sighting. Comments still pending a bounded time after the last answer never settled.
 */
import { expectedModeration, summarize, type Summary, waitUntil } from '@blog/testkit';
import { JsonClient } from '../http';
import { latencyMs, runOpenLoop, type Attempt, type OpenLoopResult } from '../load';
import { observeQuery, type QueryObserver, type Resolution } from '../observe';
import { atMost, exactly, type Check, type Metric, type PhaseOutcome } from '../report/model';
import { waitForQuiet } from '../target';
import {
  verifyComments,
  verifyPosts,
  type AcknowledgedComment,
  type AcknowledgedPost,
  type CommentsVerdict,
} from '../verify';
import type { PhaseContext } from './context';
import { watchEventLoop, type EventLoopDelay } from './event-loop';
import {
  openLoopMetrics,
  openLoopNote,
  pollResolutionMetrics,
  sendingFigures,
  type SendingFigures,
} from './open-loop-figures';
import { acknowledgedCommentId, createdId, failedRequestsMetric, unanswered } from './outcomes';

const GOAL_P99_MS = 100;
/** Every fifth comment contains the blocked word. */
const ORANGE_EVERY = 5;

export type FinalStatus = 'approved' | 'rejected';

/** The rule the blog promises: a comment containing "orange" is rejected, every other approved. */
const expectedStatus = (content: string): FinalStatus => expectedModeration(content);

export interface ModerationDetails {
  resolution: Resolution;
  posts: number;
  sending: SendingFigures;
  /** comment sent → final status visible in query, measured (not warm-up) acknowledged comments. */
  settledMs: Summary;
  requestLatencyMs: Summary;
  /** Acknowledged comments without a final status in the settle window. */
  neverSettled: number;
  /** Settled with the other status than the orange rule gives. */
  wrongStatus: number;
  observerProblems: string[];
  benchEventLoopDelayMs: EventLoopDelay;
  verification: CommentsVerdict;
}

export async function runModerationPhase({
  target,
  profile,
  marker,
  progress,
}: PhaseContext): Promise<PhaseOutcome<ModerationDetails>> {
  const settings = profile.moderation;
  const prefix = `${marker} moderation `;
  const contentOf = (index: number) =>
    `${prefix}comment #${index}${index % ORANGE_EVERY === ORANGE_EVERY - 1 ? ', an orange one' : ''}`;
  const isAcknowledged = (attempt: Attempt) => acknowledgedCommentId(attempt, contentOf(attempt.index)) !== undefined;
  const observer = await observeQuery(target.urls.query, prefix);
  let posts: AcknowledgedPost[] = [];
  const postIdOf = (index: number) => (posts[index % posts.length] as AcknowledgedPost).id;
  let warmup: OpenLoopResult;
  let run: OpenLoopResult;
  const eventLoop = watchEventLoop();
  let benchEventLoopDelayMs: EventLoopDelay;
  try {
    posts = await createPosts(target.urls.posts, `${prefix}post `, settings.posts);
    const allSeen = await waitUntil(
      () => posts.every(({ title }) => observer.sightings.posts.has(title)),
      profile.verifyTimeoutMs,
    );
    if (!allSeen) throw new Error(`the ${posts.length} posts to comment on did not all become visible in query`);

    const client = new JsonClient(target.urls.comments, { connections: settings.maxInFlight });
    const send = (index: number) =>
      client.post(`/posts/${encodeURIComponent(postIdOf(index))}/comments`, { content: contentOf(index) });
    try {
      warmup = await runOpenLoop({ ...settings, durationMs: settings.warmupMs, send });
      run = await runOpenLoop({ ...settings, firstIndex: warmup.scheduled, send });
    } finally {
      await client.close();
    }
    const acknowledgedContents = [...warmup.attempts, ...run.attempts]
      .filter(isAcknowledged)
      .map((a) => contentOf(a.index));
    await waitUntil(
      () => acknowledgedContents.every((content) => finalStatusOf(observer, content) !== undefined),
      settings.settleMs,
    );
  } finally {
    benchEventLoopDelayMs = eventLoop.stop();
    await observer.close();
  }

  const acknowledged: AcknowledgedComment[] = [];
  let neverSettled = 0;
  let wrongStatus = 0;
  for (const attempt of [...warmup.attempts, ...run.attempts]) {
    const id = acknowledgedCommentId(attempt, contentOf(attempt.index));
    if (id === undefined) continue;
    const expected = expectedStatus(contentOf(attempt.index));
    acknowledged.push({ id, postId: postIdOf(attempt.index), content: contentOf(attempt.index), expected });
    const final = finalStatusOf(observer, contentOf(attempt.index));
    if (final === undefined) neverSettled++;
    else if (final.status !== expected) wrongStatus++;
  }
  const settled: number[] = [];
  const requestLatencies: number[] = [];
  for (const attempt of run.attempts) {
    if (!isAcknowledged(attempt)) continue;
    requestLatencies.push(latencyMs(attempt));
    const final = finalStatusOf(observer, contentOf(attempt.index));
    if (final) settled.push(final.at - attempt.sentAt);
  }
  const settledMs = summarize(settled);
  const requestLatencyMs = summarize(requestLatencies);
  const resolution = observer.resolution();
  progress(
    `moderation at ${settings.ratePerSecond}/s (${resolution.method}): final status p50 ${settledMs.p50?.toFixed(2)} ms, p99 ${settledMs.p99?.toFixed(2)} ms; ` +
      `${neverSettled} never settled, ${wrongStatus} wrong status`,
  );

  await waitForQuiet(target, profile.quietTimeoutMs);
  const verification = await verifyComments(target.urls, prefix, acknowledged, profile.verifyTimeoutMs);
  const postsVerdict = await verifyPosts(target.urls, `${prefix}post `, posts, profile.verifyTimeoutMs);
  const allAttempts: Attempt[] = [...warmup.attempts, ...run.attempts];
  const sending = sendingFigures(settings, run);
  const rate = settings.ratePerSecond;
  const how = resolution.method;
  const metrics: Metric[] = [
    {
      key: 'moderation.p50',
      label: `comment→final status p50 at ${rate}/s (${how})`,
      value: settledMs.p50,
      unit: 'ms',
    },
    {
      key: 'moderation.p99',
      label: `comment→final status p99 at ${rate}/s (${how})`,
      value: settledMs.p99,
      unit: 'ms',
      goal: atMost(GOAL_P99_MS),
    },
    {
      key: 'moderation.never-settled',
      label: `comments never settled (${settings.settleMs / 1000} s after the last answer)`,
      value: neverSettled,
      unit: 'count',
      goal: exactly(0),
    },
    {
      key: 'moderation.wrong-status',
      label: 'comments settled with the wrong status',
      value: wrongStatus,
      unit: 'count',
      goal: exactly(0),
    },
    ...openLoopMetrics('moderation', 'moderation', sending, requestLatencyMs),
    failedRequestsMetric('moderation.failed', 'moderation: requests not acknowledged', allAttempts, isAcknowledged),
    ...pollResolutionMetrics('moderation', 'moderation', resolution),
  ];
  return {
    metrics,
    checks: commentChecks(verification, unanswered(allAttempts), observer, postsVerdict.missing),
    notes: [
      `Moderation: ${settings.posts} posts first, then comments on them round robin, every ${ORANGE_EVERY}th containing "orange" (must end rejected, the others approved); ` +
        `${openLoopNote(settings)}; a comment settles when query shows it approved or rejected, measured from just before its create request by the same method as propagation. ` +
        `Event-loop delay of the bench process during the phase: p50 ${benchEventLoopDelayMs.p50?.toFixed(2) ?? '?'} ms, p99 ${benchEventLoopDelayMs.p99?.toFixed(2) ?? '?'} ms, max ${benchEventLoopDelayMs.max?.toFixed(1) ?? '?'} ms.`,
    ],
    details: {
      resolution,
      posts: posts.length,
      sending,
      settledMs,
      requestLatencyMs,
      neverSettled,
      wrongStatus,
      observerProblems: observer.problems,
      benchEventLoopDelayMs,
      verification,
    },
  };
}

/** The first final status seen for a comment, and when. */
function finalStatusOf(observer: QueryObserver, content: string): { status: FinalStatus; at: number } | undefined {
  const sighting = observer.sightings.comments.get(content);
  if (!sighting) return undefined;
  const { approved, rejected } = sighting.firstAt;
  if (approved !== undefined && (rejected === undefined || approved <= rejected))
    return { status: 'approved', at: approved };
  if (rejected !== undefined) return { status: 'rejected', at: rejected };
  return undefined;
}

async function createPosts(postsUrl: string, titlePrefix: string, count: number): Promise<AcknowledgedPost[]> {
  const client = new JsonClient(postsUrl, { connections: 1 });
  try {
    const posts: AcknowledgedPost[] = [];
    for (let i = 0; i < count; i++) {
      const title = `${titlePrefix}${i}`;
      const answer = await client.post('/posts/create', { title });
      const id = createdId(answer.status, answer.body);
      if (id === undefined) throw new Error(`creating the post "${title}" to comment on answered ${answer.status}`);
      posts.push({ id, title });
    }
    return posts;
  } finally {
    await client.close();
  }
}

function commentChecks(
  verdict: CommentsVerdict,
  unansweredRequests: number,
  observer: QueryObserver,
  postsMissing: number,
): Check[] {
  const waited = `after ${(verdict.waitedMs / 1000).toFixed(1)} s`;
  return [
    {
      key: 'moderation.comments-visible',
      label: 'moderation: every acknowledged comment visible in query, under its post',
      ok: verdict.acknowledged > 0 && verdict.missing === 0 && verdict.misplaced === 0 && postsMissing === 0,
      detail: `${verdict.acknowledged - verdict.missing} of ${verdict.acknowledged} visible ${waited}; ${verdict.misplaced} misplaced; ${postsMissing} posts missing`,
    },
    {
      key: 'moderation.comments-final',
      label: 'moderation: every comment ends approved, or rejected when it contains "orange"',
      ok: verdict.unsettled === 0 && verdict.wrongStatus === 0,
      detail: `${verdict.unsettled} still pending ${waited}; ${verdict.wrongStatus} with the wrong status`,
    },
    {
      key: 'moderation.comments-once',
      label: 'moderation: no comment shown twice',
      ok: verdict.duplicated === 0 && observer.sightings.duplicates.size === 0,
      detail: `${verdict.duplicated} duplicated in the final view; ${observer.sightings.duplicates.size} seen under two ids`,
    },
    {
      key: 'moderation.comments-phantom',
      label: 'moderation: no comment shown that was not acknowledged',
      ok: verdict.unacknowledged <= unansweredRequests,
      detail: `${verdict.unacknowledged} shown without a 201 (${unansweredRequests} requests got no answer and may exist)`,
    },
    {
      key: 'moderation.observer',
      label: 'moderation: the observer saw the whole phase',
      ok: observer.problems.length === 0,
      detail: observer.problems.join('; ') || 'no problems',
    },
  ];
}
