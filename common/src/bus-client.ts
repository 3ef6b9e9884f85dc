import { randomUUID } from 'node:crypto';
import { backoffDelay, sleep } from './backoff';
import type { BlogEvent, Envelope } from './contracts';
import { HttpError } from './http';

/** The bus could not be reached, or answered that it did not store the event: nothing was published. */
export class BusUnavailableError extends HttpError {
  constructor(reason: string) {
    super(503, `event bus unavailable (${reason}); nothing was changed, try again`);
    this.name = 'BusUnavailableError';
  }
}

/** The request reached the bus but no answer came back, even after retrying: the event may be stored. */
export class BusUnconfirmedError extends HttpError {
  constructor(reason: string) {
    super(503, `event bus did not confirm (${reason}); the change may or may not have been made`);
    this.name = 'BusUnconfirmedError';
  }
}

/** Transport errors that mean the request never reached the bus. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

type PublishAttempt = { kind: 'stored'; seq: number } | { kind: 'not-stored' | 'unknown'; reason: string };

/** Where a consumer reads the event history from. */
export interface EventHistory {
  /** Up to `limit` raw envelopes with seq greater than `after`, in seq order. */
  readAfter(after: number, limit: number): Promise<unknown[]>;
}

export interface PublishOptions {
  /**
   * The event's id; a new UUID when not given. A reaction gives an id derived from its cause, so that
   * publishing it again (after an unconfirmed attempt) can never store it twice.
   */
  id?: string;
}

/** Where a service publishes its events. */
export interface EventPublisher {
  publish<E extends BlogEvent>(event: E, options?: PublishOptions): Promise<Envelope<E>>;
}

export interface BusClientOptions {
  /** How long one request to the bus may take. */
  timeoutMs?: number;
  /** After an answer was lost, how long to keep retrying the same event (the bus stores an id once). */
  confirmWithinMs?: number;
}

/** HTTP client of the event bus: publish events, read the history. */
export class BusClient implements EventPublisher, EventHistory {
  private readonly timeoutMs: number;
  private readonly confirmWithinMs: number;

  constructor(
    private readonly baseUrl: string,
    { timeoutMs = 3_000, confirmWithinMs = 5_000 }: BusClientOptions = {},
  ) {
    this.timeoutMs = timeoutMs;
    this.confirmWithinMs = confirmWithinMs;
  }

  /**
   * Publishes one event. If the bus is unreachable it fails at once (nothing was stored). If the request
   * may have reached the bus but its answer was lost (connection reset, timeout, a bus restarting), it
   * sends the same event again until confirmed: the bus stores an event id once, so the retry returns
   * the original seq or stores the event now.
   */
  async publish<E extends BlogEvent>(event: E, { id = randomUUID() }: PublishOptions = {}): Promise<Envelope<E>> {
    const unsequenced = { id, type: event.type, data: event.data, time: new Date().toISOString() };
    const deadline = Date.now() + this.confirmWithinMs;
    let maybeStored = false;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.tryPublish(unsequenced);
      if (outcome.kind === 'stored') return { ...event, id: unsequenced.id, time: unsequenced.time, seq: outcome.seq } as Envelope<E>;
      maybeStored ||= outcome.kind === 'unknown';
      if (!maybeStored) throw new BusUnavailableError(outcome.reason);
      if (Date.now() >= deadline) throw new BusUnconfirmedError(outcome.reason);
      await sleep(backoffDelay(attempt, { minDelayMs: 50, maxDelayMs: 1_000 }));
    }
  }

  private async tryPublish(event: object): Promise<PublishAttempt> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const reason = describeFetchError(err);
      return { kind: NOT_SENT.has(reason) ? 'not-stored' : 'unknown', reason };
    }
    try {
      text = await response.text();
    } catch (err) {
      return { kind: response.ok ? 'unknown' : 'not-stored', reason: describeFetchError(err) };
    }
    if (response.status >= 500) return { kind: 'not-stored', reason: `HTTP ${response.status}` };
    if (!response.ok) throw new Error(`event bus refused POST /events: HTTP ${response.status} ${text}`);
    const seq = (JSON.parse(text) as { seq?: unknown } | null)?.seq;
    if (typeof seq !== 'number') throw new Error(`event bus answered without a seq: ${text}`);
    return { kind: 'stored', seq };
  }

  async readAfter(after: number, limit: number): Promise<unknown[]> {
    const body = await this.getJson(`/events?after=${after}&limit=${limit}`);
    if (!Array.isArray(body)) throw new Error('event bus history is not an array');
    return body;
  }

  private async getJson(path: string): Promise<unknown> {
    let text: string;
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, { signal: AbortSignal.timeout(this.timeoutMs) });
      text = await response.text();
    } catch (err) {
      throw new BusUnavailableError(describeFetchError(err));
    }
    if (response.status >= 500) throw new BusUnavailableError(`HTTP ${response.status}`);
    if (!response.ok) throw new Error(`event bus refused GET ${path}: HTTP ${response.status} ${text}`);
    return JSON.parse(text) as unknown;
  }
}

/** A short reason for a failed fetch: "timed out", or the network error code such as ECONNREFUSED. */
export function describeFetchError(err: unknown): string {
  // An AbortSignal timeout rejects with a DOMException, which is not an Error instance in Node 20.
  const { name, message, cause } = (err ?? {}) as { name?: unknown; message?: unknown; cause?: { code?: unknown } };
  if (name === 'TimeoutError') return 'timed out';
  if (typeof cause?.code === 'string') return cause.code;
  return typeof message === 'string' ? message : String(err);
}
