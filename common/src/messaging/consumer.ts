import { Router } from 'express';
import { LIMITS } from '../contracts/api';
import {
  isKnownEventType,
  parseEnvelope,
  type BlogEvent,
  type Envelope,
  type EventType,
  type ForeignEnvelope,
} from '../contracts/events';
import { backoffDelay, DEFAULT_BACKOFF, retryUntilDone, sleep, type BackoffOptions } from '../service/backoff';
import { describeRequestError } from '../service/http-client';
import { HttpError } from '../service/http-error';
import type { Logger } from '../service/logger';
import type { ServiceMetrics } from '../service/metrics';
import { EVENT_BATCH_PATH, requireJsonObject } from '../service/service-app';
import type { SpanContext } from '@opentelemetry/api';
import { tracingStarted } from '../tracing/lifecycle';
import { inSpan, withEventsSpan, withProcessSpan } from '../tracing/messaging';
import type { EventHistory } from './bus-client';

type EnvelopeOf<T extends EventType> = Envelope<Extract<BlogEvent, { type: T }>>;

/** Why an event that contradicts a service's state was not applied: a label of `events_rejected_total`. */
export type RejectionReason =
  /** A comment on a post the state does not hold. */
  | 'unknown-post'
  /** A change to a comment the state does not hold. */
  | 'unknown-comment'
  /** A change to a comment that names another post than the comment's. */
  | 'other-post'
  /** A change to a comment that carries other content than the comment's (comments are never edited). */
  | 'other-content'
  /** A create under an id the log already gave to another body. */
  | 'id-reused';

/** What a handler returns instead of applying an event that contradicts the state: it changed nothing. */
export interface EventRejection {
  readonly rejected: RejectionReason;
  /** For the log: which record, and what it holds. */
  readonly detail: string;
}

/**
 * Refuses an event from its handler, before the handler has written anything. The decision must depend
 * on the event and the state alone, so every replica, and every replay of the log, makes the same one.
 */
export function rejectEvent(reason: RejectionReason, detail: string): EventRejection {
  return { rejected: reason, detail };
}

/**
 * A map from event type to the function that applies it to the service's state. Unlisted types are
 * ignored. A handler returns an EventRejection for an event that contradicts the state: it is passed
 * over, counted and logged.
 */
export type EventHandlers = {
  [T in EventType]?: (data: EnvelopeOf<T>['data'], envelope: EnvelopeOf<T>) => EventRejection | void;
};

export type AnyEnvelope = Envelope | ForeignEnvelope;

export interface ConsumerStats {
  applied: number;
  duplicates: number;
  /** Events that contradict the state (EventRejection): passed over the same way on every replica. */
  rejected: number;
  /** Poison events: invalid, or their handler threw. Logged with their seq and skipped. */
  skipped: number;
}

/** Where the log an event state was built from stands: the last event applied. */
export interface Position {
  seq: number;
  /** Its id, to tell this log from another one with as many events (a log deleted and begun again). */
  eventId: string | undefined;
}

/**
 * The state a consumer applies events to, and the position it was built up to, changed together: a
 * service that restarts resumes from where its state stands instead of from the first event.
 */
export interface AppliedState {
  readonly position: Position;
  /** Whether a transaction that throws leaves nothing behind (a database); memory keeps what was done. */
  readonly undoes: boolean;
  /** Runs `work` as one unit: all its changes are kept, or none. Nested, an inner unit that throws is undone alone. */
  transaction(work: () => void): void;
  /** Records the position, inside the transaction that applied the events up to it. */
  advance(position: Position): void;
  /** Forgets the whole state, to rebuild it from the first event. */
  clear(): void;
}

/** A state kept only in the process's memory: it starts empty, so the consumer reads the log from the first event. */
export class MemoryAppliedState implements AppliedState {
  position: Position = { seq: 0, eventId: undefined };
  readonly undoes = false;
  transaction(work: () => void): void {
    work();
  }
  advance(position: Position): void {
    this.position = position;
  }
  clear(): void {
    this.position = { seq: 0, eventId: undefined };
  }
}

export interface EventConsumerOptions {
  history: EventHistory;
  /** Where the handlers' state keeps its position (default: memory, rebuilt from the first event at each start). */
  state?: AppliedState;
  handlers: EventHandlers;
  logger: Logger;
  /** Events read per history request. */
  pageSize?: number;
  /** Counts applied and skipped events and times the catch-up. */
  metrics?: ServiceMetrics;
  backoff?: BackoffOptions;
  /**
   * Once caught up, keep reading new events from the history (each read waits at the bus for the next
   * event), instead of only taking what the bus pushes: how every replica of a scaled-out service gets
   * every event (EVENTS_FOLLOW).
   */
  follow?: boolean;
  /** Who applies the events, named on the tracing spans (default: the logger's `service`). */
  subscriber?: string;
}

/** How long each read of a following consumer waits at the bus for a new event. */
const FOLLOW_WAIT_MS = 25_000;

/**
 * Applies the event log to a service's state exactly once, in seq order.
 *
 * - At start it reads the history after the state's position before it is ready (all of it for a new
 *   state); live events that arrive meanwhile are buffered. A state built from another log (the event at
 *   its position is not the one it applied) is cleared and rebuilt from the first event.
 * - Events are applied in transactions of the state that also record the position: a page of the history
 *   at a time, a live event on its own.
 * - A live event at or below the last applied seq is a duplicate and ignored.
 * - A live event past a gap first pulls the missing range from the history; one the history cannot
 *   vouch for (it ends before the gap does) is refused with 409.
 * - An event that fails validation or whose handler throws is logged, counted and skipped.
 * - An event its handler rejects (it contradicts the state) is logged, counted and passed over.
 */
export class EventConsumer {
  private lastSeq: number;
  private lastEventId: string | undefined;
  private readonly state: AppliedState;
  private ready = false;
  private buffered: AnyEnvelope[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly stopping = new AbortController();
  private readonly pageSize: number;
  /** Who applies the events, as the spans name it. */
  private readonly subscriber: string;
  readonly stats: ConsumerStats = { applied: 0, duplicates: 0, rejected: 0, skipped: 0 };
  /** The span each live event was applied in, for the line that reports it once its transaction is kept. */
  private readonly processSpans = new WeakMap<AnyEnvelope, SpanContext>();

  constructor(private readonly options: EventConsumerOptions) {
    this.pageSize = options.pageSize ?? 10_000;
    const service = (options.logger.bindings() as { service?: unknown }).service;
    this.subscriber = options.subscriber ?? (typeof service === 'string' ? service : 'unknown');
    this.state = options.state ?? new MemoryAppliedState();
    ({ seq: this.lastSeq, eventId: this.lastEventId } = this.state.position);
  }

  /** Seq of the last event applied (or skipped as poison). */
  get position(): number {
    return this.lastSeq;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Catches up with the history, retrying until the bus answers, then applies buffered live events. */
  async start(): Promise<void> {
    const startedAt = Date.now();
    const resumedFrom = this.lastSeq;
    const caughtUp = await retryUntilDone(
      () =>
        this.serially(async () => {
          await this.checkResumedLog();
          await this.pull();
        }),
      {
        signal: this.stopping.signal,
        backoff: this.options.backoff,
        // The bus often starts a moment after its subscribers: only a longer wait is worth a warning.
        onError: (err, attempt) =>
          this.options.logger[attempt < 5 ? 'debug' : 'warn'](
            { reason: describeRequestError(err), attempt },
            'event history not readable yet, retrying',
          ),
      },
    );
    if (!caughtUp) return;
    await this.serially(async () => {
      this.ready = true;
      const buffered = this.buffered;
      this.buffered = [];
      for (const envelope of buffered) {
        // One bad buffered event must not stop the others (nor the start): it is in the history anyway,
        // so a later event's gap check reads it again.
        await this.accept(envelope).catch((err: unknown) =>
          this.options.logger.warn(
            { seq: envelope.seq, id: envelope.id, reason: describeRequestError(err) },
            'buffered event not applied',
          ),
        );
      }
    });
    this.options.metrics?.catchUpSeconds.set((Date.now() - startedAt) / 1_000);
    this.options.logger.info(
      { position: this.lastSeq, resumedFrom, ms: Date.now() - startedAt },
      'caught up with the event history',
    );
    if (this.options.follow) void this.follow();
  }

  /**
   * A state resumed at a position must have been built from this log: the event at that seq must be the
   * one it applied last. Otherwise (the log was deleted and begun again, or is another one) the state is
   * cleared and rebuilt from the first event.
   */
  private async checkResumedLog(): Promise<void> {
    if (this.lastSeq === 0) return;
    const [atPosition] = await this.options.history.readAfter(this.lastSeq - 1, 1);
    const found = atPosition as { seq?: unknown; id?: unknown } | undefined;
    const same = found?.seq === this.lastSeq && (this.lastEventId === undefined || found.id === this.lastEventId);
    if (same) return;
    this.options.logger.warn(
      {
        position: this.lastSeq,
        eventId: this.lastEventId,
        found: found === undefined ? 'nothing' : { seq: found.seq, id: found.id },
      },
      'the state was built from another event log; rebuilding it from the first event',
    );
    this.state.clear();
    this.lastSeq = 0;
    this.lastEventId = undefined;
  }

  /** Reads each new event from the history as it is stored, until stopped; a failed read is retried. */
  private async follow(): Promise<void> {
    const { signal } = this.stopping;
    for (let failures = 0; !signal.aborted;) {
      try {
        const page = await this.options.history.readAfter(this.lastSeq, this.pageSize, {
          waitMs: FOLLOW_WAIT_MS,
          signal,
        });
        if (signal.aborted) return;
        await this.serially(() => this.applyPage(page));
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        this.options.logger[failures === 0 ? 'warn' : 'debug'](
          { reason: describeRequestError(err), position: this.lastSeq },
          'reading new events failed, retrying',
        );
        await sleep(backoffDelay(failures++, this.options.backoff ?? DEFAULT_BACKOFF), signal);
      }
    }
  }

  /** Stops a catch-up still retrying, and following. */
  stop(): void {
    this.stopping.abort();
  }

  /** Takes live events, in seq order. Resolves when they are applied (or buffered while catching up). */
  receive(...envelopes: AnyEnvelope[]): Promise<void> {
    if (!this.ready) {
      this.buffered.push(...envelopes);
      return Promise.resolve();
    }
    return this.serially(async () => {
      for (const envelope of envelopes) await this.accept(envelope);
    });
  }

  /** Applies whatever the history holds beyond the current position. */
  sync(): Promise<void> {
    if (!this.ready) return Promise.resolve();
    return this.serially(() => this.pull());
  }

  private serially<T>(task: () => T | PromiseLike<T>): Promise<T> {
    const result = this.queue.then(task);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async accept(envelope: AnyEnvelope): Promise<void> {
    if (envelope.seq <= this.lastSeq) {
      this.stats.duplicates++;
      return;
    }
    if (envelope.seq > this.lastSeq + 1) {
      await this.pull(envelope.seq - 1);
      if (envelope.seq <= this.lastSeq) return;
      // The bus only delivers what its history holds; an event beyond it did not come from this history.
      if (envelope.seq > this.lastSeq + 1) {
        throw new HttpError(
          409,
          `event seq ${envelope.seq} is ahead of the event history, which ends at ${this.lastSeq}; not applied`,
        );
      }
    }
    this.applyEntries([{ ok: true, envelope }]);
  }

  /**
   * Applies events in one transaction of the state that also records the position reached, then counts
   * and logs what was applied. When a handler throws, a state that can undo goes through them again, each
   * in a unit of its own (a savepoint), so that only the failed event's writes are undone; a savepoint for
   * every event would cost more than the writes themselves. If the transaction cannot be kept (the
   * state's disk is full…), the position goes back to what the state holds and the error is thrown: those
   * events are applied again later.
   */
  private applyEntries(entries: readonly Entry[]): void {
    let outcome: Outcome;
    if (!this.state.undoes) {
      outcome = this.commit(entries, 'each');
    } else {
      try {
        outcome = this.commit(entries, 'together');
      } catch (err) {
        if (!(err instanceof HandlerFailed)) throw err;
        outcome = this.commit(entries, 'each');
      }
    }
    this.report(outcome);
  }

  private commit(entries: readonly Entry[], units: 'together' | 'each'): Outcome {
    const before = this.lastSeq;
    const outcome: Outcome = { applied: [], rejected: [], failed: [], invalid: [] };
    try {
      this.state.transaction(() => {
        for (const entry of entries) {
          if (!entry.ok) this.skipInvalid(entry, outcome);
          else if (entry.envelope.seq > this.lastSeq) this.apply(entry.envelope, units, outcome);
        }
        if (this.lastSeq !== before) this.state.advance({ seq: this.lastSeq, eventId: this.lastEventId });
      });
    } catch (err) {
      ({ seq: this.lastSeq, eventId: this.lastEventId } = this.state.position);
      throw err;
    }
    return outcome;
  }

  /**
   * Reads the history after the current position, up to `until` when given, else to its end. The next
   * page is requested before the current one is applied, so the bus reads while this service applies.
   */
  private async pull(until = Infinity): Promise<void> {
    let page = await this.options.history.readAfter(this.lastSeq, this.pageSize);
    for (;;) {
      const parsed = page.map(parseEnvelope);
      const last = lastSeqOf(page);
      const complete = page.length < this.pageSize || (last ?? this.lastSeq) >= until;
      const next = complete || last === undefined ? undefined : this.options.history.readAfter(last, this.pageSize);
      // A failed prefetch is seen when awaited below; until then it must not count as unhandled.
      next?.catch(() => undefined);
      this.applyPage(page, parsed);
      if (!next) return;
      page = await next;
    }
  }

  /**
   * Applies a page of the history read after a position; what was applied since (pushed) is passed over.
   * A page replayed to catch up is one span, linked to the publishers of its events.
   */
  private applyPage(page: readonly unknown[], parsed = page.map(parseEnvelope)): void {
    const entries = parsed.map((result, index): Entry =>
      result.ok ? { ok: true, envelope: result.envelope } : { ok: false, raw: page[index], error: result.error },
    );
    if (this.ready || entries.length === 0 || !tracingStarted()) return this.applyEntries(entries);
    const events = entries.flatMap((entry) => (entry.ok ? [entry.envelope] : []));
    withEventsSpan('replay', events, this.subscriber, () => this.applyEntries(entries));
  }

  private apply(envelope: AnyEnvelope, units: 'together' | 'each', outcome: Outcome): void {
    this.lastSeq = envelope.seq;
    this.lastEventId = envelope.id;
    const { handlers } = this.options;
    if (!isKnownEventType(envelope.type) || !Object.hasOwn(handlers, envelope.type)) return;
    const handler = handlers[envelope.type] as
      ((data: unknown, envelope: AnyEnvelope) => EventRejection | void) | undefined;
    if (!handler) return;
    let rejection: EventRejection | void = undefined;
    const handle = () => this.traced(envelope, () => handler(envelope.data, envelope));
    if (units === 'together') {
      try {
        rejection = handle();
      } catch (err) {
        throw new HandlerFailed(err);
      }
    } else {
      try {
        this.state.transaction(() => {
          rejection = handle();
        });
      } catch (err) {
        outcome.failed.push({ envelope, err });
        return;
      }
    }
    if (rejection) outcome.rejected.push({ envelope, rejection });
    else outcome.applied.push(envelope);
  }

  /**
   * A live event is applied in a span that continues its publisher's trace, so that what the handler sets
   * off (a reaction) belongs to it too; the catch-up replays the history without a span per event.
   */
  private traced<T>(envelope: AnyEnvelope, apply: () => T): T {
    if (!this.ready || !tracingStarted()) return apply();
    return withProcessSpan(envelope, this.subscriber, (span) => {
      this.processSpans.set(envelope, span.spanContext());
      return apply();
    });
  }

  private skipInvalid({ raw, error }: Extract<Entry, { ok: false }>, outcome: Outcome): void {
    const seq = (raw as { seq?: unknown } | null)?.seq;
    outcome.invalid.push({ seq, error });
    if (typeof seq === 'number' && Number.isInteger(seq) && seq > this.lastSeq) {
      this.lastSeq = seq;
      this.lastEventId = undefined;
    }
  }

  /** Counts and logs what a kept transaction applied and skipped. */
  private report({ applied, rejected, failed, invalid }: Outcome): void {
    const { metrics, logger } = this.options;
    this.stats.applied += applied.length;
    this.stats.rejected += rejected.length;
    this.stats.skipped += failed.length + invalid.length;
    for (const envelope of applied) {
      const { type, id, seq } = envelope;
      metrics?.eventsApplied.inc({ type });
      // Live events only: a catch-up replays the whole history, which one line sums up.
      if (this.ready)
        inSpan(this.processSpans.get(envelope), () => logger.info({ eventId: id, type, seq }, 'event applied'));
    }
    for (const {
      envelope: { seq, id, type },
      rejection: { rejected: reason, detail },
    } of rejected) {
      metrics?.eventsRejected.inc({ type, reason });
      logger.warn({ seq, id, type, reason, detail }, 'event contradicts the state: ignored');
    }
    for (const { envelope, err } of failed) {
      metrics?.eventsSkipped.inc();
      logger.error(
        { err, seq: envelope.seq, id: envelope.id, type: envelope.type },
        'event handler failed, event skipped',
      );
    }
    for (const { seq, error } of invalid) {
      metrics?.eventsSkipped.inc();
      logger.warn({ seq, error }, 'invalid event in history, skipped');
    }
  }
}

/** An event of a page: valid, or what the history holds and why it is not an event. */
type Entry = { ok: true; envelope: AnyEnvelope } | { ok: false; raw: unknown; error: string };

/** What one transaction applied, and what it passed over: rejected events, handlers that threw, invalid events. */
interface Outcome {
  applied: AnyEnvelope[];
  rejected: { envelope: AnyEnvelope; rejection: EventRejection }[];
  failed: { envelope: AnyEnvelope; err: unknown }[];
  invalid: { seq: unknown; error: string }[];
}

/** A handler threw while a page was applied together: the page is undone and applied again event by event. */
class HandlerFailed extends Error {
  constructor(readonly reason: unknown) {
    super('an event handler failed');
  }
}

/** The seq of the last item of a history page that has one (even if the item is otherwise invalid). */
function lastSeqOf(page: readonly unknown[]): number | undefined {
  for (let index = page.length - 1; index >= 0; index--) {
    const seq = (page[index] as { seq?: unknown } | null)?.seq;
    if (typeof seq === 'number' && Number.isSafeInteger(seq)) return seq;
  }
  return undefined;
}

/**
 * The routes the bus delivers to: `POST /events` takes one envelope, `POST /events/batch` an array of
 * them in seq order. A malformed envelope gets a 400 naming it (a batch is then refused whole: the bus
 * sends its events again one by one, passing over only the bad one). The answer reports the position.
 */
export function eventIntake(consumer: EventConsumer): Router {
  const router = Router();
  router.post('/events', async (req, res) => {
    requireJsonObject(req.body);
    const parsed = parseEnvelope(req.body);
    if (!parsed.ok) throw new HttpError(400, `malformed event: ${parsed.error}`);
    await consumer.receive(parsed.envelope);
    res.json({ status: 'OK', position: consumer.position });
  });
  router.post(EVENT_BATCH_PATH, async (req, res) => {
    const body: unknown = req.body;
    if (!Array.isArray(body) || body.length > LIMITS.batchEvents) {
      throw new HttpError(400, `request body must be a JSON array of at most ${LIMITS.batchEvents} events`);
    }
    const envelopes = body.map((item: unknown, index) => {
      const parsed = parseEnvelope(item);
      if (!parsed.ok) throw new HttpError(400, `malformed event at index ${index}: ${parsed.error}`);
      return parsed.envelope;
    });
    await consumer.receive(...envelopes);
    res.json({ status: 'OK', position: consumer.position });
  });
  return router;
}
