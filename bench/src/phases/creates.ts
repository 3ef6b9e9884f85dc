/**
 * Phase 1: post creates, closed loop at each concurrency (workers send their next create as soon as the
 * previous one is answered). A short warm-up per level is sent but not measured. Throughput counts 201s
 * only, over the time from the first measured send to the last answer.
 */
import { summarize, type Summary } from '@blog/testkit';
import { JsonClient } from '../http';
import { latencyMs, runClosedLoop, type Attempt } from '../load';
import { atLeast, type Metric, type PhaseOutcome } from '../report/model';
import { waitForQuiet } from '../target';
import { verifyPosts, type AcknowledgedPost, type PostsVerdict } from '../verify';
import type { PhaseContext } from './context';
import { acknowledgedId, answers, failedRequestsMetric, postChecks, unanswered } from './outcomes';

/** The issue's throughput goal, at the highest concurrency. */
const GOAL_CONCURRENCY = 50;
const GOAL_CREATES_PER_SECOND = 3_000;

export interface CreatesLevel {
  concurrency: number;
  warmupRequests: number;
  requests: number;
  acknowledged: number;
  elapsedMs: number;
  createsPerSecond: number;
  /** Latency of the acknowledged (201) requests. */
  latencyMs: Summary;
  answers: Record<string, number>;
  /** Time spent waiting for the bus to deliver this level's events before the next level. */
  drainMs: number;
}

export interface CreatesDetails {
  levels: CreatesLevel[];
  verification: PostsVerdict;
}

export async function runCreatesPhase({ target, profile, marker, progress }: PhaseContext): Promise<PhaseOutcome<CreatesDetails>> {
  const settings = profile.creates;
  const prefix = `${marker} creates `;
  const acknowledged: AcknowledgedPost[] = [];
  const allAttempts: Attempt[] = [];
  const levels: CreatesLevel[] = [];

  for (const concurrency of settings.concurrencies) {
    const client = new JsonClient(target.urls.posts, { connections: concurrency });
    const titleOf = (index: number) => `${prefix}c${concurrency} #${index}`;
    const send = (index: number) => client.post('/posts/create', { title: titleOf(index) });
    let warmup: Attempt[];
    let measured: Attempt[];
    let elapsedMs: number;
    try {
      warmup = (await runClosedLoop({ concurrency, durationMs: settings.warmupMs, maxRequests: settings.warmupMaxRequests, send })).attempts;
      const run = await runClosedLoop({
        concurrency,
        durationMs: settings.durationMs,
        maxRequests: settings.maxRequests,
        firstIndex: warmup.length,
        send,
      });
      measured = run.attempts;
      elapsedMs = run.elapsedMs;
    } finally {
      await client.close();
    }
    for (const attempt of [...warmup, ...measured]) {
      allAttempts.push(attempt);
      const id = acknowledgedId(attempt);
      if (id !== undefined) acknowledged.push({ id, title: titleOf(attempt.index) });
    }
    const acknowledgedMeasured = measured.filter((attempt) => acknowledgedId(attempt) !== undefined);
    const { waitedMs: drainMs } = await waitForQuiet(target, profile.quietTimeoutMs);
    const level: CreatesLevel = {
      concurrency,
      warmupRequests: warmup.length,
      requests: measured.length,
      acknowledged: acknowledgedMeasured.length,
      elapsedMs,
      createsPerSecond: elapsedMs > 0 ? (acknowledgedMeasured.length * 1000) / elapsedMs : 0,
      latencyMs: summarize(acknowledgedMeasured.map(latencyMs)),
      answers: answers(measured),
      drainMs,
    };
    levels.push(level);
    progress(
      `creates c=${concurrency}: ${level.createsPerSecond.toFixed(0)}/s, p50 ${level.latencyMs.p50?.toFixed(1)} ms, p99 ${level.latencyMs.p99?.toFixed(1)} ms ` +
        `(${level.acknowledged}/${level.requests} acknowledged${target.urls.bus ? `; all delivered ${(drainMs / 1000).toFixed(1)} s later` : ''})`,
    );
  }

  const verification = await verifyPosts(target.urls.query, prefix, acknowledged, profile.verifyTimeoutMs);
  const metrics: Metric[] = levels.flatMap((level) => levelMetrics(level));
  metrics.push(failedRequestsMetric('creates.failed', 'creates: requests not acknowledged', allAttempts));
  return {
    metrics,
    checks: postChecks('creates', verification, unanswered(allAttempts)),
    notes: [
      `Creates: closed loop over keep-alive connections (one request per connection at a time), concurrency ${settings.concurrencies.join(', ')}; ` +
        `per level a warm-up (≤ ${settings.warmupMs} ms) is not measured, then ≤ ${settings.durationMs} ms or ${settings.maxRequests} requests; ` +
        'creates/s = 201 answers ÷ (last answer − first send); latency of the 201s. Between levels the bench waits until the bus has delivered everything.',
    ],
    details: { levels, verification },
  };
}

function levelMetrics(level: CreatesLevel): Metric[] {
  const c = level.concurrency;
  const rate: Metric = { key: `creates.c${c}.rate`, label: `post creates/s, c=${c}`, value: level.createsPerSecond, unit: 'creates/s' };
  if (c === GOAL_CONCURRENCY) rate.goal = atLeast(GOAL_CREATES_PER_SECOND);
  return [
    rate,
    { key: `creates.c${c}.p50`, label: `create latency p50, c=${c}`, value: level.latencyMs.p50, unit: 'ms' },
    { key: `creates.c${c}.p99`, label: `create latency p99, c=${c}`, value: level.latencyMs.p99, unit: 'ms' },
  ];
}
