import { useCallback, useEffect, useRef, type Dispatch } from 'react';
import * as api from './api';
import type { PostsAction } from './postsState';

/** Poll interval while a comment awaits moderation or a new post is not in the list yet. */
export const FAST_POLL_MS = 1_000;
/** Background poll interval, so that posts and comments made elsewhere show up. */
export const SLOW_POLL_MS = 5_000;

export interface PollingInput {
  /** Polls only while true (the live stream is not available); turning it off aborts a load under way. */
  enabled: boolean;
  /** Counts finished loads: the next poll is timed from the end of the last one. */
  finishedLoads: number;
  /** Poll every second rather than every five. */
  fast: boolean;
}

/**
 * The fallback when the live stream is not available: loads `GET /posts` at once, then polls every
 * second while something awaits the server and every five seconds otherwise. Loads never overlap, so
 * an older answer cannot overwrite a newer one; a hidden tab skips polls and reloads when shown.
 * Returns `reload`, which loads now (or right after the load under way) while polling is enabled.
 */
export function usePolling(
  dispatch: Dispatch<PostsAction>,
  { enabled, finishedLoads, fast }: PollingInput,
): () => void {
  const active = useRef(false);
  const inFlight = useRef<AbortController | null>(null);
  const reloadQueued = useRef(false);
  const lastIssued = useRef(0);

  /**
   * Starts a load unless one is under way. `force` asks for a load that begins after this call:
   * if one is under way, another follows it (its answer may predate a create that just returned).
   */
  const load = useCallback(
    (force: boolean): void => {
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
          ({ items: posts, older }) => {
            if (!controller.signal.aborted && id === lastIssued.current)
              dispatch({ type: 'listReceived', posts, olderPosts: older });
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
    },
    [dispatch],
  );

  useEffect(() => {
    if (!enabled) return;
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
  }, [enabled, load]);

  useEffect(() => {
    if (!enabled) return;
    const timer = window.setTimeout(
      () => {
        if (document.visibilityState !== 'hidden') load(false);
      },
      fast ? FAST_POLL_MS : SLOW_POLL_MS,
    );
    return () => window.clearTimeout(timer);
  }, [enabled, finishedLoads, fast, load]);

  return useCallback((): void => load(true), [load]);
}
