/** Reading the query service's JSON (GET /posts and the stream's payloads) without trusting its shape. */
import { COMMENT_STATUSES, type CommentStatus } from '@blog/common/api';
import { isRecord } from '../http';
import type { Sightings } from './sightings';

export interface ViewComment {
  id: string;
  content: string;
  status: CommentStatus;
}

export interface ViewPost {
  id: string;
  title: string;
  comments: ViewComment[];
}

export function isCommentStatus(value: unknown): value is CommentStatus {
  return typeof value === 'string' && (COMMENT_STATUSES as readonly string[]).includes(value);
}

/** The posts of a `GET /posts` answer; entries that do not have the documented shape are skipped. */
export function postsOfView(view: unknown): ViewPost[] {
  if (!isRecord(view)) return [];
  const posts: ViewPost[] = [];
  for (const entry of Object.values(view)) {
    if (!isRecord(entry) || typeof entry.id !== 'string' || typeof entry.title !== 'string') continue;
    const comments = Array.isArray(entry.comments) ? entry.comments.flatMap((comment) => (isViewComment(comment) ? [comment] : [])) : [];
    posts.push({ id: entry.id, title: entry.title, comments });
  }
  return posts;
}

function isViewComment(value: unknown): value is ViewComment {
  return isRecord(value) && typeof value.id === 'string' && typeof value.content === 'string' && isCommentStatus(value.status);
}

/** Records every post and comment of a whole view as seen at `at`. */
export function recordView(view: unknown, at: number, sightings: Sightings): void {
  for (const post of postsOfView(view)) {
    sightings.post(post.id, post.title, at);
    for (const comment of post.comments) sightings.comment(comment.id, post.id, comment.content, comment.status, at);
  }
}

export interface CommentChange {
  id: string;
  postId: string;
  content: string;
  status: CommentStatus;
}

export function asCommentChange(value: unknown): CommentChange | undefined {
  if (!isRecord(value)) return undefined;
  const { id, postId, content, status } = value;
  if (typeof id !== 'string' || typeof postId !== 'string' || typeof content !== 'string' || !isCommentStatus(status)) return undefined;
  return { id, postId, content, status };
}

export function asPostCreated(value: unknown): { id: string; title: string } | undefined {
  if (!isRecord(value) || typeof value.id !== 'string' || typeof value.title !== 'string') return undefined;
  return { id: value.id, title: value.title };
}
