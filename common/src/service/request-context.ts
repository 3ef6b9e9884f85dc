import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The id of the request a piece of work is done for, kept across its awaits, so that every line logged
 * for it (the "event published" line too) carries the id the answer's X-Request-ID names.
 */
const requests = new AsyncLocalStorage<{ reqId: string }>();

export function runWithRequestId<T>(reqId: string, work: () => T): T {
  return requests.run({ reqId }, work);
}

/** The request id of the work under way, for the log lines' mixin; none outside a request. */
export function requestFields(): { reqId?: string } {
  const current = requests.getStore();
  return current ? { reqId: current.reqId } : {};
}
