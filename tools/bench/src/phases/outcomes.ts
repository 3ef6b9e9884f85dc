/** Reading load attempts: what was acknowledged, how the rest ended, and the checks that follow. */
import { isRecord } from '@blog/common/api';
import { tally } from '@blog/testkit';
import type { Attempt } from '../load';
import { type Check, type Metric, exactly } from '../report/model';
import type { PostsVerdict } from '../verify';

/** The id of a created post or comment: a 201 whose body carries a string id. */
export function createdId(status: number | null, body: unknown): string | undefined {
  return status === 201 && isRecord(body) && typeof body.id === 'string' ? body.id : undefined;
}

export function acknowledgedId(attempt: Attempt): string | undefined {
  return createdId(attempt.status, attempt.body);
}

/**
 * The id of a created comment: from `{id, content, status}`, or, as the course implementation answers,
 * from the post's whole comment list (the entry with the content sent).
 */
export function acknowledgedCommentId(attempt: Attempt, content: string): string | undefined {
  if (attempt.status !== 201) return undefined;
  if (!Array.isArray(attempt.body)) return acknowledgedId(attempt);
  const entry: unknown = attempt.body.find((item: unknown) => isRecord(item) && item.content === content);
  return isRecord(entry) && typeof entry.id === 'string' ? entry.id : undefined;
}

/** How the attempts ended: HTTP status codes, or the error code when no answer came. */
export function answers(attempts: readonly Attempt[]): Record<string, number> {
  return tally(
    attempts.map((attempt) => (attempt.status === null ? (attempt.failure ?? 'no answer') : attempt.status)),
  );
}

const carriesId = (attempt: Attempt) => acknowledgedId(attempt) !== undefined;

/** Attempts that got no answer at all: they may or may not have been applied. */
export function unanswered(attempts: readonly Attempt[]): number {
  return attempts.filter((attempt) => attempt.status === null).length;
}

/** Requests that did not end in an acknowledgement (other statuses, malformed answers, no answer). */
export function failedRequestsMetric(
  key: string,
  label: string,
  attempts: readonly Attempt[],
  acknowledged = carriesId,
): Metric {
  const failed = attempts.filter((attempt) => !acknowledged(attempt));
  const count = failed.length;
  const kinds = Object.entries(answers(failed))
    .map(([status, n]) => `${n} × ${status}`)
    .join(', ');
  return { key, label, value: count, unit: 'count', goal: exactly(0), ...(kinds ? { note: kinds } : {}) };
}

/** Every acknowledged post shown once; nothing shown that was refused (an unanswered request may exist). */
export function postChecks(phase: string, verdict: PostsVerdict, unansweredRequests: number): Check[] {
  return [
    {
      key: `${phase}.posts-visible`,
      label: `${phase}: every acknowledged post visible in query`,
      ok: verdict.missing === 0 && verdict.acknowledged > 0,
      detail: `${verdict.acknowledged - verdict.missing} of ${verdict.acknowledged} visible after ${(verdict.waitedMs / 1000).toFixed(1)} s`,
    },
    {
      key: `${phase}.posts-once`,
      label: `${phase}: no post shown twice`,
      ok: verdict.duplicated === 0,
      detail: `${verdict.duplicated} duplicated`,
    },
    {
      key: `${phase}.posts-phantom`,
      label: `${phase}: no post shown that was not acknowledged`,
      ok: verdict.unacknowledged <= unansweredRequests,
      detail: `${verdict.unacknowledged} shown without a 201 (${unansweredRequests} requests got no answer and may exist)`,
    },
  ];
}
