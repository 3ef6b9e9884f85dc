import { setTimeout as delay } from 'node:timers/promises';

/** Polls `condition` every `intervalMs` until it holds (true) or `timeoutMs` has passed (false). */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    await delay(Math.min(intervalMs, left));
  }
}

export { delay };
