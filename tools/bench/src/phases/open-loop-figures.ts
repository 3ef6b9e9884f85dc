/** What the open-loop phases report about the load itself: offered vs. achieved rate, shed sends, lateness. */
import { summarize, type Summary } from '@blog/testkit';
import type { OpenLoopResult } from '../load';
import type { Resolution } from '../observe';
import type { OpenLoopSettings } from '../profile';
import { exactly, type Metric } from '../report/model';

export interface SendingFigures {
  offeredPerSecond: number;
  scheduled: number;
  sent: number;
  /** Sends actually made per second over the measured part. */
  achievedPerSecond: number;
  /** Not sent because maxInFlight requests were outstanding when they fell due. */
  shed: number;
  scheduleLagMs: Summary;
}

export function sendingFigures(settings: OpenLoopSettings, run: OpenLoopResult): SendingFigures {
  const sentAt = run.attempts.map((attempt) => attempt.sentAt);
  const spanMs = sentAt.length > 1 ? Math.max(...sentAt) - Math.min(...sentAt) : 0;
  return {
    offeredPerSecond: settings.ratePerSecond,
    scheduled: run.scheduled,
    sent: run.attempts.length,
    // n sends span n − 1 intervals.
    achievedPerSecond: spanMs > 0 ? ((run.attempts.length - 1) * 1000) / spanMs : 0,
    shed: run.shed,
    scheduleLagMs: summarize(run.scheduleLagMs),
  };
}

export function openLoopMetrics(
  key: string,
  label: string,
  sending: SendingFigures,
  requestLatencyMs: Summary,
): Metric[] {
  return [
    {
      key: `${key}.achieved-rate`,
      label: `${label}: sends/s achieved (offered ${sending.offeredPerSecond})`,
      value: sending.achievedPerSecond,
      unit: 'sends/s',
    },
    {
      key: `${key}.shed`,
      label: `${label}: sends not made on schedule (in-flight cap)`,
      value: sending.shed,
      unit: 'count',
      goal: exactly(0),
    },
    { key: `${key}.request-p50`, label: `${label}: request latency p50`, value: requestLatencyMs.p50, unit: 'ms' },
    { key: `${key}.request-p99`, label: `${label}: request latency p99`, value: requestLatencyMs.p99, unit: 'ms' },
  ];
}

export function openLoopNote(settings: OpenLoopSettings): string {
  return (
    `open loop at ${settings.ratePerSecond}/s for ${settings.durationMs / 1000} s after a ${settings.warmupMs} ms warm-up at the same rate (verified, not in the figures); ` +
    `sends keep their schedule whatever the answers do, and a send that falls due with ${settings.maxInFlight} requests in flight is skipped and counted`
  );
}

/** With the polling fallback, its round trip is the resolution of every latency figure: shown next to them. */
export function pollResolutionMetrics(key: string, label: string, resolution: Resolution): Metric[] {
  if (resolution.method !== 'poll') return [];
  return [
    {
      key: `${key}.poll-resolution`,
      label: `${label}: poll round trip p50 (resolution)`,
      value: resolution.pollRoundTripMs.p50,
      unit: 'ms',
      note: 'the target has no live feed; measured by polling',
    },
  ];
}
