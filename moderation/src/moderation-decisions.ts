import { reactionId, Reactor, type CommentStatus, type EventPublisher, type Logger } from '@blog/common';
import type { ModerationStore } from './store';

/** The words that get a comment rejected unless BLOCKED_WORDS says otherwise. */
export const DEFAULT_BLOCKED_WORDS: readonly string[] = ['orange'];

/** Approved unless the content contains one of the blocked words (case-insensitive). */
export function moderate(content: string, blockedWords: readonly string[]): Exclude<CommentStatus, 'pending'> {
  const text = content.toLowerCase();
  return blockedWords.some((word) => text.includes(word.toLowerCase())) ? 'rejected' : 'approved';
}

/** The reactor that decides a waiting comment and publishes CommentModerated. */
export function moderationDecisions(
  store: ModerationStore,
  bus: EventPublisher,
  blockedWords: readonly string[],
  logger: Logger,
): Reactor {
  return new Reactor({
    logger,
    outstanding: () => store.allAwaiting(),
    react: async (commentId) => {
      const comment = store.awaitingDecision(commentId);
      if (!comment) return;
      const decision = {
        type: 'CommentModerated' as const,
        data: { ...comment, status: moderate(comment.content, blockedWords) },
      };
      // One decision per comment: a retried publish carries the same id, so the bus stores it once.
      await bus.publish(decision, { id: reactionId(`CommentModerated:${comment.id}`) });
    },
  });
}
