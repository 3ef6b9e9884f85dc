/** Verification repeated until it passes or its bound runs out: the state converges after a fault. */
import { performance } from 'node:perf_hooks';
import { delay } from '@blog/testkit';
import type { SubscriberStatus } from '@blog/common/api';
import type { Anomaly, AnomalyKind, Verification } from './anomalies';
import { getJson } from './reading';
import { verifyOnce, type VerifyOptions } from './checks';

export interface PollOptions extends VerifyOptions {
  /** Anomaly keys already reported earlier: not counted again. */
  known: ReadonlySet<string>;
  /** Give up at this performance.now() time. */
  deadline: number;
  intervalMs?: number;
  /** Called after every check (for debugging slow recoveries). */
  onCheck?: (fresh: readonly Anomaly[], last: Verification) => void;
}

export interface PollResult {
  passed: boolean;
  /** performance.now() when the first passing verification completed. */
  passedAt?: number;
  /** The last verification, and its anomalies not in `known`. */
  last: Verification;
  fresh: Anomaly[];
  polls: number;
}

/**
 * Verifies again and again until there is no new anomaly (then once more with the comments service's lists,
 * which cost a request per post), or until the deadline. Gives up early when the only new anomalies left
 * are permanent ones (in the append-only bus log) and have not changed for 2 s with every subscriber
 * caught up.
 */
export async function verifyUntilPassing(options: PollOptions): Promise<PollResult> {
  const { known, deadline, intervalMs = 250, onCheck } = options;
  let polls = 0;
  let last: Verification | undefined;
  let fresh: Anomaly[] = [];
  let lastError: unknown;
  let stableSince: number | undefined;
  let stableKeys = '';
  while (performance.now() < deadline || last === undefined) {
    polls++;
    try {
      // While the bus is still delivering, reading every view would only slow it down: wait for lag 0
      // first (one small request), then the checks without the comment lists, then the full one.
      const subscribers = await getJson<SubscriberStatus[]>(
        `${options.stack.url('event-bus')}/subscribers`,
        options.stack.eventHeaders(),
      );
      const lagging = subscribers.filter((subscriber) => subscriber.lag > 0);
      if (lagging.length > 0 && last !== undefined) {
        const lags: Anomaly[] = lagging.map((subscriber) => ({
          kind: 'unsettled',
          key: `unsettled:lag:${subscriber.url}`,
          permanent: false,
          detail: `bus → ${subscriber.url}: ${subscriber.lag} events not delivered yet (${subscriber.lastError ?? 'no error'})`,
        }));
        fresh = [...lags, ...fresh.filter((anomaly) => !anomaly.key.startsWith('unsettled:lag:'))];
        last = { ...last, subscribers };
        onCheck?.(fresh, last);
        stableKeys = '';
        stableSince = undefined;
        await delay(intervalMs);
        continue;
      }
      last = await verifyOnce({ ...options, readCommentLists: false });
      fresh = last.anomalies.filter((anomaly) => !known.has(anomaly.key));
      if (fresh.length === 0) {
        last = await verifyOnce({ ...options, readCommentLists: true });
        fresh = last.anomalies.filter((anomaly) => !known.has(anomaly.key));
      }
      onCheck?.(fresh, last);
      if (fresh.length === 0) return { passed: true, passedAt: performance.now(), last, fresh, polls };
      const keys = fresh
        .map((anomaly) => anomaly.key)
        .sort()
        .join('\n');
      const settled =
        fresh.every((anomaly) => anomaly.permanent) && last.subscribers.every((subscriber) => subscriber.lag === 0);
      if (!settled || keys !== stableKeys) {
        stableKeys = keys;
        stableSince = settled ? performance.now() : undefined;
      } else if (stableSince !== undefined && performance.now() - stableSince > 2_000) {
        break;
      }
    } catch (err) {
      lastError = err;
      if (performance.now() >= deadline && last === undefined) throw err;
    }
    await delay(intervalMs);
  }
  if (!last) throw lastError instanceof Error ? lastError : new Error(String(lastError));
  return { passed: false, last, fresh, polls };
}

/** A short summary of anomalies for an assertion message: counts by kind, then the first few in full. */
export function summarize(anomalies: readonly Anomaly[], limit = 15): string {
  if (anomalies.length === 0) return 'no anomalies';
  const counts = new Map<AnomalyKind, number>();
  for (const anomaly of anomalies) counts.set(anomaly.kind, (counts.get(anomaly.kind) ?? 0) + 1);
  const head = [...counts].map(([kind, count]) => `${count} ${kind}`).join(', ');
  const lines = anomalies
    .slice(0, limit)
    .map((anomaly) => `  - [${anomaly.kind}${anomaly.permanent ? ', permanent' : ''}] ${anomaly.detail}`);
  const more = anomalies.length > limit ? [`  … and ${anomalies.length - limit} more`] : [];
  return [head, ...lines, ...more].join('\n');
}
