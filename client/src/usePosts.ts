import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import type { Comment, Post, PostWithComments } from '@blog/common/api';
import * as api from './api';
import { awaitsServer, initialPostsState, postsReducer, visiblePosts, type PostsAction } from './postsState';
import { PostsStream, type ConnectionStatus, type StreamState } from './postsStream';
import { usePolling } from './usePolling';

/** Relative, so it goes through the client server locally and through the Ingress on posts.com. */
export const STREAM_PATH = '/posts/stream';

export interface UsePostsResult {
  /** Every post with its comments, oldest first. */
  posts: PostWithComments[];
  /** False until the list has been received once. */
  loaded: boolean;
  /** The message of the last failed load, null after a successful one. */
  loadError: string | null;
  /** Whether changes arrive live, and if not what is being done about it. */
  connection: ConnectionStatus;
  /** Creates a post; rejects with an Error whose message can be shown to the user. */
  createPost: (title: string) => Promise<Post>;
  /** Creates a comment; rejects with an Error whose message can be shown to the user. */
  createComment: (postId: string, content: string) => Promise<Comment>;
  /** Loads the list again now (reopens the stream, or polls when the stream is unavailable). */
  refresh: () => void;
  /** Whether there are older posts than those shown. */
  hasOlderPosts: boolean;
  /** Shows the next older page of posts; rejects with an Error whose message can be shown to the user. */
  loadOlderPosts: () => Promise<void>;
  /** Shows a post's older comments from the path its `olderComments` names; rejects like loadOlderPosts. */
  loadOlderComments: (postId: string, path: string) => Promise<void>;
}

const streamSupported = typeof EventSource !== 'undefined';

/**
 * The posts, live: the stream's snapshot, then each change as the query service applies it, in every
 * open tab. A create shows at once from its 201 answer and is not shown twice when the stream brings it.
 * While the stream is unavailable (down, or an older query service without it) the list is polled.
 */
export function usePosts(): UsePostsResult {
  const [state, dispatch] = useReducer(postsReducer, initialPostsState);
  const [stream, setStream] = useState<StreamState>(
    streamSupported ? { status: 'connecting', pollingFallback: false } : { status: 'polling', pollingFallback: true },
  );
  const subscription = useRef<PostsStream | null>(null);
  /** Set the moment the stream opens (before React re-renders), so a poll answered late is dropped. */
  const streamIsOpen = useRef(false);
  const dispatchPolled = useCallback((action: PostsAction): void => {
    if (!streamIsOpen.current) dispatch(action);
  }, []);

  useEffect(() => {
    if (!streamSupported) return;
    const posts = new PostsStream({
      url: STREAM_PATH,
      openSource: (url) => new EventSource(url),
      // Where its older posts are comes in the message after it, when there are any.
      onSnapshot: (list) => dispatch({ type: 'listReceived', posts: list, olderPosts: null }),
      onOlderPosts: (path) => dispatch({ type: 'olderPostsFound', path }),
      onChange: (change) => dispatch({ type: 'changeReceived', change }),
      onState: (next) => {
        streamIsOpen.current = !next.pollingFallback;
        setStream(next);
      },
    });
    subscription.current = posts;
    posts.open();
    return () => {
      posts.close();
      if (subscription.current === posts) subscription.current = null;
    };
  }, []);

  const posts = useMemo(() => visiblePosts(state), [state]);
  const poll = usePolling(dispatchPolled, {
    enabled: stream.pollingFallback,
    finishedLoads: state.finishedLoads,
    fast: awaitsServer(state, posts),
  });

  const refresh = useCallback((): void => {
    subscription.current?.retryNow();
    poll();
  }, [poll]);

  const createPost = useCallback(
    async (title: string): Promise<Post> => {
      const post = await api.createPost(title);
      dispatch({ type: 'postCreated', post });
      poll();
      return post;
    },
    [poll],
  );

  const createComment = useCallback(
    async (postId: string, content: string): Promise<Comment> => {
      const comment = await api.createComment(postId, content);
      dispatch({ type: 'commentCreated', postId, comment });
      poll();
      return comment;
    },
    [poll],
  );

  const { olderPostsPath } = state;
  const loadOlderPosts = useCallback(async (): Promise<void> => {
    if (olderPostsPath === null) return;
    const page = await api.fetchPosts(undefined, olderPostsPath);
    dispatch({ type: 'olderPostsLoaded', posts: page.items, older: page.older });
  }, [olderPostsPath]);

  const loadOlderComments = useCallback(async (postId: string, path: string): Promise<void> => {
    const page = await api.fetchComments(path);
    dispatch({ type: 'olderCommentsLoaded', postId, comments: page.items, older: page.older });
  }, []);

  return {
    posts,
    loaded: state.loaded,
    hasOlderPosts: olderPostsPath !== null,
    loadOlderPosts,
    loadOlderComments,
    loadError: state.loadError,
    connection: stream.status,
    createPost,
    createComment,
    refresh,
  };
}
