import {
  commentContradiction,
  idReused,
  unknownPost,
  type EventHandlers,
  type EventRejection,
  type Reactor,
} from '@blog/common';
import type { CommentStore } from './store';

/**
 * On CommentModerated the comment takes the moderation's status and a CommentUpdated is due — unless the
 * log already holds one with that status, which is what makes replaying history emit nothing again.
 *
 * Comments knows posts from PostCreated only: a comment on a post the log never created is rejected (as
 * `POST /posts/:id/comments` answers 404 for it), and so is an event that contradicts its comment (another
 * post, other content) or a CommentCreated that reuses an earlier comment's id for another body.
 */
export function commentEventHandlers(store: CommentStore, updates: Reactor): EventHandlers {
  return {
    PostCreated: ({ id }) => store.addPost(id),
    CommentCreated: ({ id, postId, content, status }, { seq }) => {
      if (!store.hasPost(postId)) return unknownPost(id, postId);
      const known = store.get(id);
      // A comment this replica added ahead of the log (its own keyed create) gives way to an earlier event: see addComment.
      const earlier = known !== undefined && (store.createdAt(id) ?? 0) < seq;
      if (earlier && (known.postId !== postId || known.content !== content)) return idReused('comment', id);
      store.addComment(postId, { id, content, status }, seq);
    },
    CommentModerated: ({ id, postId, content, status }, { seq }) => {
      const rejection = moderationContradiction(store, { id, postId, content });
      if (rejection) return rejection;
      store.addComment(postId, { id, content, status }, seq);
      const comment = store.get(id);
      if (!comment) return;
      store.decide(id, status, seq);
      if (comment.publishedStatus !== status) updates.need(id);
    },
    CommentUpdated: (change) => {
      const { id, status } = change;
      const comment = store.get(id);
      const rejection = commentContradiction(change, comment);
      if (rejection || !comment) return rejection;
      store.published(id, status);
      // This echo settles the update that was in flight; if the status moved on meanwhile, another is due.
      updates.done(id);
      if (comment.status !== status) updates.need(id);
    },
  };
}

/**
 * A decision on a comment the state holds must name its post and content; one on a comment it does not
 * hold (its CommentCreated was skipped as invalid) is taken as the comment, if its post exists.
 */
function moderationContradiction(
  store: CommentStore,
  decided: { id: string; postId: string; content: string },
): EventRejection | undefined {
  const comment = store.get(decided.id);
  if (comment) return commentContradiction(decided, comment);
  return store.hasPost(decided.postId) ? undefined : unknownPost(decided.id, decided.postId);
}
