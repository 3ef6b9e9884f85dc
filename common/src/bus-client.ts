import { randomUUID } from 'node:crypto';
import type { BlogEvent, Envelope } from './contracts';
import { HttpError } from './http';

/** The bus could not be reached or did not answer in time; nothing was published. */
export class BusUnavailableError extends HttpError {
  constructor(reason: string) {
    super(503, `event bus unavailable (${reason}); nothing was changed, try again`);
    this.name = 'BusUnavailableError';
  }
}

/** Where a consumer reads the event history from. */
export interface EventHistory {
  /** Up to `limit` raw envelopes with seq greater than `after`, in seq order. */
  readAfter(after: number, limit: number): Promise<unknown[]>;
}

/** Where a service publishes its events. */
export interface EventPublisher {
  publish<E extends BlogEvent>(event: E): Promise<Envelope<E>>;
}

export interface BusClientOptions {
  /** How long one request to the bus may take. */
  timeoutMs?: number;
}

/** HTTP client of the event bus: publish events, read the history. */
export class BusClient implements EventPublisher, EventHistory {
  private readonly timeoutMs: number;

  constructor(
    private readonly baseUrl: string,
    { timeoutMs = 3_000 }: BusClientOptions = {},
  ) {
    this.timeoutMs = timeoutMs;
  }

  async publish<E extends BlogEvent>(event: E): Promise<Envelope<E>> {
    const unsequenced = { id: randomUUID(), type: event.type, data: event.data, time: new Date().toISOString() };
    const body = await this.request('POST', '/events', unsequenced);
    const seq = (body as { seq?: unknown } | null)?.seq;
    if (typeof seq !== 'number') throw new Error(`event bus answered without a seq: ${JSON.stringify(body)}`);
    return { ...event, id: unsequenced.id, time: unsequenced.time, seq } as Envelope<E>;
  }

  async readAfter(after: number, limit: number): Promise<unknown[]> {
    const body = await this.request('GET', `/events?after=${after}&limit=${limit}`);
    if (!Array.isArray(body)) throw new Error('event bus history is not an array');
    return body;
  }

  private async request(method: string, path: string, payload?: unknown): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(this.baseUrl + path, {
        method,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
        body: payload === undefined ? null : JSON.stringify(payload),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new BusUnavailableError(describeFetchError(err));
    }
    const text = await response.text().catch(() => '');
    if (response.status >= 500) throw new BusUnavailableError(`HTTP ${response.status}`);
    if (!response.ok) throw new Error(`event bus refused ${method} ${path}: HTTP ${response.status} ${text}`);
    return text === '' ? null : (JSON.parse(text) as unknown);
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
