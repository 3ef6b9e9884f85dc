import { backoffDelay, DEFAULT_BACKOFF, describeFetchError, sleep, type SubscriberStatus, type BackoffOptions, type Logger } from '@blog/common';
import type { EventLog, StoredEvent } from './log';

export interface DeliveryOptions {
  log: EventLog;
  logger: Logger;
  /** How long one delivery request may take before it counts as failed. */
  timeoutMs?: number;
  backoff?: BackoffOptions;
  /** Events read from the log per round. */
  readBatch?: number;
  /** On stop, how long a delivery in flight may take to finish before it is aborted. */
  drainTimeoutMs?: number;
}


/**
 * Answers that say "this event will never be accepted" (malformed, too large). Anything else — a 404 from a
 * subscriber not serving /events yet, a 401 from a misconfigured token, a 5xx — is retried, because
 * passing over the event would lose it.
 */
const REJECTING_STATUSES = new Set([400, 413, 415, 422]);

/**
 * Delivers the log to one subscriber: every event, in seq order, one at a time, retried with capped
 * exponential backoff until the subscriber answers 2xx. A rejecting answer (see REJECTING_STATUSES) is
 * logged and the event passed over. Each subscriber has its own loop, so a slow or
 * dead one never holds up the others.
 */
export class SubscriberDelivery {
  private delivered = 0;
  private failures = 0;
  private lastError: string | null = null;
  /** Ends waiting and retrying. */
  private readonly stopping = new AbortController();
  /** Aborts a request still in flight once the drain time is over. */
  private readonly cancelling = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    readonly url: string,
    private readonly options: DeliveryOptions,
  ) {}

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => this.options.logger.error({ err, subscriber: this.url }, 'delivery loop stopped'));
  }

  /**
   * Stops delivering: no new request starts, a request in flight may finish within the drain time and is
   * aborted after it (its event then counts as not delivered and is sent again by the next bus).
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    const cancel = setTimeout(() => this.cancelling.abort(), this.options.drainTimeoutMs ?? 3_000);
    await this.loop;
    clearTimeout(cancel);
  }

  status(): SubscriberStatus {
    return {
      url: this.url,
      delivered: this.delivered,
      lag: Math.max(0, this.options.log.lastSeq - this.delivered),
      failures: this.failures,
      lastError: this.lastError,
    };
  }

  private async run(): Promise<void> {
    const { log, readBatch = 100 } = this.options;
    const { signal } = this.stopping;
    while (!signal.aborted) {
      const events = await log.readAfter(this.delivered, readBatch);
      if (events.length === 0) {
        await log.waitForNewerThan(this.delivered, signal);
        continue;
      }
      for (const event of events) {
        if (event.seq <= this.delivered) continue;
        const position = await this.deliverUntilDone(event);
        if (position === undefined) return;
        // A subscriber that says it has applied more (it caught up from the history itself, e.g. after
        // this bus restarted) need not be sent those events again.
        this.delivered = Math.min(log.lastSeq, Math.max(event.seq, position));
      }
    }
  }

  /** Resolves with the position the subscriber reports (at least the event's seq), or undefined when stopped. */
  private async deliverUntilDone(event: StoredEvent): Promise<number | undefined> {
    const { logger, backoff = DEFAULT_BACKOFF } = this.options;
    const { signal } = this.stopping;
    for (;;) {
      const outcome = await this.post(event);
      if (outcome.kind === 'delivered') {
        this.failures = 0;
        this.lastError = null;
        return outcome.position;
      }
      if (outcome.kind === 'rejected') {
        logger.warn({ subscriber: this.url, seq: event.seq, id: event.id, type: event.type, reason: outcome.reason }, 'subscriber rejected event, passing over it');
        this.failures = 0;
        return event.seq;
      }
      if (signal.aborted) return undefined;
      this.lastError = outcome.reason;
      if (this.failures === 0) logger.warn({ subscriber: this.url, seq: event.seq, reason: outcome.reason }, 'delivery failed, retrying');
      await sleep(backoffDelay(this.failures++, backoff), signal);
      if (signal.aborted) return undefined;
    }
  }

  private async post(event: StoredEvent): Promise<{ kind: 'delivered'; position: number } | { kind: 'rejected' | 'failed'; reason: string }> {
    try {
      const response = await fetch(`${this.url}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(event),
        signal: AbortSignal.any([this.cancelling.signal, AbortSignal.timeout(this.options.timeoutMs ?? 5_000)]),
      });
      const text = await response.text().catch(() => '');
      if (response.ok) return { kind: 'delivered', position: reportedPosition(text) ?? event.seq };
      const reason = `HTTP ${response.status} ${text.slice(0, 200)}`;
      return { kind: REJECTING_STATUSES.has(response.status) ? 'rejected' : 'failed', reason };
    } catch (err) {
      return { kind: 'failed', reason: describeFetchError(err) };
    }
  }
}

/** The `position` a subscriber of this code base reports in its answer (course services answer `{}`). */
function reportedPosition(body: string): number | undefined {
  try {
    const position = (JSON.parse(body) as { position?: unknown } | null)?.position;
    return typeof position === 'number' && Number.isSafeInteger(position) ? position : undefined;
  } catch {
    return undefined;
  }
}
