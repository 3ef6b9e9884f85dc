/**
 * The messages of `GET /posts/stream` (Server-Sent Events) and how each changes the list of posts.
 * Pure functions: applying a change returns a new list and never mutates the old one.
 */
import {
  asStreamChange,
  postsOfView,
  STREAM_CHANGE_TYPES,
  type Comment,
  type PostWithComments,
  type StreamChangeType,
} from '@blog/common/api';

/** A change to the posts view as the query service applied it. */
export type LiveChange =
  | { type: 'PostCreated'; post: { id: string; title: string } }
  | { type: 'CommentCreated'; postId: string; comment: Comment }
  | { type: 'CommentUpdated'; postId: string; comment: Comment };

export type LiveChangeType = StreamChangeType;

/** The SSE event names of the changes, besides `snapshot`. */
export const LIVE_CHANGE_TYPES: readonly LiveChangeType[] = STREAM_CHANGE_TYPES;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The posts of a `snapshot` message's data, oldest first; undefined when it is malformed. */
export function parseSnapshot(data: string): PostWithComments[] | undefined {
  return postsOfView(parseJson(data));
}

/** A change message's event name and data as a change; undefined when either is malformed. */
export function parseChange(type: string, data: string): LiveChange | undefined {
  const change = asStreamChange(type, parseJson(data));
  if (!change) return undefined;
  if (change.type === 'PostCreated') return { type: change.type, post: change.data };
  const { postId, ...comment } = change.data;
  return { type: change.type, postId, comment };
}

/**
 * The list after a change: a new post goes last, a new comment last in its post, an update replaces the
 * comment's content and status. A change already reflected (a post or comment known by id) is a no-op,
 * so that applying the same change twice shows it once.
 */
export function applyChange(posts: readonly PostWithComments[], change: LiveChange): PostWithComments[] {
  switch (change.type) {
    case 'PostCreated':
      if (posts.some((post) => post.id === change.post.id)) return [...posts];
      return [...posts, { ...change.post, comments: [] }];
    case 'CommentCreated':
      return updatePost(posts, change.postId, (post) =>
        post.comments.some((comment) => comment.id === change.comment.id)
          ? post
          : { ...post, comments: [...post.comments, change.comment] },
      );
    case 'CommentUpdated':
      return updatePost(posts, change.postId, (post) => {
        const exists = post.comments.some((comment) => comment.id === change.comment.id);
        const comments = exists
          ? post.comments.map((comment) => (comment.id === change.comment.id ? change.comment : comment))
          : [...post.comments, change.comment];
        return { ...post, comments };
      });
  }
}

/** The list with one post replaced by `update(post)`; unchanged when there is no such post. */
function updatePost(
  posts: readonly PostWithComments[],
  postId: string,
  update: (post: PostWithComments) => PostWithComments,
): PostWithComments[] {
  return posts.map((post) => (post.id === postId ? update(post) : post));
}
