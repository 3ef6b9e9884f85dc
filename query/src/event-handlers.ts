import type { Change } from './feed';
import type { QueryStore } from './store';
import { commentContradiction, idReused, unknownPost, type EventHandlers } from '@blog/common';

/**
 * Applies the events to the store; `onChange` hears of each change made, e.g. to stream it. An event that
 * contradicts the view is rejected: a comment on a post it does not hold, an update that moves a comment to
 * another post or changes its content, a create that reuses an id for another body. The same event again
 * (a replay, an echo) changes nothing.
 */
export function queryEventHandlers(
  store: QueryStore,
  onChange: (change: Change) => void = () => undefined,
): EventHandlers {
  return {
    PostCreated: (post, { seq }) => {
      const title = store.postTitle(post.id);
      if (title !== undefined) return title === post.title ? undefined : idReused('post', post.id);
      store.addPost(post.id, post.title, seq);
      onChange({ seq, type: 'PostCreated', data: post });
    },
    CommentCreated: (comment, { seq }) => {
      const { id, postId, content, status } = comment;
      if (store.postTitle(postId) === undefined) return unknownPost(id, postId);
      const known = store.comment(id);
      if (known) return known.postId === postId && known.content === content ? undefined : idReused('comment', id);
      store.addComment(postId, id, content, status, seq);
      onChange({ seq, type: 'CommentCreated', data: comment });
    },
    CommentUpdated: (comment, { seq }) => {
      const rejection = commentContradiction(comment, store.comment(comment.id));
      if (rejection) return rejection;
      store.updateComment(comment.id, comment.content, comment.status);
      onChange({ seq, type: 'CommentUpdated', data: comment });
    },
  };
}
