/** The record of every create request a load sent, and what became of each: what must, may and must not exist. */
import { expectedModeration } from '@blog/testkit';

/**
 * What became of one create request:
 * - `acknowledged`: 201: it must exist, exactly once, for ever;
 * - `refused`: code `unavailable` (503 "nothing was changed"): it must never exist;
 * - `unconfirmed`: code `outcome_unknown` (503 "the change may or may not have been made": the bus took the
 *   request but its answer never came, even after the service retried): it may exist, at most once, and then consistent;
 * - `rejected`: another HTTP answer (e.g. 404 for a post the comments service does not know yet): must never exist;
 * - `unreached`: the connection was refused, the request never reached the service: must never exist;
 * - `ambiguous`: the connection broke or timed out after the request may have reached the service: it may
 *   exist (at most once, and then consistent) or not.
 */
export type Outcome = 'acknowledged' | 'refused' | 'unconfirmed' | 'rejected' | 'unreached' | 'ambiguous';
export const OUTCOMES: readonly Outcome[] = [
  'acknowledged',
  'refused',
  'unconfirmed',
  'rejected',
  'unreached',
  'ambiguous',
];

export type FinalStatus = 'approved' | 'rejected';

export interface RecordBase {
  /** Unique text in the title or content that identifies the request. */
  marker: string;
  /** The scenario the request was sent in. */
  scenario: string;
  outcome: Outcome;
  /** The id the service answered with (acknowledged requests only). */
  id?: string;
  /** HTTP status, when an answer came. */
  httpStatus?: number;
  /** Why it failed: the error body or the network error. */
  error?: string;
  /** The answer's Retry-After, when it had one. */
  retryAfter?: string;
  latencyMs: number;
  /** Date.now() when the answer came, or the request failed. */
  answeredAt: number;
}

export interface PostRecord extends RecordBase {
  kind: 'post';
  title: string;
}

export interface CommentRecord extends RecordBase {
  kind: 'comment';
  postId: string;
  content: string;
  /** What moderation must decide: rejected when the content contains "orange" (any case). */
  expected: FinalStatus;
}

export type LoadRecord = PostRecord | CommentRecord;

/** Every request sent, across scenarios. */
export class Ledger {
  readonly posts: PostRecord[] = [];
  readonly comments: CommentRecord[] = [];
  private readonly acknowledgedPostIds: string[] = [];

  add(record: LoadRecord): void {
    if (record.kind === 'post') {
      this.posts.push(record);
      if (record.outcome === 'acknowledged' && record.id !== undefined) this.acknowledgedPostIds.push(record.id);
    } else {
      this.comments.push(record);
    }
  }

  /** Ids of the posts acknowledged so far (comments go to these). */
  get postIds(): readonly string[] {
    return this.acknowledgedPostIds;
  }

  records(): LoadRecord[] {
    return [...this.posts, ...this.comments];
  }

  ofScenario(scenario: string): LoadRecord[] {
    return this.records().filter((record) => record.scenario === scenario);
  }
}

/** The rule the blog promises: a comment containing "orange" is rejected, every other approved. */
export function expectedStatus(content: string): FinalStatus {
  return expectedModeration(content);
}
