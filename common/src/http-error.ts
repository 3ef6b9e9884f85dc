/** An error with the HTTP status it should be answered with; the message is shown to the caller. */
export class HttpError extends Error {
  /** Sent as `Retry-After` (seconds): when a refusal is temporary, how soon trying again makes sense. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly status: number,
    message: string,
    { retryAfterSeconds }: { retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}
