import { randomUUID } from 'node:crypto';
import { backoffDelay, sleep } from './backoff';
import type { BlogEvent, Envelope } from './contracts';
import { HttpError } from './http';
import { describeRequestError, sendHttp, type HttpReply } from './http-client';

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
    let reply: HttpReply;
    try {
      reply = await sendHttp(`${this.baseUrl}/events`, { method: 'POST', json: JSON.stringify(event), timeoutMs: this.timeoutMs });
    } catch (err) {
      const reason = describeRequestError(err);
      return { kind: NOT_SENT.has(reason) ? 'not-stored' : 'unknown', reason };
    }
    const { status, text } = reply;
    if (status >= 500) return { kind: 'not-stored', reason: `HTTP ${status}` };
    if (status >= 300) throw new Error(`event bus refused POST /events: HTTP ${status} ${text}`);
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
    let reply: HttpReply;
    try {
      reply = await sendHttp(this.baseUrl + path, { timeoutMs: this.timeoutMs });
    } catch (err) {
      throw new BusUnavailableError(describeRequestError(err));
    }
    const { status, text } = reply;
    if (status >= 500) throw new BusUnavailableError(`HTTP ${status}`);
    if (status >= 300) throw new Error(`event bus refused GET ${path}: HTTP ${status} ${text}`);
    return JSON.parse(text) as unknown;
  }
}
