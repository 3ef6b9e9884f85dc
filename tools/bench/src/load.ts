/**
 * Load generators. Closed loop: a fixed number of workers, each sending its next request as soon as the
 * previous one is answered (measures throughput). Open loop: sends scheduled at a fixed rate whatever the
 * answers do, with a cap on requests in flight (measures latency at a given offered load without the
 * generator slowing down with the target).
 */
import { describeRequestError } from '@blog/common';
import type { JsonAnswer } from './http';

export type Send = (index: number) => Promise<JsonAnswer>;

export interface Attempt {
  index: number;
  /** performance.now() just before the request was handed to the HTTP client. */
  sentAt: number;
  /** When the answer (or the failure) was complete; NaN while in flight. */
  doneAt: number;
  /** HTTP status, or null when no answer came. */
  status: number | null;
  body: unknown;
  /** Why no answer came (error code). */
  failure?: string;
}

export function latencyMs(attempt: Attempt): number {
  return attempt.doneAt - attempt.sentAt;
}

function launch(index: number, send: Send): { attempt: Attempt; done: Promise<void> } {
  const attempt: Attempt = { index, sentAt: performance.now(), doneAt: Number.NaN, status: null, body: undefined };
  const done = send(index).then(
    (answer) => {
      attempt.doneAt = performance.now();
      attempt.status = answer.status;
      attempt.body = answer.body;
    },
    (err: unknown) => {
      attempt.doneAt = performance.now();
      attempt.failure = describeRequestError(err);
    },
  );
  return { attempt, done };
}

// ---- Closed loop ---------------------------------------------------------------------------------

export interface ClosedLoopOptions {
  concurrency: number;
  /** Stop starting requests after this long… */
  durationMs: number;
  /** …or after this many, whichever comes first. */
  maxRequests: number;
  /** Index of the first request (so that warm-up and measurement never reuse one). */
  firstIndex?: number;
  send: Send;
}

export interface ClosedLoopResult {
  attempts: Attempt[];
  /** From the first send to the last answer. */
  elapsedMs: number;
}

export async function runClosedLoop({
  concurrency,
  durationMs,
  maxRequests,
  firstIndex = 0,
  send,
}: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const attempts: Attempt[] = [];
  const start = performance.now();
  const deadline = start + durationMs;
  let started = 0;
  const worker = async () => {
    while (started < maxRequests && performance.now() < deadline) {
      const { attempt, done } = launch(firstIndex + started++, send);
      attempts.push(attempt);
      await done;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { attempts, elapsedMs: elapsedOf(attempts) };
}

// ---- Open loop -----------------------------------------------------------------------------------

export interface OpenLoopOptions {
  ratePerSecond: number;
  durationMs: number;
  /** A send that falls due while this many are in flight is skipped and counted as shed. */
  maxInFlight: number;
  firstIndex?: number;
  send: Send;
}

export interface OpenLoopResult {
  attempts: Attempt[];
  /** Sends the schedule asked for. */
  scheduled: number;
  /** Sends skipped because maxInFlight requests were outstanding when they fell due. */
  shed: number;
  /** How late each send left compared with its slot in the schedule (timer granularity, busy event loop). */
  scheduleLagMs: number[];
  /** From the first send to the last answer. */
  elapsedMs: number;
}

export async function runOpenLoop({
  ratePerSecond,
  durationMs,
  maxInFlight,
  firstIndex = 0,
  send,
}: OpenLoopOptions): Promise<OpenLoopResult> {
  const scheduled = Math.max(1, Math.round((ratePerSecond * durationMs) / 1000));
  const intervalMs = 1000 / ratePerSecond;
  const attempts: Attempt[] = [];
  const scheduleLagMs: number[] = [];
  const pending = new Set<Promise<void>>();
  let shed = 0;
  let next = 0;
  const start = performance.now();
  while (next < scheduled) {
    const now = performance.now();
    while (next < scheduled && start + next * intervalMs <= now) {
      const slot = start + next * intervalMs;
      const index = firstIndex + next++;
      if (pending.size >= maxInFlight) {
        shed++;
        continue;
      }
      scheduleLagMs.push(performance.now() - slot);
      const { attempt, done } = launch(index, send);
      attempts.push(attempt);
      pending.add(done);
      void done.then(() => pending.delete(done));
    }
    if (next < scheduled) await sleep(start + next * intervalMs - performance.now());
  }
  await Promise.all(pending);
  return { attempts, scheduled, shed, scheduleLagMs, elapsedMs: elapsedOf(attempts) };
}

/** Timers fire in whole milliseconds; waiting at least 1 ms keeps the generator from spinning a core. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.floor(ms))));
}

function elapsedOf(attempts: readonly Attempt[]): number {
  if (attempts.length === 0) return 0;
  let first = Infinity;
  let last = -Infinity;
  for (const { sentAt, doneAt } of attempts) {
    first = Math.min(first, sentAt);
    last = Math.max(last, doneAt);
  }
  return last - first;
}
