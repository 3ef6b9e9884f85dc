/**
 * The posts a tab shows, as pure state: the server's list (from `GET /posts` or the stream's snapshot,
 * then kept current by the stream's changes) plus what this tab created and the server has not listed
 * yet. The reducer and `visiblePosts` have no side effects and are unit-tested in node.
 */
import type { Comment, Post, PostWithComments } from '@blog/common/api';
import { applyChange, type LiveChange } from './liveChanges';

export interface UnconfirmedComment {
  postId: string;
  comment: Comment;
}

export interface PostsState {
  /** The server's list: the last full list received, with the stream's changes applied since. */
  server: PostWithComments[];
  /** Whether a full list has been received yet. */
  loaded: boolean;
  /** Why the last load failed; null once a full list arrives. */
  loadError: string | null;
  /** Counts finished loads; every change (re)starts the poll timer when polling. */
  finishedLoads: number;
  /**
   * Posts and comments this tab created that the server's list does not hold yet (the read side is
   * updated a moment after the create call returns). They are shown meanwhile and dropped as soon as
   * the server's list holds them, so nothing is shown twice.
   */
  unconfirmedPosts: Post[];
  unconfirmedComments: UnconfirmedComment[];
}

export type PostsAction =
  /** A full list: an answer of `GET /posts` or the stream's snapshot. */
  | { type: 'listReceived'; posts: PostWithComments[] }
  | { type: 'loadFailed'; message: string }
  /** One change from the stream, applied to the server's list. */
  | { type: 'changeReceived'; change: LiveChange }
  /** The 201 answer of a create made in this tab. */
  | { type: 'postCreated'; post: Post }
  | { type: 'commentCreated'; postId: string; comment: Comment };

export const initialPostsState: PostsState = {
  server: [],
  loaded: false,
  loadError: null,
  finishedLoads: 0,
  unconfirmedPosts: [],
  unconfirmedComments: [],
};

/** The state with `server` replaced, and what it now holds dropped from the unconfirmed entries. */
function withServerList(state: PostsState, server: PostWithComments[]): PostsState {
  const postIds = new Set(server.map((post) => post.id));
  const commentIds = new Set(server.flatMap((post) => post.comments.map((comment) => comment.id)));
  const unconfirmedPosts = state.unconfirmedPosts.filter((post) => !postIds.has(post.id));
  const unconfirmedComments = state.unconfirmedComments.filter(({ comment }) => !commentIds.has(comment.id));
  return {
    ...state,
    server,
    unconfirmedPosts: unconfirmedPosts.length === state.unconfirmedPosts.length ? state.unconfirmedPosts : unconfirmedPosts,
    unconfirmedComments:
      unconfirmedComments.length === state.unconfirmedComments.length ? state.unconfirmedComments : unconfirmedComments,
  };
}

function isListed(state: PostsState, postId: string): boolean {
  return state.server.some((post) => post.id === postId) || state.unconfirmedPosts.some((post) => post.id === postId);
}

function isCommentListed(state: PostsState, commentId: string): boolean {
  return (
    state.server.some((post) => post.comments.some((comment) => comment.id === commentId)) ||
    state.unconfirmedComments.some((entry) => entry.comment.id === commentId)
  );
}

export function postsReducer(state: PostsState, action: PostsAction): PostsState {
  switch (action.type) {
    case 'listReceived':
      return {
        ...withServerList(state, action.posts),
        loaded: true,
        loadError: null,
        finishedLoads: state.finishedLoads + 1,
      };
    case 'loadFailed':
      return { ...state, loadError: action.message, finishedLoads: state.finishedLoads + 1 };
    case 'changeReceived':
      return withServerList(state, applyChange(state.server, action.change));
    case 'postCreated':
      return isListed(state, action.post.id) ? state : { ...state, unconfirmedPosts: [...state.unconfirmedPosts, action.post] };
    case 'commentCreated': {
      const { postId, comment } = action;
      return isCommentListed(state, comment.id)
        ? state
        : { ...state, unconfirmedComments: [...state.unconfirmedComments, { postId, comment }] };
    }
  }
}

/** The server's list plus what this tab created and the server does not list yet, oldest first. */
export function visiblePosts(state: PostsState): PostWithComments[] {
  const { server, unconfirmedPosts, unconfirmedComments } = state;
  const serverIds = new Set(server.map((post) => post.id));
  const posts = [
    ...server,
    ...unconfirmedPosts.filter((post) => !serverIds.has(post.id)).map((post) => ({ ...post, comments: [] })),
  ];
  if (unconfirmedComments.length === 0) return posts;
  return posts.map((post) => {
    const missing = unconfirmedComments
      .filter((entry) => entry.postId === post.id && !post.comments.some((c) => c.id === entry.comment.id))
      .map((entry) => entry.comment);
    return missing.length === 0 ? post : { ...post, comments: [...post.comments, ...missing] };
  });
}

/** Whether a poll should come soon: a post of this tab is not listed yet or a comment awaits moderation. */
export function awaitsServer(state: PostsState, posts: readonly PostWithComments[]): boolean {
  return (
    state.unconfirmedPosts.length > 0 || posts.some((post) => post.comments.some((comment) => comment.status === 'pending'))
  );
}
