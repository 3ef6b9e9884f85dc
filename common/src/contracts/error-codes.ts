/**
 * The machine codes of the blog's JSON errors, `{"error": "<for people>", "code": "<for programs>"}`.
 * Programs decide on the code, never on the words of the message. No runtime dependencies: the page
 * imports this module (through `contracts/api.ts`).
 */
import type { ApiError } from './api';

export const ERROR_CODES = [
  /** 400 (411, 415): the request is malformed or invalid; sent again unchanged it fails again. */
  'invalid_request',
  /** 401: no credential, a wrong one, or a delivery the bus did not sign. */
  'unauthorized',
  /** 403: the credential is known but may not do this. */
  'forbidden',
  /** 404: no such route, or no such resource (a post). */
  'not_found',
  /** 404: the bus keeps no snapshot of that schema (at that seq). */
  'no_snapshot',
  /** 409: the bus holds another event under this event's id; nothing was stored. */
  'event_id_taken',
  /** 409: the request clashes with what is there (a snapshot claimed or kept already, a delivery past the history). */
  'conflict',
  /** 413: the body (or an event of it) is larger than the limit. */
  'payload_too_large',
  /** 422: this Idempotency-Key was used for a create with another body; nothing was created. */
  'key_reused',
  /** 429: a per-client limit of the router was reached (creates per second, open streams). */
  'rate_limited',
  /** 500: an unexpected fault. */
  'internal',
  /** 502: the event bus is not this blog's bus (it answered without a seq). */
  'bus_incompatible',
  /** 503 (502 from the router): nothing was changed; try again (after Retry-After when given). */
  'unavailable',
  /** 503, 504 (502 from the router): the change may or may not have been made; a create is safe to send again with its Idempotency-Key. */
  'outcome_unknown',
  /** 503: the bus's event stream was changed under it; it refuses reads and appends until an operator restores it. */
  'stream_changed',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

/** The code an error of this status carries unless it says another; how an answer without a code is read. */
export function errorCodeFor(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 413:
      return 'payload_too_large';
    case 429:
      return 'rate_limited';
    case 503:
      return 'unavailable';
    // A gateway's timeout: the request may have been handled.
    case 504:
      return 'outcome_unknown';
    default:
      return status >= 500 ? 'internal' : 'invalid_request';
  }
}

/** The code an error answer carries; undefined without one, or with one this version does not know. */
export function errorCodeOf(body: unknown): ErrorCode | undefined {
  return typeof body === 'object' && body !== null && isErrorCode((body as { code?: unknown }).code)
    ? (body as { code: ErrorCode }).code
    : undefined;
}

/**
 * What an error answer means to a program: the code it carries, else its status's. Answers without a code
 * come from a server older than the codes (one still running during an update) or from whatever stands in
 * front of it (a proxy's own 502 or 504); their status says as much as they ever said.
 */
export function answerCode(status: number, body: unknown): ErrorCode {
  return errorCodeOf(body) ?? errorCodeFor(status);
}

/** The JSON body of an error answer. */
export function errorBody(message: string, code: ErrorCode): ApiError {
  return { error: message, code };
}
