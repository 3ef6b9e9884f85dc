/**
 * The load generator for fault injection: a steady, open-loop mix of post and comment creates sent straight
 * to the posts and comments services (not through the gateway, so that a dead target answers ECONNREFUSED,
 * which means "not created"), over keep-alive connections (Node's global fetch). Each request goes into
 * the Ledger with a unique marker in its title or content. Everything talks to 127.0.0.1 only; every run is
 * bounded in time and in requests in flight.
 */
import { performance } from 'node:perf_hooks';
import { answerCode, describeRequestError, inTurn } from '@blog/common';
import { percentile, Random } from '@blog/testkit';
import {
  type CommentRecord,
  expectedStatus,
  type Ledger,
  type Outcome,
  OUTCOMES,
  type PostRecord,
  type RecordBase,
} from './ledger';

export interface LoadOptions {
  /** Where posts are created; with several URLs (replicas), requests take them in turn. */
  postsUrl: string | readonly string[];
  commentsUrl: string | readonly string[];
  ledger: Ledger;
  /** Scenario name, recorded with every request; also part of every marker. */
  scenario: string;
  /** Prefix of every marker, unique per test run (so markers never collide across runs). */
  runId: string;
  /** Requests per second, posts and comments together. */
  ratePerSecond: number;
  /** Share of requests that create a post (the rest comment on an acknowledged post). Default 0.2. */
  postShare?: number;
  /** Share of comments that contain "orange". Default 0.2. */
  orangeShare?: number;
  seed: number;
  /** Requests in flight at most; a request due while this many are in flight is shed (counted). Default 64. */
  maxInFlight?: number;
  /** Timeout of one request. Default 6 s (services give up on the bus after 3 s). */
  requestTimeoutMs?: number;
  /** Hard bound: the generator stops issuing after this long even if nobody calls stop(). Default 30 s. */
  maxDurationMs?: number;
}

export interface LoadReport {
  scenario: string;
  /** Time spent issuing requests (pauses excluded). */
  durationMs: number;
  /** Requests sent. */
  sent: number;
  /** Requests due while maxInFlight were in flight, not sent. */
  shed: number;
  /** Outcomes by kind. */
  posts: Record<Outcome, number>;
  comments: Record<Outcome, number>;
  /** Latency percentiles of acknowledged requests, ms. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Acknowledged requests per second over the run. */
  acknowledgedPerSecond: number;
}

export interface LoadRun {
  /** Stops issuing, waits for the requests in flight, and reports. */
  stop(): Promise<LoadReport>;
  /** Stops issuing for a while (requests in flight go on); resume() picks up at the same rate, without a burst. */
  pause(): void;
  resume(): void;
  /** Requests answered so far, by outcome (both kinds). */
  progress(): Record<Outcome, number>;
}

const TICK_MS = 5;

const APPROVED_TEXTS = ['hello there', 'nice post', 'I agree', 'what a read', 'apples and pears', 'well said'];
const ORANGE_TEXTS = [
  'orange',
  'I like ORANGE juice',
  'an Orange a day',
  'blood-orange',
  'oRaNgE you glad',
  'orangery',
];

/** Starts a steady load; call stop() to end it. */
export function startLoad(options: LoadOptions): LoadRun {
  const {
    postsUrl,
    commentsUrl,
    ledger,
    scenario,
    runId,
    ratePerSecond,
    postShare = 0.2,
    orangeShare = 0.2,
    seed,
    maxInFlight = 64,
    requestTimeoutMs = 6_000,
    maxDurationMs = 30_000,
  } = options;
  if (/orange/i.test(runId + scenario)) throw new Error('markers must not contain "orange"');
  const random = new Random(seed);
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  const latencies: number[] = [];
  const posts = emptyCounts();
  const comments = emptyCounts();
  let due = 0;
  let sent = 0;
  let shed = 0;
  let counter = 0;
  let stoppedAt: number | undefined;
  let pausedAt: number | undefined;
  let pausedMs = 0;

  const send = () => {
    const n = ++counter;
    const marker = `${runId}-${scenario}-${n}`;
    const postIds = ledger.postIds;
    const request =
      postIds.length === 0 || random.chance(postShare)
        ? createPost(marker)
        : createComment(marker, random.pick(postIds));
    sent++;
    const tracked = request.then((record) => {
      ledger.add(record);
      (record.kind === 'post' ? posts : comments)[record.outcome]++;
      if (record.outcome === 'acknowledged') latencies.push(record.latencyMs);
    });
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
  };

  const nextPostsUrl = inTurn(postsUrl);
  const nextCommentsUrl = inTurn(commentsUrl);

  const createPost = async (marker: string): Promise<PostRecord> => {
    const title = `post ${marker}`;
    const result = await create(`${nextPostsUrl()}/posts/create`, { title }, requestTimeoutMs);
    return { kind: 'post', marker, scenario, title, ...result };
  };

  const createComment = async (marker: string, postId: string): Promise<CommentRecord> => {
    const text = random.chance(orangeShare) ? random.pick(ORANGE_TEXTS) : random.pick(APPROVED_TEXTS);
    const content = `${marker} ${text}`;
    const result = await create(`${nextCommentsUrl()}/posts/${postId}/comments`, { content }, requestTimeoutMs);
    return { kind: 'comment', marker, scenario, postId, content, expected: expectedStatus(content), ...result };
  };

  const timer = setInterval(() => {
    const elapsed = performance.now() - started;
    if (elapsed >= maxDurationMs) {
      halt();
      return;
    }
    const target = Math.floor((elapsed / 1_000) * ratePerSecond);
    if (pausedAt !== undefined) {
      due = target;
      return;
    }
    while (due < target) {
      due++;
      if (inFlight.size >= maxInFlight) shed++;
      else send();
    }
  }, TICK_MS);

  function halt(): void {
    if (stoppedAt !== undefined) return;
    stoppedAt = performance.now();
    clearInterval(timer);
  }

  return {
    pause: () => {
      pausedAt ??= performance.now();
    },
    resume: () => {
      if (pausedAt === undefined) return;
      pausedMs += performance.now() - pausedAt;
      pausedAt = undefined;
    },
    progress: () => {
      const total = emptyCounts();
      for (const outcome of OUTCOMES) total[outcome] = posts[outcome] + comments[outcome];
      return total;
    },
    stop: async () => {
      halt();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      const end = stoppedAt ?? performance.now();
      // Time spent issuing requests: paused time does not count.
      const durationMs = end - started - pausedMs - (pausedAt !== undefined ? end - pausedAt : 0);
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        scenario,
        durationMs: Math.round(durationMs),
        sent,
        shed,
        posts,
        comments,
        p50Ms: round1(percentile(sorted, 50) ?? 0),
        p99Ms: round1(percentile(sorted, 99) ?? 0),
        maxMs: round1(sorted[sorted.length - 1] ?? 0),
        acknowledgedPerSecond: Math.round((posts.acknowledged + comments.acknowledged) / (durationMs / 1_000)),
      };
    },
  };
}

/** What a record says of the answer to its request. */
type CreateResult = Pick<
  RecordBase,
  'outcome' | 'id' | 'httpStatus' | 'error' | 'retryAfter' | 'latencyMs' | 'answeredAt'
>;

/** One create request, classified. Never throws. */
async function create(url: string, body: Record<string, string>, timeoutMs: number): Promise<CreateResult> {
  const started = performance.now();
  const latency = () => round1(performance.now() - started);
  const answeredAt = Date.now;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const reason = describeRequestError(err);
    // Refused: nothing listened on the port, so the request was never received. Anything else (a reset,
    // "other side closed", a timeout) may have happened after the service got the request.
    return {
      outcome: reason === 'ECONNREFUSED' ? 'unreached' : 'ambiguous',
      error: reason,
      latencyMs: latency(),
      answeredAt: answeredAt(),
    };
  }
  let text: string;
  try {
    text = await response.text();
  } catch (err) {
    // The status line came but the body broke off: a 201 may have been meant.
    return {
      outcome: 'ambiguous',
      httpStatus: response.status,
      error: `body: ${describeRequestError(err)}`,
      latencyMs: latency(),
      answeredAt: answeredAt(),
    };
  }
  if (response.status === 201) {
    const id = idOf(text);
    if (id !== undefined)
      return { outcome: 'acknowledged', id, httpStatus: 201, latencyMs: latency(), answeredAt: answeredAt() };
    return {
      outcome: 'ambiguous',
      httpStatus: 201,
      error: `201 without an id: ${text.slice(0, 200)}`,
      latencyMs: latency(),
      answeredAt: answeredAt(),
    };
  }
  const outcome = outcomeOfRefusal(response.status, text);
  return {
    outcome,
    httpStatus: response.status,
    error: text.slice(0, 300),
    retryAfter: response.headers.get('retry-after') ?? undefined,
    latencyMs: latency(),
    answeredAt: answeredAt(),
  };
}

/** What a refusal means for the request, by its code: it may exist, or it must not. */
function outcomeOfRefusal(status: number, text: string): Outcome {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: its status alone
  }
  const code = answerCode(status, body);
  if (code === 'outcome_unknown') return 'unconfirmed';
  return code === 'unavailable' ? 'refused' : 'rejected';
}

function idOf(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as { id?: unknown } | null)?.id;
    return typeof id === 'string' && id !== '' ? id : undefined;
  } catch {
    return undefined;
  }
}

export function emptyCounts(): Record<Outcome, number> {
  return { acknowledged: 0, refused: 0, unconfirmed: 0, rejected: 0, unreached: 0, ambiguous: 0 };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
