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
  /**
   * Posts older than the server's list that this tab shows: older pages loaded on demand, and posts a
   * newer list no longer holds (they moved past its first page), oldest first.
   */
  olderPosts: PostWithComments[];
  /** Where the next older page of posts is; null when there is none. */
  olderPostsPath: string | null;
  /** Per post: its older comments loaded on demand (oldest first), and where the next older ones are. */
  olderComments: Readonly<Record<string, OlderComments>>;
}

export interface OlderComments {
  comments: Comment[];
  next: string | null;
}

export type PostsAction =
  /**
   * A full list: an answer of `GET /posts` or the stream's snapshot, with where its older posts are
   * (undefined: not said; the stream says it in a message of its own).
   */
  | { type: 'listReceived'; posts: PostWithComments[]; olderPosts?: string | null }
  /** The stream's word of where the posts older than its snapshot are. */
  | { type: 'olderPostsFound'; path: string }
  | { type: 'olderPostsLoaded'; posts: PostWithComments[]; older: string | null }
  | { type: 'olderCommentsLoaded'; postId: string; comments: Comment[]; older: string | null }
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
  olderPosts: [],
  olderPostsPath: null,
  olderComments: {},
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
    unconfirmedPosts:
      unconfirmedPosts.length === state.unconfirmedPosts.length ? state.unconfirmedPosts : unconfirmedPosts,
    unconfirmedComments:
      unconfirmedComments.length === state.unconfirmedComments.length ? state.unconfirmedComments : unconfirmedComments,
  };
}

function isListed(state: PostsState, postId: string): boolean {
  const has = (post: Post) => post.id === postId;
  return state.server.some(has) || state.olderPosts.some(has) || state.unconfirmedPosts.some(has);
}

function isCommentListed(state: PostsState, commentId: string): boolean {
  return (
    state.server.some((post) => post.comments.some((comment) => comment.id === commentId)) ||
    state.unconfirmedComments.some((entry) => entry.comment.id === commentId)
  );
}

/**
 * A new server list: the posts of the old one it no longer holds stay shown, as older posts. The path of
 * its older posts counts only while no older page was loaded (a loaded page's path goes on from there).
 */
function listReceived(state: PostsState, posts: PostWithComments[], olderPath: string | null | undefined): PostsState {
  const ids = new Set(posts.map((post) => post.id));
  const dropped = state.server.filter((post) => !ids.has(post.id));
  const olderPosts =
    dropped.length === 0
      ? state.olderPosts
      : [...state.olderPosts.filter((post) => !dropped.some((d) => d.id === post.id)), ...dropped];
  const olderPostsPath = olderPath === undefined || state.olderPosts.length > 0 ? state.olderPostsPath : olderPath;
  return { ...withServerList(state, posts), olderPosts, olderPostsPath };
}

/** A change from the stream: to the server's list, to an older post's comments, or to an older comment. */
function changeReceived(state: PostsState, change: LiveChange): PostsState {
  if (change.type === 'CommentUpdated') {
    const older = state.olderComments[change.postId];
    if (older?.comments.some((comment) => comment.id === change.comment.id)) {
      const comments = older.comments.map((comment) => (comment.id === change.comment.id ? change.comment : comment));
      return { ...state, olderComments: { ...state.olderComments, [change.postId]: { ...older, comments } } };
    }
  }
  const olderPosts = change.type === 'PostCreated' ? state.olderPosts : applyChange(state.olderPosts, change);
  return { ...withServerList(state, applyChange(state.server, change)), olderPosts };
}

export function postsReducer(state: PostsState, action: PostsAction): PostsState {
  switch (action.type) {
    case 'listReceived':
      return {
        ...listReceived(state, action.posts, action.olderPosts),
        loaded: true,
        loadError: null,
        finishedLoads: state.finishedLoads + 1,
      };
    case 'loadFailed':
      return { ...state, loadError: action.message, finishedLoads: state.finishedLoads + 1 };
    case 'changeReceived':
      return changeReceived(state, action.change);
    case 'olderPostsFound':
      return state.olderPosts.length > 0 ? state : { ...state, olderPostsPath: action.path };
    case 'olderPostsLoaded': {
      const shown = new Set([...state.olderPosts, ...state.server].map((post) => post.id));
      return {
        ...state,
        olderPosts: [...action.posts.filter((post) => !shown.has(post.id)), ...state.olderPosts],
        olderPostsPath: action.older,
      };
    }
    case 'olderCommentsLoaded': {
      const loaded = state.olderComments[action.postId]?.comments ?? [];
      const comments = [
        ...action.comments.filter((comment) => !loaded.some((known) => known.id === comment.id)),
        ...loaded,
      ];
      return { ...state, olderComments: { ...state.olderComments, [action.postId]: { comments, next: action.older } } };
    }
    case 'postCreated':
      return isListed(state, action.post.id)
        ? state
        : { ...state, unconfirmedPosts: [...state.unconfirmedPosts, action.post] };
    case 'commentCreated': {
      const { postId, comment } = action;
      return isCommentListed(state, comment.id)
        ? state
        : { ...state, unconfirmedComments: [...state.unconfirmedComments, { postId, comment }] };
    }
  }
}

/** A post with the older comments loaded for it before its own, and where the next older ones are. */
function withOlderComments(post: PostWithComments, older: OlderComments | undefined): PostWithComments {
  if (!older) return post;
  const ownIds = new Set(post.comments.map((comment) => comment.id));
  const { olderComments: _fromServer, ...rest } = post;
  return {
    ...rest,
    comments: [...older.comments.filter((comment) => !ownIds.has(comment.id)), ...post.comments],
    ...(older.next === null ? {} : { olderComments: older.next }),
  };
}

/** The server's list plus what this tab created and the server does not list yet, oldest first. */
export function visiblePosts(state: PostsState): PostWithComments[] {
  const { server, unconfirmedPosts, unconfirmedComments, olderPosts, olderComments } = state;
  const serverIds = new Set(server.map((post) => post.id));
  const posts = [
    ...olderPosts.filter((post) => !serverIds.has(post.id)),
    ...server,
    ...unconfirmedPosts.filter((post) => !serverIds.has(post.id)).map((post) => ({ ...post, comments: [] })),
  ].map((post) => withOlderComments(post, olderComments[post.id]));
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
    state.unconfirmedPosts.length > 0 ||
    posts.some((post) => post.comments.some((comment) => comment.status === 'pending'))
  );
}
