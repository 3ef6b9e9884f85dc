import {
  reactionId,
  Reactor,
  type CommentStatus,
  type EventData,
  type EventHandlers,
  type EventPublisher,
  type Logger,
} from '@blog/common';

type CommentData = EventData<'CommentCreated'>;

/** The words that get a comment rejected unless BLOCKED_WORDS says otherwise. */
export const DEFAULT_BLOCKED_WORDS: readonly string[] = ['orange'];

/** Approved unless the content contains one of the blocked words (case-insensitive). */
export function moderate(content: string, blockedWords: readonly string[]): Exclude<CommentStatus, 'pending'> {
  const text = content.toLowerCase();
  return blockedWords.some((word) => text.includes(word.toLowerCase())) ? 'rejected' : 'approved';
}

/** Comments still waiting for a decision, and the ids already decided (their CommentModerated is in the log). */
export class ModerationStore {
  private readonly awaiting = new Map<string, CommentData>();
  private readonly decided = new Set<string>();

  /**
   * Returns true when the comment still needs a decision. Of two CommentCreated with one comment id, the
   * first in the log is the comment, as everywhere else.
   */
  commentCreated(comment: CommentData): boolean {
    if (this.decided.has(comment.id) || this.awaiting.has(comment.id)) return false;
    this.awaiting.set(comment.id, comment);
    return true;
  }

  commentModerated(id: string): void {
    this.decided.add(id);
    this.awaiting.delete(id);
  }

  awaitingDecision(id: string): CommentData | undefined {
    return this.awaiting.get(id);
  }
}

/**
 * A CommentCreated asks for a decision unless the log already holds its CommentModerated, so replaying the
 * history never moderates a comment twice.
 */
export function moderationEventHandlers(store: ModerationStore, decisions: Reactor): EventHandlers {
  return {
    CommentCreated: (comment) => {
      if (store.commentCreated(comment)) decisions.need(comment.id);
    },
    CommentModerated: ({ id }) => {
      store.commentModerated(id);
      decisions.done(id);
    },
  };
}

/** The reactor that decides a waiting comment and publishes CommentModerated. */
export function moderationDecisions(store: ModerationStore, bus: EventPublisher, blockedWords: readonly string[], logger: Logger): Reactor {
  return new Reactor({
    logger,
    react: async (commentId) => {
      const comment = store.awaitingDecision(commentId);
      if (!comment) return;
      const decision = { type: 'CommentModerated' as const, data: { ...comment, status: moderate(comment.content, blockedWords) } };
      // One decision per comment: a retried publish carries the same id, so the bus stores it once.
      await bus.publish(decision, { id: reactionId(`CommentModerated:${comment.id}`) });
    },
  });
}
