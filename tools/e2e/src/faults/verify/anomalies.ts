/** What verification can find wrong, and how a run's anomalies are summed up. */
import type { SubscriberStatus } from '@blog/common/api';

/**
 * - lost: an acknowledged request is missing from the bus log or from a service;
 * - duplicated: something is there twice (an event in the log, a comment in a list, a reaction);
 * - phantom: a request that was not acknowledged (503, 4xx, connection refused) left something behind,
 *   or something exists that nobody asked for;
 * - wrong: a comment with the wrong final status, or an event that contradicts another;
 * - disagree: posts, comments and query do not show the same thing (or not in the same order);
 * - unsettled: not there yet, but on its way (a subscriber lags, a comment is still pending).
 */
export type AnomalyKind = 'lost' | 'duplicated' | 'phantom' | 'wrong' | 'disagree' | 'unsettled';

export interface Anomaly {
  kind: AnomalyKind;
  /** Stable identity of the problem, so that one seen after an earlier scenario is not counted again. */
  key: string;
  /** Whether waiting cannot fix it (it is in the bus log, which is append-only). */
  permanent: boolean;
  /** Scenario of the request concerned, when there is one. */
  scenario?: string;
  detail: string;
}

export interface Verification {
  anomalies: Anomaly[];
  /** Things checked, for the report. */
  checked: { events: number; posts: number; comments: number };
  subscribers: SubscriberStatus[];
}
