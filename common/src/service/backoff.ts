export interface BackoffOptions {
  /** First retry delay. */
  minDelayMs: number;
  /** Upper bound of the doubling delay. */
  maxDelayMs: number;
}

// Capped at 1 s so a service or the bus coming back is noticed within a second; a retry is cheap.
export const DEFAULT_BACKOFF: BackoffOptions = { minDelayMs: 100, maxDelayMs: 1_000 };

/** Delay before retry number `attempt` (0-based): doubles each time, capped. */
export function backoffDelay(attempt: number, { minDelayMs, maxDelayMs }: BackoffOptions = DEFAULT_BACKOFF): number {
  return Math.min(maxDelayMs, minDelayMs * 2 ** Math.min(attempt, 30));
}

/** Resolves after `ms`, or at once when the signal aborts. Never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Runs `task` until it succeeds, waiting a capped exponential backoff between failures.
 * Returns false when the signal aborted before success.
 */
export async function retryUntilDone(
  task: () => Promise<void>,
  {
    signal,
    onError,
    backoff = DEFAULT_BACKOFF,
  }: { signal: AbortSignal; onError: (err: unknown, attempt: number) => void; backoff?: BackoffOptions },
): Promise<boolean> {
  for (let attempt = 0; !signal.aborted; attempt++) {
    try {
      await task();
      return true;
    } catch (err) {
      if (signal.aborted) break;
      onError(err, attempt);
      await sleep(backoffDelay(attempt, backoff), signal);
    }
  }
  return false;
}
