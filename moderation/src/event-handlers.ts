import { commentContradiction, idReused, type EventHandlers, type Reactor } from '@blog/common';
import type { ModerationStore } from './store';

/**
 * A CommentCreated asks for a decision unless the log already holds its CommentModerated, so replaying the
 * history never moderates a comment twice. A CommentCreated that reuses a comment's id for another body,
 * and a decision that names another post or content than its comment's, are rejected: the comment keeps
 * waiting for its own decision. Moderation does not follow posts; a comment on an unknown post is
 * decided, and that decision is rejected by comments, which knows the posts.
 */
export function moderationEventHandlers(store: ModerationStore, decisions: Reactor): EventHandlers {
  return {
    CommentCreated: (comment) => {
      const known = store.comment(comment.id);
      if (known && (known.postId !== comment.postId || known.content !== comment.content))
        return idReused('comment', comment.id);
      if (store.commentCreated(comment)) decisions.need(comment.id);
    },
    CommentModerated: (decision) => {
      const { id } = decision;
      const known = store.comment(id);
      if (known) {
        const rejection = commentContradiction(decision, known);
        if (rejection) return rejection;
      }
      store.commentModerated(id);
      decisions.done(id);
    },
  };
}
