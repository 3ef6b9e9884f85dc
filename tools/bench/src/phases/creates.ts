/**
 * Phase 1: post creates, closed loop at each concurrency (workers send their next create as soon as the
 * previous one is answered). The headline figures are keyed creates: a new Idempotency-Key on every
 * request, as the page sends them. Beside them, in the same run and round by round, the same creates
 * without a key and, at c=50, a bare Express 5 JSON POST handler (the framework's own cost): each kind
 * gets its share of every round, each round starting with another kind, so that a machine slowing down
 * mid-run weighs on all of them alike.
 * A short warm-up per round is sent but not measured. Throughput counts 201s only, over the time from
 * the first measured send to the last answer, summed over the rounds.
 */
import { summarize, type Summary } from '@blog/testkit';
import { startBareExpress, type Baseline } from '../baseline/launch';
import { JsonClient } from '../http';
import { latencyMs, runClosedLoop, type Attempt } from '../load';
import { atLeast, type Metric, type PhaseOutcome } from '../report/model';
import { waitForQuiet } from '../target';
import { verifyPosts, type AcknowledgedPost, type PostsVerdict } from '../verify';
import type { PhaseContext } from './context';
import { acknowledgedId, answers, failedRequestsMetric, postChecks, unanswered } from './outcomes';

/** The concurrency of the goals and of the comparisons. */
export const GOAL_CONCURRENCY = 50;
const GOAL_CREATES_PER_SECOND = 3_000;
/** A create as the page sends it costs at most a tenth more than one without a key (issue 21). */
const GOAL_KEYED_RATIO = 0.9;
/** The blog's create keeps at least 80 % of what Express itself does with a JSON POST (issue 21). */
const GOAL_FRAMEWORK_RATIO = 0.8;

/** How the creates of a measurement are sent. */
export type CreateKind = 'keyed' | 'unkeyed' | 'bare';

export interface CreatesLevel {
  concurrency: number;
  kind: CreateKind;
  rounds: number;
  warmupRequests: number;
  requests: number;
  acknowledged: number;
  elapsedMs: number;
  createsPerSecond: number;
  /** Latency of the acknowledged (201) requests. */
  latencyMs: Summary;
  answers: Record<string, number>;
  /** Time spent waiting for the bus to deliver this measurement's events before the next one. */
  drainMs: number;
}

export interface CreatesDetails {
  levels: CreatesLevel[];
  verification: PostsVerdict;
}

export interface CreatesOptions {
  /**
   * Measure creates without a key and the bare Express baseline beside the keyed ones. The JetStream phase
   * measures keyed creates only, against the file log's.
   */
  compare?: boolean;
}

interface Measurement {
  warmup: Attempt[];
  measured: Attempt[];
  elapsedMs: number;
  drainMs: number;
}

export async function runCreatesPhase(
  { target, profile, marker, progress }: PhaseContext,
  { compare = true }: CreatesOptions = {},
): Promise<PhaseOutcome<CreatesDetails>> {
  const settings = profile.creates;
  const prefix = `${marker} creates `;
  const acknowledged: AcknowledgedPost[] = [];
  const allAttempts: Attempt[] = [];
  const levels: CreatesLevel[] = [];
  const rounds = compare ? settings.rounds : 1;
  const baseline: Baseline | undefined =
    compare && settings.concurrencies.includes(GOAL_CONCURRENCY) ? await startBareExpress() : undefined;

  try {
    for (const concurrency of settings.concurrencies) {
      const kinds: CreateKind[] = !compare
        ? ['keyed']
        : concurrency === GOAL_CONCURRENCY
          ? ['keyed', 'unkeyed', 'bare']
          : ['keyed', 'unkeyed'];
      const titleOf = (kind: CreateKind, index: number) => `${prefix}c${concurrency} ${kind} #${index}`;
      const clients = new Map(
        kinds.map((kind) => [
          kind,
          new JsonClient(kind === 'bare' ? (baseline?.url as string) : target.urls.posts, { connections: concurrency }),
        ]),
      );
      const sendOf = (kind: CreateKind) => {
        const client = clients.get(kind) as JsonClient;
        const key = (index: number) => ({ 'Idempotency-Key': `${marker}-c${concurrency}-${index}` });
        return (index: number) =>
          client.post('/posts/create', { title: titleOf(kind, index) }, kind === 'keyed' ? key(index) : {});
      };
      const measurements = new Map<CreateKind, Measurement>(
        kinds.map((kind) => [kind, { warmup: [], measured: [], elapsedMs: 0, drainMs: 0 }]),
      );
      try {
        for (let round = 0; round < rounds; round++) {
          // Each round starts with another kind, so that none is always measured first after a drain.
          for (const kind of kinds.map((_, index) => kinds[(index + round) % kinds.length] as CreateKind)) {
            const measurement = measurements.get(kind) as Measurement;
            const send = sendOf(kind);
            const next = () => measurement.warmup.length + measurement.measured.length;
            const warmup = await runClosedLoop({
              concurrency,
              durationMs: settings.warmupMs,
              maxRequests: settings.warmupMaxRequests,
              firstIndex: next(),
              send,
            });
            measurement.warmup.push(...warmup.attempts);
            const run = await runClosedLoop({
              concurrency,
              durationMs: settings.durationMs / rounds,
              maxRequests: Math.ceil(settings.maxRequests / rounds),
              firstIndex: next(),
              send,
            });
            measurement.measured.push(...run.attempts);
            measurement.elapsedMs += run.elapsedMs;
            if (kind !== 'bare') measurement.drainMs += (await waitForQuiet(target, profile.quietTimeoutMs)).waitedMs;
          }
        }
      } finally {
        await Promise.all([...clients.values()].map((client) => client.close()));
      }
      for (const [kind, measurement] of measurements) {
        if (kind !== 'bare') {
          for (const attempt of [...measurement.warmup, ...measurement.measured]) {
            allAttempts.push(attempt);
            const id = acknowledgedId(attempt);
            if (id !== undefined) acknowledged.push({ id, title: titleOf(kind, attempt.index) });
          }
        }
        const level = levelOf(concurrency, kind, rounds, measurement);
        levels.push(level);
        progress(
          `creates c=${concurrency} ${kind}: ${level.createsPerSecond.toFixed(0)}/s, p50 ${level.latencyMs.p50?.toFixed(1)} ms, p99 ${level.latencyMs.p99?.toFixed(1)} ms ` +
            `(${level.acknowledged}/${level.requests} acknowledged${target.urls.bus && kind !== 'bare' ? `; all delivered ${(level.drainMs / 1000).toFixed(1)} s later` : ''})`,
        );
      }
    }
  } finally {
    await baseline?.stop();
  }

  const verification = await verifyPosts(target.urls, prefix, acknowledged, profile.verifyTimeoutMs);
  const metrics: Metric[] = [...levels.flatMap(levelMetrics), ...comparisonMetrics(levels)];
  metrics.push(failedRequestsMetric('creates.failed', 'creates: requests not acknowledged', allAttempts));
  const compared = compare
    ? ` Beside them, taking turns round by round, each round starting with another (${rounds} rounds, each kind measured for ${settings.durationMs / rounds} ms a round after its own warm-up): the same creates without a key and, at c=${GOAL_CONCURRENCY}, a bare Express 5 app answering a JSON POST with 201 (tools/bench/src/baseline/bare-express.ts: no validation, no event, no log), its own process on this machine.`
    : '';
  return {
    metrics,
    checks: postChecks('creates', verification, unanswered(allAttempts)),
    notes: [
      `Creates: closed loop over keep-alive connections (one request per connection at a time), concurrency ${settings.concurrencies.join(', ')}; ` +
        `each with a new Idempotency-Key, as the page sends them; per measurement a warm-up (≤ ${settings.warmupMs} ms) is not measured, then ≤ ${settings.durationMs} ms or ${settings.maxRequests} requests in all; ` +
        `creates/s = 201 answers ÷ (last answer − first send); latency of the 201s. After each measurement the bench waits until the bus has delivered everything.${compared}`,
    ],
    details: { levels, verification },
  };
}

function levelOf(
  concurrency: number,
  kind: CreateKind,
  rounds: number,
  { warmup, measured, elapsedMs, drainMs }: Measurement,
): CreatesLevel {
  const acknowledgedMeasured = measured.filter((attempt) => acknowledgedId(attempt) !== undefined);
  return {
    concurrency,
    kind,
    rounds,
    warmupRequests: warmup.length,
    requests: measured.length,
    acknowledged: acknowledgedMeasured.length,
    elapsedMs,
    createsPerSecond: elapsedMs > 0 ? (acknowledgedMeasured.length * 1000) / elapsedMs : 0,
    latencyMs: summarize(acknowledgedMeasured.map(latencyMs)),
    answers: answers(measured),
    drainMs,
  };
}

/** The keyed creates/s at c=50 of a run's levels: the headline figure. */
export function keyedRateAtGoal(levels: readonly CreatesLevel[]): number | undefined {
  return rateOf(levels, GOAL_CONCURRENCY, 'keyed');
}

function rateOf(levels: readonly CreatesLevel[], concurrency: number, kind: CreateKind): number | undefined {
  return levels.find((level) => level.concurrency === concurrency && level.kind === kind)?.createsPerSecond;
}

/** Per kind: the metric key's infix, the rate's label, and what a latency is of. */
const KIND_LABELS: Record<CreateKind, { key: string; label: (c: number) => string; what: string }> = {
  keyed: { key: '', label: (c) => `post creates/s, c=${c}, a new Idempotency-Key each (as the page)`, what: 'create' },
  unkeyed: { key: '.unkeyed', label: (c) => `post creates/s, c=${c}, without a key`, what: 'create without a key' },
  bare: { key: '.bare', label: (c) => `bare Express 5 JSON POST/s, c=${c}`, what: 'bare Express 5 POST' },
};

function levelMetrics(level: CreatesLevel): Metric[] {
  const c = level.concurrency;
  const { key, label, what } = KIND_LABELS[level.kind];
  const rate: Metric = {
    key: `creates.c${c}${key}.rate`,
    label: label(c),
    value: level.createsPerSecond,
    unit: 'creates/s',
  };
  if (c === GOAL_CONCURRENCY && level.kind === 'keyed') rate.goal = atLeast(GOAL_CREATES_PER_SECOND);
  return [
    rate,
    { key: `creates.c${c}${key}.p50`, label: `${what} latency p50, c=${c}`, value: level.latencyMs.p50, unit: 'ms' },
    { key: `creates.c${c}${key}.p99`, label: `${what} latency p99, c=${c}`, value: level.latencyMs.p99, unit: 'ms' },
  ];
}

/** Keyed against unkeyed, and against the bare framework, at c=50 (when both sides were measured). */
function comparisonMetrics(levels: readonly CreatesLevel[]): Metric[] {
  const c = GOAL_CONCURRENCY;
  const keyed = rateOf(levels, c, 'keyed');
  const unkeyed = rateOf(levels, c, 'unkeyed');
  const bare = rateOf(levels, c, 'bare');
  const metrics: Metric[] = [];
  if (keyed !== undefined && unkeyed) {
    metrics.push({
      key: `creates.c${c}.keyed-ratio`,
      label: `keyed ÷ unkeyed creates/s, c=${c}`,
      value: keyed / unkeyed,
      unit: 'ratio',
      goal: atLeast(GOAL_KEYED_RATIO),
    });
  }
  if (keyed !== undefined && bare) {
    metrics.push({
      key: `creates.c${c}.framework-ratio`,
      label: `keyed creates/s ÷ bare Express 5 JSON POST/s, c=${c}`,
      value: keyed / bare,
      unit: 'ratio',
      goal: atLeast(GOAL_FRAMEWORK_RATIO),
    });
  }
  return metrics;
}
