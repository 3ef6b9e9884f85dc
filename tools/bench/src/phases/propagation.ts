/**
 * Phase 2: create → visible in query, at a fixed offered rate (open loop). Each create's title is unique,
 * so its sighting on the query side is matched by title even when it arrives before the create's answer.
 */
import { summarize, type Summary, waitUntil } from '@blog/testkit';
import { JsonClient } from '../http';
import { latencyMs, runOpenLoop, type Attempt, type OpenLoopResult } from '../load';
import { observeQuery, type Resolution } from '../observe';
import { atMost, exactly, type Metric, type PhaseOutcome } from '../report/model';
import { waitForQuiet } from '../target';
import { verifyPosts, type AcknowledgedPost, type PostsVerdict } from '../verify';
import type { PhaseContext } from './context';
import { watchEventLoop, type EventLoopDelay } from './event-loop';
import {
  openLoopMetrics,
  openLoopNote,
  pollResolutionMetrics,
  sendingFigures,
  type SendingFigures,
} from './open-loop-figures';
import { acknowledgedId, failedRequestsMetric, postChecks, unanswered } from './outcomes';

const GOAL_P50_MS = 5;
const GOAL_P99_MS = 50;

export interface PropagationDetails {
  resolution: Resolution;
  sending: SendingFigures;
  /** create sent → visible in query, measured (not warm-up) acknowledged creates. */
  visibleMs: Summary;
  requestLatencyMs: Summary;
  /** Acknowledged creates not seen by the observer within the settle window. */
  notSeen: number;
  duplicatesSeen: number;
  observerProblems: string[];
  benchEventLoopDelayMs: EventLoopDelay;
  verification: PostsVerdict;
}

export async function runPropagationPhase({
  target,
  profile,
  marker,
  progress,
}: PhaseContext): Promise<PhaseOutcome<PropagationDetails>> {
  const settings = profile.propagation;
  const prefix = `${marker} propagation #`;
  const titleOf = (index: number) => `${prefix}${index}`;
  const observer = await observeQuery(target.urls.query, prefix);
  const client = new JsonClient(target.urls.posts, { connections: settings.maxInFlight });
  const send = (index: number) => client.post('/posts/create', { title: titleOf(index) });
  const eventLoop = watchEventLoop();
  let benchEventLoopDelayMs: EventLoopDelay;
  let warmup: OpenLoopResult;
  let run: OpenLoopResult;
  let notSeen: number;
  try {
    warmup = await runOpenLoop({ ...settings, durationMs: settings.warmupMs, send });
    run = await runOpenLoop({ ...settings, firstIndex: warmup.scheduled, send });
    const acknowledgedTitles = [...warmup.attempts, ...run.attempts]
      .filter((a) => acknowledgedId(a) !== undefined)
      .map((a) => titleOf(a.index));
    const unseen = () => acknowledgedTitles.filter((title) => !observer.sightings.posts.has(title)).length;
    await waitUntil(() => unseen() === 0, settings.settleMs);
    notSeen = unseen();
  } finally {
    benchEventLoopDelayMs = eventLoop.stop();
    await client.close();
    await observer.close();
  }

  const acknowledged: AcknowledgedPost[] = [];
  for (const attempt of [...warmup.attempts, ...run.attempts]) {
    const id = acknowledgedId(attempt);
    if (id !== undefined) acknowledged.push({ id, title: titleOf(attempt.index) });
  }
  const visible: number[] = [];
  const requestLatencies: number[] = [];
  for (const attempt of run.attempts) {
    if (acknowledgedId(attempt) === undefined) continue;
    requestLatencies.push(latencyMs(attempt));
    const sighting = observer.sightings.posts.get(titleOf(attempt.index));
    if (sighting) visible.push(sighting.at - attempt.sentAt);
  }
  const visibleMs = summarize(visible);
  const requestLatencyMs = summarize(requestLatencies);
  const resolution = observer.resolution();
  progress(
    `propagation at ${settings.ratePerSecond}/s (${resolution.method}): visible p50 ${visibleMs.p50?.toFixed(2)} ms, p99 ${visibleMs.p99?.toFixed(2)} ms; ` +
      `${notSeen} not seen within ${settings.settleMs / 1000} s`,
  );

  await waitForQuiet(target, profile.quietTimeoutMs);
  const verification = await verifyPosts(target.urls, prefix, acknowledged, profile.verifyTimeoutMs);
  const allAttempts: Attempt[] = [...warmup.attempts, ...run.attempts];
  const sending = sendingFigures(settings, run);
  const rate = settings.ratePerSecond;
  const how = resolution.method;
  const metrics: Metric[] = [
    {
      key: 'propagation.p50',
      label: `create→visible p50 at ${rate}/s (${how})`,
      value: visibleMs.p50,
      unit: 'ms',
      goal: atMost(GOAL_P50_MS),
    },
    { key: 'propagation.p95', label: `create→visible p95 at ${rate}/s (${how})`, value: visibleMs.p95, unit: 'ms' },
    {
      key: 'propagation.p99',
      label: `create→visible p99 at ${rate}/s (${how})`,
      value: visibleMs.p99,
      unit: 'ms',
      goal: atMost(GOAL_P99_MS),
    },
    {
      key: 'propagation.not-seen',
      label: `propagation: creates not visible ${settings.settleMs / 1000} s after the last answer`,
      value: notSeen,
      unit: 'count',
      goal: exactly(0),
    },
    ...openLoopMetrics('propagation', 'propagation', sending, requestLatencyMs),
    failedRequestsMetric('propagation.failed', 'propagation: requests not acknowledged', allAttempts),
    ...pollResolutionMetrics('propagation', 'propagation', resolution),
  ];
  return {
    metrics,
    checks: [
      ...postChecks('propagation', verification, unanswered(allAttempts)),
      {
        key: 'propagation.observer',
        label: 'propagation: the observer saw the whole phase',
        ok: observer.problems.length === 0 && observer.sightings.duplicates.size === 0,
        detail: [...observer.problems, `${observer.sightings.duplicates.size} titles seen under two ids`].join('; '),
      },
    ],
    notes: [
      `Propagation: ${openLoopNote(settings)}; create→visible = ${resolution.description}. ` +
        `Event-loop delay of the bench process during the phase (how late a stamp or a send can be): p50 ${benchEventLoopDelayMs.p50?.toFixed(2) ?? '?'} ms, p99 ${benchEventLoopDelayMs.p99?.toFixed(2) ?? '?'} ms, max ${benchEventLoopDelayMs.max?.toFixed(1) ?? '?'} ms.`,
    ],
    details: {
      resolution,
      sending,
      visibleMs,
      requestLatencyMs,
      notSeen,
      duplicatesSeen: observer.sightings.duplicates.size,
      observerProblems: observer.problems,
      benchEventLoopDelayMs,
      verification,
    },
  };
}
