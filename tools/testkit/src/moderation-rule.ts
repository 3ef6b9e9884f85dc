/**
 * The blog's moderation rule as its users see it, stated here on its own for the tests and the bench to
 * check against (they must not ask the moderation service's code what it would decide): a comment that
 * contains "orange", in any case and anywhere, even inside another word, is rejected; every other comment
 * is approved.
 */
export type ModerationOutcome = 'approved' | 'rejected';

export function expectedModeration(content: string): ModerationOutcome {
  return content.toLowerCase().includes('orange') ? 'rejected' : 'approved';
}
