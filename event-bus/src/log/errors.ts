import { HttpError } from '@blog/common';

/** How soon a publisher refused for a storage fault may try again. */
const RETRY_AFTER_SECONDS = 1;

/** The log could not store the events: nothing of them was kept, and none got a seq. */
export class EventLogUnavailableError extends HttpError {
  constructor(reason: string) {
    super(503, `event log cannot store events (${reason}); nothing was stored, try again`, {
      code: 'unavailable',
      retryAfterSeconds: RETRY_AFTER_SECONDS,
    });
  }
}

/**
 * The log could not confirm the event: it may have been stored (a replicated log's acknowledgement was
 * lost with a server). Publishing it again with the same id stores it at most once.
 */
export class EventLogUnconfirmedError extends HttpError {
  constructor(reason: string) {
    super(
      504,
      `event log did not confirm the event (${reason}); it may have been stored: publish it again with the same id`,
      { code: 'outcome_unknown', retryAfterSeconds: RETRY_AFTER_SECONDS },
    );
  }
}
