/** Run-time checks of what the server sends, so that nothing of the wrong shape reaches the view. */
import { COMMENT_STATUSES } from '@blog/common/api';
import type { ApiError, Comment, CommentStatus, Post, PostWithComments } from '@blog/common/api';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isApiError(value: unknown): value is ApiError {
  return isRecord(value) && typeof value.error === 'string' && value.error.trim() !== '';
}

export function isCommentStatus(value: unknown): value is CommentStatus {
  return typeof value === 'string' && (COMMENT_STATUSES as readonly string[]).includes(value);
}

export function isPost(value: unknown): value is Post {
  return isRecord(value) && typeof value.id === 'string' && typeof value.title === 'string';
}

export function isComment(value: unknown): value is Comment {
  return (
    isRecord(value) &&
    typeof value.id === 'string' &&
    typeof value.content === 'string' &&
    isCommentStatus(value.status)
  );
}

export function isPostWithComments(value: unknown): value is PostWithComments {
  return isRecord(value) && isPost(value) && Array.isArray(value.comments) && value.comments.every(isComment);
}

/** The posts of a `GET /posts` view (`{[id]: post}`), oldest first; undefined when it is malformed. */
export function postsOfView(value: unknown): PostWithComments[] | undefined {
  if (!isRecord(value)) return undefined;
  const posts = Object.values(value);
  return posts.every(isPostWithComments) ? posts : undefined;
}
