import {
  backoffDelay,
  DEFAULT_BACKOFF,
  describeRequestError,
  EVENT_BATCH_PATH,
  DELIVERY_SIGNATURE_HEADER,
  eventsHeaders,
  inEventTrace,
  eventTraceContextSchema,
  markSpanFailed,
  sendHttp,
  signDelivery,
  sleep,
  tracingStarted,
  withEventsSpan,
  type BackoffOptions,
  type Logger,
  type SubscriberStatus,
  type TracedEvent,
} from '@blog/common';
import type { KeyObject } from 'node:crypto';
import type { EventLog } from '../log/event-log';
import type { BusMetrics } from '../metrics';
import type { PositionStore } from './position-store';

export interface DeliveryOptions {
  log: EventLog;
  logger: Logger;
  /** How long one delivery request may take before it counts as failed. */
  timeoutMs?: number;
  backoff?: BackoffOptions;
  /** At most this many events per batch. */
  batchSize?: number;
  /** At most about this many bytes of events per batch (a batch always holds at least one event). */
  batchBytes?: number;
  /** On stop, how long a delivery in flight may take to finish before it is aborted. */
  drainTimeoutMs?: number;
  metrics?: BusMetrics;
  /** The EVENTS_TOKEN subscribers of the older shared-token setup require, sent with every delivery. */
  token?: string;
  /** Signs every delivery body (DELIVERY_SIGNING_KEY): subscribers with the public key apply only signed ones. */
  signingKey?: KeyObject;
  /** Where the subscriber's position is kept across restarts of the bus (none: it starts from 0). */
  positions?: PositionStore;
}

/** Within the 4 MB body limit of `POST /events/batch`, with room to spare. */
const DEFAULT_BATCH_BYTES = 1 << 20;
const DEFAULT_BATCH_SIZE = 1_000;
/**
 * How long a delivery waits for its position to be stored before it goes on: a store that is slow (a
 * replicated store electing a leader) must not stop deliveries; the next acknowledgement stores again.
 */
const SAVE_WAIT_MS = 2_000;
/** How long a subscriber never reached may refuse connections before that is a warning (it may be starting). */
const STARTUP_GRACE_MS = 15_000;
/** How often at most the position of a subscriber that reports its own is stored. */
const REPORTING_SAVE_INTERVAL_MS = 250;
/** A position store that failed is tried again after this, also when nothing new is delivered meanwhile. */
const SAVE_RETRY_MS = 1_000;

/**
 * Answers that say "this will never be accepted" (malformed, too large). Anything else — a 404 from a
 * subscriber not serving /events yet, a 401 from a misconfigured token, a 5xx — is retried, because
 * passing over the event would lose it.
 */
const REJECTING_STATUSES = new Set([400, 413, 415, 422]);

type Outcome =
  | { kind: 'delivered'; position: number; reported: boolean }
  | { kind: 'rejected' | 'failed' | 'unsupported'; reason: string };

/**
 * Delivers the log to one subscriber: every event, in seq order, retried with capped exponential backoff
 * until the subscriber answers 2xx. Each subscriber has its own loop, so a slow or dead one never holds up
 * the others.
 *
 * Events go in batches (`POST /events/batch`, a JSON array): whatever has been appended since the last
 * delivery, up to a size bound. Under light load a batch is one event sent at once; under heavy load one
 * request carries hundreds, so a subscriber keeps up at rates one request per event never could.
 * A subscriber without that route (404 or 405, e.g. a course service) is sent one event per
 * `POST /events` instead. A batch answered with a rejecting status (see REJECTING_STATUSES) is sent again
 * one event at a time, so only the events the subscriber rejects are logged and passed over.
 */
export class SubscriberDelivery {
  private delivered = 0;
  private failures = 0;
  private lastError: string | null = null;
  private batches = true;
  /** Ends waiting and retrying (one per run: a delivery stopped when the bus lost its lease starts again). */
  private stopping = new AbortController();
  /** Aborts a request still in flight once the drain time is over. */
  private cancelling = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly headers: Record<string, string>;
  /** Whether the last save of the position failed (logged once until one succeeds). */
  private savingFails = false;
  /** Whether the subscriber's last answer said how far it has got (this code base's services do). */
  private reportsPosition = false;
  /** Whether this subscriber has acknowledged anything since this bus started delivering to it. */
  private reached = false;
  /** When a subscriber never reached first refused a connection; whether that was warned about. */
  private unreachableSince: number | undefined;
  private warnedUnreachable = false;
  /** A coalesced store of the position of a subscriber that reports its own, due soon. */
  private saveDue: NodeJS.Timeout | undefined;

  constructor(
    readonly url: string,
    private readonly options: DeliveryOptions,
  ) {
    this.headers = eventsHeaders(options.token);
  }

  /** Starts delivering from the stored position (again, after a stop). */
  start(): void {
    if (this.loop) return;
    this.stopping = new AbortController();
    this.cancelling = new AbortController();
    this.loop = this.loadPosition()
      .then(() => this.run())
      .catch((err: unknown) => this.options.logger.error({ err, subscriber: this.url }, 'delivery loop stopped'));
  }

  /**
   * Stops delivering: no new request starts, a request in flight may finish within the drain time and is
   * aborted after it (its events then count as not delivered and are sent again by the next bus).
   */
  async stop({ drainTimeoutMs = this.options.drainTimeoutMs ?? 3_000 } = {}): Promise<void> {
    if (!this.loop) return;
    this.stopping.abort();
    const cancel = setTimeout(() => this.cancelling.abort(), drainTimeoutMs);
    await this.loop;
    this.loop = undefined;
    clearTimeout(cancel);
    clearTimeout(this.saveDue);
    this.saveDue = undefined;
    await this.savePosition();
  }

  /**
   * Reads where the subscriber stands from the position store (another bus replica may have delivered
   * since this one last did), retrying while the store cannot be read.
   */
  async loadPosition({ retry = true } = {}): Promise<void> {
    const { positions, log, logger, backoff = DEFAULT_BACKOFF } = this.options;
    if (!positions) return;
    for (let attempt = 0; ; attempt++) {
      try {
        const stored = await positions.load(this.url);
        // A stored position beyond the log (the log was replaced by a shorter one) would skip what is there.
        if (stored > log.lastSeq)
          logger.warn(
            { subscriber: this.url, stored, lastSeq: log.lastSeq },
            'stored position is beyond the log; delivering from its end',
          );
        this.delivered = Math.min(stored, log.lastSeq);
        return;
      } catch (err) {
        if (!retry || this.stopping.signal.aborted) throw err;
        if (attempt === 0)
          logger.warn(
            { subscriber: this.url, reason: (err as Error).message },
            'could not read the stored position; trying again',
          );
        await sleep(backoffDelay(attempt, backoff), this.stopping.signal);
      }
    }
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
    const { log, batchSize = DEFAULT_BATCH_SIZE, batchBytes = DEFAULT_BATCH_BYTES } = this.options;
    const { signal } = this.stopping;
    while (!signal.aborted) {
      const after = this.delivered;
      const events = await log.readRawAfter(after, this.batches ? batchSize : 1, batchBytes);
      if (events.length === 0) {
        await log.waitForNewerThan(after, signal);
        continue;
      }
      const position = await this.deliverUntilDone(after, events);
      if (position === undefined) return;
      this.advance(after + events.length, position);
      // A subscriber that reports its position skips what it already has and tells a restarted bus where
      // it stands in its first answer: its delivery need not wait for the store, and a few stores a second
      // are enough.
      if (this.reportsPosition) this.saveSoon();
      else if (!(await this.savePositionBeforeMore())) return;
    }
  }

  /**
   * For a subscriber that reports no position: stores how far it has acknowledged before anything more is
   * sent, trying again (with backoff) while the store fails, so that whichever bus delivers next sends it
   * again at most the batch that was in flight. False when stopped meanwhile (stop() stores it then).
   */
  private async savePositionBeforeMore(): Promise<boolean> {
    const { backoff = DEFAULT_BACKOFF } = this.options;
    const { signal } = this.stopping;
    for (let attempt = 0; !signal.aborted; attempt++) {
      if (await this.savePosition({ retryLater: false })) return true;
      await sleep(backoffDelay(attempt, backoff), signal);
    }
    return false;
  }

  private saveSoon(): void {
    this.saveDue ??= setTimeout(() => this.saveNow(), REPORTING_SAVE_INTERVAL_MS);
  }

  /**
   * Stores how far the subscriber has acknowledged; true once stored. A store that fails is logged and, for
   * a subscriber that reports its own position (whose deliveries do not wait for the store), tried again
   * with the next acknowledgement or after SAVE_RETRY_MS when none comes: the stored position must still
   * catch up once the store is back, or a replica taking over would send everything since it again.
   */
  private async savePosition({ retryLater = true } = {}): Promise<boolean> {
    const { positions, logger } = this.options;
    if (!positions) return true;
    try {
      await withTimeout(positions.save(this.url, this.delivered), SAVE_WAIT_MS);
      if (this.savingFails)
        logger.info({ subscriber: this.url, seq: this.delivered }, 'subscriber position stored again');
      this.savingFails = false;
      return true;
    } catch (err) {
      if (!this.savingFails)
        logger.warn(
          { subscriber: this.url, seq: this.delivered, reason: (err as Error).message },
          'could not store the subscriber position; trying again',
        );
      this.savingFails = true;
      // Not once stopped: stop() stores the position itself, and the next replica delivering takes over.
      if (retryLater && this.loop) this.saveDue ??= setTimeout(() => this.saveNow(), SAVE_RETRY_MS).unref();
      return false;
    }
  }

  private saveNow(): void {
    this.saveDue = undefined;
    void this.savePosition();
  }

  /**
   * Marks events up to `lastSent` delivered. A subscriber that says it has applied more (it caught up from
   * the history itself, e.g. after this bus restarted) need not be sent those events again.
   */
  private advance(lastSent: number, subscriberPosition: number): void {
    this.delivered = Math.min(this.options.log.lastSeq, Math.max(this.delivered, lastSent, subscriberPosition));
  }

  /** Counts the events a subscriber acknowledged, and logs each (id, type, seq) so it can be followed. */
  private acknowledged(events: readonly TracedEvent[]): void {
    const { logger, metrics } = this.options;
    metrics?.eventsDelivered.inc({ subscriber: this.url }, events.length);
    if (!logger.isLevelEnabled('info')) return;
    for (const { id, type, seq, trace } of events)
      inEventTrace(trace, () => logger.info({ subscriber: this.url, eventId: id, type, seq }, 'event delivered'));
  }

  /**
   * What the delivery's span and log lines say of each event: its id, type and trace context when either
   * needs them (each event is parsed then), else its seq alone.
   */
  private describe(after: number, events: readonly string[]): TracedEvent[] {
    const read = tracingStarted() || this.options.logger.isLevelEnabled('info');
    return events.map((text, index) => (read ? tracedEvent(text, after + index + 1) : { seq: after + index + 1 }));
  }

  /**
   * Delivers events after+1 … after+n. Resolves with the position the subscriber reports (at least the last
   * seq sent), or undefined when stopped.
   */
  private async deliverUntilDone(after: number, events: string[]): Promise<number | undefined> {
    const { logger, backoff = DEFAULT_BACKOFF } = this.options;
    const { signal } = this.stopping;
    const last = after + events.length;
    const traced = this.describe(after, events);
    for (;;) {
      const outcome = await withEventsSpan('deliver', this.batches ? traced : traced.slice(0, 1), this.url, (span) =>
        (this.batches
          ? this.post(EVENT_BATCH_PATH, `[${events.join(',')}]`, last)
          : this.post('/events', events[0] as string, last)
        ).then((answer) => {
          if (answer.kind !== 'delivered') markSpanFailed(span, answer.reason);
          return answer;
        }),
      );
      if (outcome.kind === 'delivered') {
        this.reached = true;
        this.reportsPosition = outcome.reported;
        this.acknowledged(traced);
        this.failures = 0;
        this.lastError = null;
        return outcome.position;
      }
      if (outcome.kind === 'unsupported') {
        logger.info(
          { subscriber: this.url, reason: outcome.reason },
          'subscriber takes no batches: delivering one event per request',
        );
        this.batches = false;
        return this.deliverOneByOne(after, events);
      }
      if (outcome.kind === 'rejected') {
        if (this.batches) return this.deliverOneByOne(after, events, { thenBatches: true });
        logger.warn(
          { subscriber: this.url, seq: last, reason: outcome.reason },
          'subscriber rejected event, passing over it',
        );
        this.failures = 0;
        return last;
      }
      if (signal.aborted) return undefined;
      this.lastError = outcome.reason;
      this.options.metrics?.deliveryRetries.inc({ subscriber: this.url });
      this.reportFailure(after + 1, outcome.reason);
      await sleep(backoffDelay(this.failures++, backoff), signal);
      if (signal.aborted) return undefined;
    }
  }

  /**
   * One warning per run of failures. A subscriber this bus has never reached that refuses connections is
   * most likely still starting (`npm run dev` starts everything at once): that is logged at debug level,
   * and a warning comes only if it is still so after STARTUP_GRACE_MS.
   */
  private reportFailure(seq: number, reason: string): void {
    const { logger } = this.options;
    const starting = !this.reached && reason === 'ECONNREFUSED';
    if (starting) {
      this.unreachableSince ??= Date.now();
      if (Date.now() - this.unreachableSince < STARTUP_GRACE_MS) {
        if (this.failures === 0)
          logger.debug({ subscriber: this.url, seq, reason }, 'subscriber not listening yet, retrying');
        return;
      }
      if (this.warnedUnreachable) return;
      this.warnedUnreachable = true;
      logger.warn(
        { subscriber: this.url, seq, reason, waitedMs: Date.now() - this.unreachableSince },
        'subscriber still not listening, retrying',
      );
      return;
    }
    if (this.failures === 0) logger.warn({ subscriber: this.url, seq, reason }, 'delivery failed, retrying');
  }

  /**
   * Events sent one per request: a batch the subscriber rejected (so that only the events it rejects are
   * passed over), or the first batch of a subscriber that takes none.
   */
  private async deliverOneByOne(
    after: number,
    events: string[],
    { thenBatches = false } = {},
  ): Promise<number | undefined> {
    this.batches = false;
    try {
      for (const [index, event] of events.entries()) {
        const seq = after + index + 1;
        if (seq <= this.delivered) continue;
        const reported = await this.deliverUntilDone(seq - 1, [event]);
        if (reported === undefined) return undefined;
        this.advance(seq, reported);
        await this.savePosition();
      }
      return this.delivered;
    } finally {
      this.batches = thenBatches;
    }
  }

  private async post(path: string, json: string, lastSeq: number): Promise<Outcome> {
    try {
      const { status, text } = await sendHttp(this.url + path, {
        method: 'POST',
        json,
        headers: this.options.signingKey
          ? { ...this.headers, [DELIVERY_SIGNATURE_HEADER]: signDelivery(json, this.options.signingKey) }
          : this.headers,
        timeoutMs: this.options.timeoutMs ?? 5_000,
        signal: this.cancelling.signal,
      });
      if (status >= 200 && status < 300) {
        const reported = reportedPosition(text);
        return { kind: 'delivered', position: reported ?? lastSeq, reported: reported !== undefined };
      }
      const reason = `HTTP ${status} ${text.slice(0, 200)}`;
      if (path === EVENT_BATCH_PATH && (status === 404 || status === 405)) return { kind: 'unsupported', reason };
      return { kind: REJECTING_STATUSES.has(status) ? 'rejected' : 'failed', reason };
    } catch (err) {
      return { kind: 'failed', reason: describeRequestError(err) };
    }
  }
}

/** A stored event's id, type and trace context, for the delivery's span and log lines. */
function tracedEvent(text: string, seq: number): TracedEvent {
  const { id, type, trace } = JSON.parse(text) as { id?: unknown; type?: unknown; trace?: unknown };
  const stored = trace === undefined ? undefined : eventTraceContextSchema.safeParse(trace);
  return { seq, id, type, ...(stored?.success ? { trace: stored.data } : {}) };
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

/** The promise, or a rejection once `ms` have passed (the promise itself goes on). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms);
  });
  promise.catch(() => undefined);
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
