import type { Response } from 'express';
import { errorBody, errorCodeFor, type ErrorCode } from '../contracts/error-codes';

/**
 * An error with the HTTP status it should be answered with; the message is shown to the caller, the code
 * (by default the status's, see errorCodeFor) tells programs what happened.
 */
export class HttpError extends Error {
  readonly code: ErrorCode;
  /** Sent as `Retry-After` (seconds): when a refusal is temporary, how soon trying again makes sense. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly status: number,
    message: string,
    { code = errorCodeFor(status), retryAfterSeconds }: { code?: ErrorCode; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.code = code;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Answers a JSON error `{error, code}`, for middleware that answers without going through the error handler. */
export function sendError(
  res: Response,
  status: number,
  message: string,
  code: ErrorCode = errorCodeFor(status),
): void {
  res.status(status).json(errorBody(message, code));
}
