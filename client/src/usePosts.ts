import { useCallback, useEffect, useMemo, useReducer, useRef } from 'react';
import type { Comment, Post, PostWithComments } from '@blog/common/api';
import * as api from './api';

/** Poll interval while a comment awaits moderation or a new post is not in the list yet. */
export const FAST_POLL_MS = 1_000;
/** Background poll interval, so that posts and comments made elsewhere show up. */
export const SLOW_POLL_MS = 5_000;

interface UnconfirmedComment {
  postId: string;
  comment: Comment;
}

interface State {
  /** The list as last loaded from `GET /posts`. */
  server: PostWithComments[];
  /** Whether a load has succeeded yet. */
  loaded: boolean;
  /** Why the last load failed; null once a load succeeds. */
  loadError: string | null;
  /** Counts finished loads; every change (re)starts the poll timer. */
  finishedLoads: number;
  /**
   * Posts and comments this tab created that `GET /posts` does not list yet (the read side is
   * updated a moment after the create call returns). They are shown meanwhile and dropped once
   * the server lists them.
   */
  unconfirmedPosts: Post[];
  unconfirmedComments: UnconfirmedComment[];
}

type Action =
  | { type: 'loadSucceeded'; posts: PostWithComments[] }
  | { type: 'loadFailed'; message: string }
  | { type: 'postCreated'; post: Post }
  | { type: 'commentCreated'; postId: string; comment: Comment };

const initialState: State = {
  server: [],
  loaded: false,
  loadError: null,
  finishedLoads: 0,
  unconfirmedPosts: [],
  unconfirmedComments: [],
};

function reducer(state: State, action: Action): State {
  switch (action.type) {
    case 'loadSucceeded': {
      const postIds = new Set(action.posts.map((post) => post.id));
      const commentIds = new Set(action.posts.flatMap((post) => post.comments.map((comment) => comment.id)));
      return {
        server: action.posts,
        loaded: true,
        loadError: null,
        finishedLoads: state.finishedLoads + 1,
        unconfirmedPosts: state.unconfirmedPosts.filter((post) => !postIds.has(post.id)),
        unconfirmedComments: state.unconfirmedComments.filter(({ comment }) => !commentIds.has(comment.id)),
      };
    }
    case 'loadFailed':
      return { ...state, loadError: action.message, finishedLoads: state.finishedLoads + 1 };
    case 'postCreated': {
      const known =
        state.server.some((post) => post.id === action.post.id) ||
        state.unconfirmedPosts.some((post) => post.id === action.post.id);
      return known ? state : { ...state, unconfirmedPosts: [...state.unconfirmedPosts, action.post] };
    }
    case 'commentCreated': {
      const { postId, comment } = action;
      const known =
        state.server.some((post) => post.comments.some((existing) => existing.id === comment.id)) ||
        state.unconfirmedComments.some((entry) => entry.comment.id === comment.id);
      return known ? state : { ...state, unconfirmedComments: [...state.unconfirmedComments, { postId, comment }] };
    }
  }
}

/** The server's list plus what this tab created and the server does not list yet, oldest first. */
function mergePosts(state: State): PostWithComments[] {
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

export interface UsePostsResult {
  /** Every post with its comments, oldest first. */
  posts: PostWithComments[];
  /** False until the first load has succeeded. */
  loaded: boolean;
  /** The message of the last failed load, null after a successful one. */
  loadError: string | null;
  /** Creates a post; rejects with an Error whose message can be shown to the user. */
  createPost: (title: string) => Promise<Post>;
  /** Creates a comment; rejects with an Error whose message can be shown to the user. */
  createComment: (postId: string, content: string) => Promise<Comment>;
  /** Reloads the list now (or right after the load that is under way). */
  refresh: () => void;
}

/**
 * Loads `GET /posts`, reloads right after every successful create, and polls: every second while a
 * comment awaits moderation or a new post is not listed yet, every five seconds otherwise. Loads
 * never overlap, so an older answer cannot overwrite a newer one; everything stops on unmount.
 */
export function usePosts(): UsePostsResult {
  const [state, dispatch] = useReducer(reducer, initialState);

  const active = useRef(false);
  const inFlight = useRef<AbortController | null>(null);
  const reloadQueued = useRef(false);
  const lastIssued = useRef(0);

  /**
   * Starts a load unless one is under way. `force` asks for a load that begins after this call:
   * if one is under way, another follows it (its answer may predate a create that just returned).
   */
  const load = useCallback((force: boolean): void => {
    if (!active.current) return;
    if (inFlight.current) {
      if (force) reloadQueued.current = true;
      return;
    }
    const controller = new AbortController();
    const id = (lastIssued.current += 1);
    inFlight.current = controller;
    api
      .fetchPosts(controller.signal)
      .then(
        (posts) => {
          if (!controller.signal.aborted && id === lastIssued.current) dispatch({ type: 'loadSucceeded', posts });
        },
        (error: unknown) => {
          if (controller.signal.aborted || api.isAbortError(error)) return;
          if (id === lastIssued.current) dispatch({ type: 'loadFailed', message: api.errorMessage(error) });
        },
      )
      .finally(() => {
        if (inFlight.current === controller) inFlight.current = null;
        if (controller.signal.aborted || !reloadQueued.current) return;
        reloadQueued.current = false;
        load(true);
      });
  }, []);

  const refresh = useCallback((): void => load(true), [load]);

  // First load; stop everything on unmount. While the tab is hidden polls are skipped; it reloads
  // as soon as the tab is shown again.
  useEffect(() => {
    active.current = true;
    load(true);
    const onVisibilityChange = (): void => {
      if (document.visibilityState === 'visible') load(true);
    };
    document.addEventListener('visibilitychange', onVisibilityChange);
    return () => {
      active.current = false;
      document.removeEventListener('visibilitychange', onVisibilityChange);
      reloadQueued.current = false;
      inFlight.current?.abort();
      inFlight.current = null;
    };
  }, [load]);

  const posts = useMemo(() => mergePosts(state), [state]);
  const needsFastPoll =
    state.unconfirmedPosts.length > 0 ||
    posts.some((post) => post.comments.some((comment) => comment.status === 'pending'));

  // The next poll is timed from the end of the last load, so polls never pile up.
  useEffect(() => {
    const delay = needsFastPoll ? FAST_POLL_MS : SLOW_POLL_MS;
    const timer = window.setTimeout(() => {
      if (document.visibilityState !== 'hidden') load(false);
    }, delay);
    return () => window.clearTimeout(timer);
  }, [state.finishedLoads, needsFastPoll, load]);

  const createPost = useCallback(
    async (title: string): Promise<Post> => {
      const post = await api.createPost(title);
      dispatch({ type: 'postCreated', post });
      refresh();
      return post;
    },
    [refresh],
  );

  const createComment = useCallback(
    async (postId: string, content: string): Promise<Comment> => {
      const comment = await api.createComment(postId, content);
      dispatch({ type: 'commentCreated', postId, comment });
      refresh();
      return comment;
    },
    [refresh],
  );

  return { posts, loaded: state.loaded, loadError: state.loadError, createPost, createComment, refresh };
}
