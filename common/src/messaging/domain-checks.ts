import { rejectEvent, type EventRejection } from './consumer';

/** What every later event of a comment must agree with: a comment never moves to another post, nor is edited. */
export interface CommentIdentity {
  postId: string;
  content: string;
}

/**
 * Why an event about a known comment (moderated, updated) contradicts the comment as a state holds it,
 * or undefined when it agrees; `comment` undefined: the state does not hold it.
 */
export function commentContradiction(
  change: CommentIdentity & { id: string },
  comment: CommentIdentity | undefined,
): EventRejection | undefined {
  if (!comment) return rejectEvent('unknown-comment', `comment ${change.id} does not exist`);
  if (comment.postId !== change.postId)
    return rejectEvent('other-post', `comment ${change.id} belongs to post ${comment.postId}, not ${change.postId}`);
  if (comment.content !== change.content) return rejectEvent('other-content', `comment ${change.id} has other content`);
  return undefined;
}

/** A create under an id already given to another body (another post, title or content). */
export function idReused(what: string, id: string): EventRejection {
  return rejectEvent('id-reused', `${what} ${id} exists with another body; the first in the log is kept`);
}

/** A comment on a post the state does not hold. */
export function unknownPost(commentId: string, postId: string): EventRejection {
  return rejectEvent('unknown-post', `comment ${commentId} names post ${postId}, which does not exist`);
}
