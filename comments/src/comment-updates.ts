import { reactionId, Reactor, type EventPublisher, type Logger } from '@blog/common';
import type { CommentStore } from './store';

/** The reactor that publishes a CommentUpdated with the comment's current state whenever one is due. */
export function commentUpdates(store: CommentStore, bus: EventPublisher, logger: Logger): Reactor {
  return new Reactor({
    logger,
    outstanding: () => store.updatesDue(),
    react: async (commentId) => {
      const comment = store.get(commentId);
      if (!comment) return;
      const { id, postId, content, status, decidedAt } = comment;
      // One update per decision: a retried publish carries the same id, so the bus stores it once.
      await bus.publish(
        { type: 'CommentUpdated', data: { id, postId, content, status } },
        { id: reactionId(`CommentUpdated:${id}@${decidedAt ?? 0}`) },
      );
    },
  });
}
