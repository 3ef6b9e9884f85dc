/**
 * Waiting for something to become true, in one loop: `waitFor` returns what the check found or throws a
 * message naming what was awaited; `waitUntil` answers whether it happened in time; `eventually` retries
 * an assertion and throws its last failure.
 */

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export type Falsy = false | null | undefined | 0 | '';

type Polled<T> = { ok: true; value: T } | { ok: false; lastError: unknown };

/** Calls `check` every `intervalMs` until it returns a truthy value or `timeoutMs` has passed; a throw counts as "not yet". */
async function poll<T>(
  check: () => T | Falsy | Promise<T | Falsy>,
  timeoutMs: number,
  intervalMs: number,
): Promise<Polled<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const result = await check();
      if (result) return { ok: true, value: result };
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) return { ok: false, lastError };
    await delay(Math.min(intervalMs, left));
  }
}

export interface WaitForOptions {
  /** What should happen, for the error message: "the comment to be approved". */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Extra detail appended to the timeout message (e.g. the state last seen). */
  detail?: () => string | Promise<string>;
}

/**
 * Polls `check` until it returns a truthy value, and returns that value. A check that throws counts as
 * "not yet"; the last error is quoted if time runs out. Throws `timed out after …ms waiting for <what>`.
 */
export async function waitFor<T>(
  check: () => T | Falsy | Promise<T | Falsy>,
  { what, timeoutMs = 10_000, intervalMs = 100, detail }: WaitForOptions,
): Promise<T> {
  const polled = await poll(check, timeoutMs, intervalMs);
  if (polled.ok) return polled.value;
  let message = `timed out after ${timeoutMs}ms waiting for ${what}`;
  if (polled.lastError !== undefined) message += `; last check failed with: ${describeError(polled.lastError)}`;
  if (detail) {
    try {
      message += `; ${await detail()}`;
    } catch (err) {
      message += `; (detail failed: ${describeError(err)})`;
    }
  }
  throw new Error(message);
}

/** Polls `condition` every `intervalMs` until it holds (true) or `timeoutMs` has passed (false). */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<boolean> {
  return (await poll(condition, timeoutMs, intervalMs)).ok;
}

/** Retries an assertion until it passes or the (generous) deadline passes; then its last failure is thrown. */
export async function eventually(
  assertion: () => void | Promise<void>,
  { timeoutMs = 5_000, intervalMs = 10 } = {},
): Promise<void> {
  const polled = await poll(
    async () => {
      await assertion();
      return true;
    },
    timeoutMs,
    intervalMs,
  );
  if (!polled.ok) throw polled.lastError;
}

/** A failure in a sentence: the error's message, with the network error code of its cause when it has one. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
    return typeof code === 'string' ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
