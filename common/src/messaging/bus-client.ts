import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { context, trace as traces } from '@opentelemetry/api';
import { isDeepStrictEqual } from 'node:util';
import { isApiError, isRecord } from '../contracts/api';
import { answerCode, errorCodeFor, errorCodeOf, type ErrorCode } from '../contracts/error-codes';
import type { BlogEvent, Envelope, EventTraceContext } from '../contracts/events';
import { backoffDelay, sleep } from '../service/backoff';
import type { BusServiceConfig } from '../service/config';
import { describeRequestError, neverSent, sendHttp, type HttpCall, type HttpReply } from '../service/http-client';
import { HttpError } from '../service/http-error';
import type { Logger } from '../service/logger';
import type { ServiceMetrics } from '../service/metrics';
import { EVENT_BATCH_PATH } from '../service/service-app';
import { eventsHeaders } from './events-token';
import { endPublishSpan, startPublishSpan } from '../tracing/messaging';

/** The bus could not be reached, or answered that it did not store the event: nothing was published. */
export class BusUnavailableError extends HttpError {
  constructor(reason: string, retryAfterSeconds?: number) {
    super(503, `event bus unavailable (${reason}); nothing was changed, try again`, {
      code: 'unavailable',
      retryAfterSeconds,
    });
    this.name = 'BusUnavailableError';
  }
}

/**
 * The bus took the event but did not say where it stored it: it is not this blog's event bus (the
 * course's bus answers `{"status":"OK"}` and passes events on without numbering them). Nothing here can
 * tell whether the event will reach anyone: a 502, with the fix in the message.
 */
export class BusIncompatibleError extends HttpError {
  constructor(path: string, status: number, text: string, missing = 'no seq') {
    super(
      502,
      `the event bus answered POST ${path} with HTTP ${status} ${text.slice(0, 100)} but ${missing}: it is not this blog's event bus, which this service needs ` +
        '(a course-style bus passes events on without storing and numbering them); the event may have been passed on',
      { code: 'bus_incompatible' },
    );
    this.name = 'BusIncompatibleError';
  }
}

/** The request reached the bus but no answer came back, even after retrying: the event may be stored. */
export class BusUnconfirmedError extends HttpError {
  constructor(reason: string) {
    super(503, `event bus did not confirm (${reason}); the change may or may not have been made`, {
      code: 'outcome_unknown',
    });
    this.name = 'BusUnconfirmedError';
  }
}

/**
 * The bus holds another event under this event's id (another type or other data): this one was not
 * stored, and never will be under that id. With ids derived from an Idempotency-Key, the key was used
 * for another create.
 */
export class EventIdTakenError extends HttpError {
  constructor(
    readonly eventId: string,
    /** The event the bus holds under the id, as it answered it. */
    readonly stored: unknown,
  ) {
    super(409, `the event bus already holds another event under id ${eventId}; nothing was stored`, {
      code: 'event_id_taken',
    });
    this.name = 'EventIdTakenError';
  }
}

/** Where the bus stored one event of a publish: its seq, and the event stored earlier when the id was known. */
interface StoredAt {
  seq: number;
  /** The bus had this id already, and holds this event under it (maybe not ours: compare). */
  earlier?: unknown;
}

type PublishAttempt =
  | { kind: 'stored'; results: StoredAt[]; idsFrom?: number }
  | { kind: 'not-stored' | 'unknown'; reason: string; retryAfterSeconds?: number; replicaFault?: boolean }
  | { kind: 'split'; busTakesBatches: boolean };

export interface HistoryReadOptions {
  /** When nothing follows `after` yet, wait up to this long for a new event before answering (empty). */
  waitMs?: number;
  /** Ends a waiting read early. */
  signal?: AbortSignal;
}

/** Where a consumer reads the event history from. */
export interface EventHistory {
  /** Up to `limit` raw envelopes with seq greater than `after`, in seq order. */
  readAfter(after: number, limit: number, options?: HistoryReadOptions): Promise<unknown[]>;
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
  /**
   * Resolves with the event as the bus stored it under its id: this one, or the same event (type and
   * data) stored earlier under that id. Rejects with EventIdTakenError when the bus holds another event
   * under the id, and with a 503 when the bus did not store it.
   */
  publish<E extends BlogEvent>(event: E, options?: PublishOptions): Promise<Envelope<E>>;
  /**
   * From which seq on the bus remembers the id of every stored event, as its latest answer said: an id
   * stored there or later is answered as a duplicate when published again. Undefined until it has said.
   */
  readonly idsFrom: number | undefined;
}

export interface BusClientOptions {
  /** How long one request to the bus may take. */
  timeoutMs?: number;
  /** After an answer was lost, how long to keep retrying the same event (the bus stores an id once). */
  confirmWithinMs?: number;
  /** The bus's EVENTS_TOKEN, sent with every request when the bus requires it. */
  token?: string;
  /** Logs each published event (id, type, seq), so it can be followed through the other services' logs. */
  logger?: Logger;
  metrics?: ServiceMetrics;
}

interface UnsequencedEvent {
  id: string;
  type: string;
  data: unknown;
  time: string;
  trace?: EventTraceContext;
}

interface SequencedEvent extends UnsequencedEvent {
  seq: number;
}

interface QueuedPublish {
  event: UnsequencedEvent;
  resolve: (stored: SequencedEvent) => void;
  reject: (err: Error) => void;
  /**
   * Runs a function in the context the publish was made in (its request, its send span): one batch carries
   * the publishes of several requests, and each one's line must name its own.
   */
  inOrigin: <R>(work: () => R) => R;
}

/** A misconfiguration, not a fault of the caller: the service answers 503 and logs it until it is fixed. */
const REFUSED_TOKEN =
  "HTTP 401: the bus refused our events token; EVENTS_TOKEN must be one the bus knows (this service's <SERVICE>_EVENTS_TOKEN on the bus, or the bus's own EVENTS_TOKEN)";

/** At most this many events per publish request (the bus accepts up to LIMITS.batchEvents). */
const PUBLISH_BATCH = 500;

/** HTTP client of the event bus: publish events, read the history. */
export class BusClient implements EventPublisher, EventHistory {
  private readonly timeoutMs: number;
  private readonly confirmWithinMs: number;
  private readonly logger: Logger | undefined;
  private readonly metrics: ServiceMetrics | undefined;
  private readonly headers: Record<string, string>;
  private queue: QueuedPublish[] = [];
  /** Whether the bus takes `POST /events/batch`; a bus without it (404) gets one request per event. */
  private batches = true;

  /** The bus's base URLs: replicas of one bus, tried in turn when one cannot be reached. */
  private readonly baseUrls: readonly string[];
  /** The replica requests go to first: the last one that could be reached. */
  private current = 0;
  private idsFromSaid: number | undefined;
  /** Runs work outside any request or span: the context this client was made in, at start. */
  private readonly inBackground = AsyncResource.bind(<R>(work: () => R): R => work());

  constructor(
    baseUrl: string | readonly string[],
    { timeoutMs = 3_000, confirmWithinMs = 5_000, token, logger, metrics }: BusClientOptions = {},
  ) {
    this.baseUrls = typeof baseUrl === 'string' ? [baseUrl] : [...baseUrl];
    if (this.baseUrls.length === 0) throw new Error('BusClient needs at least one bus URL');
    this.headers = eventsHeaders(token);
    this.timeoutMs = timeoutMs;
    this.confirmWithinMs = confirmWithinMs;
    this.logger = logger;
    this.metrics = metrics;
  }

  /**
   * Publishes one event and resolves with it, sequenced, once the bus has stored it.
   *
   * Events published in the same turn of the event loop (concurrent requests, a batch of reactions) go to
   * the bus together in one request, where they are stored with one write.
   *
   * If the bus is unreachable it fails at once (nothing was stored). If the request may have reached the
   * bus but its answer was lost (connection reset, timeout, a bus restarting), it sends the same events
   * again until confirmed: the bus stores an event id once, so the retry returns the original seqs or
   * stores the events now.
   *
   * An id the bus had already is answered with the event stored under it: the same type and data resolve
   * with that stored event (its seq and time); anything else rejects with EventIdTakenError.
   */
  publish<E extends BlogEvent>(event: E, { id = randomUUID() }: PublishOptions = {}): Promise<Envelope<E>> {
    const { span, trace } = startPublishSpan({ id, type: event.type });
    const unsequenced = {
      id,
      type: event.type,
      data: event.data,
      time: new Date().toISOString(),
      ...(trace ? { trace } : {}),
    };
    const inSendSpan = traces.setSpan(context.active(), span);
    return new Promise<SequencedEvent>((resolve, reject) => {
      this.queue.push({
        event: unsequenced,
        resolve,
        reject,
        inOrigin: AsyncResource.bind(<R>(work: () => R): R => context.with(inSendSpan, work)),
      });
      // Not in this caller's context: the batch may carry the publishes of other requests too.
      if (this.queue.length === 1) setImmediate(() => this.inBackground(() => this.flush()));
    }).then(
      // The stored data is ours, or deep-equal to it: only the time and seq are the bus's.
      ({ time, seq }) => {
        endPublishSpan(span, { seq });
        return { ...event, id, time, seq, ...(trace ? { trace } : {}) };
      },
      (err: Error) => {
        endPublishSpan(span, { error: err });
        throw err;
      },
    );
  }

  private flush(): void {
    const queued = this.queue;
    this.queue = [];
    const size = this.batches ? PUBLISH_BATCH : 1;
    for (let start = 0; start < queued.length; start += size) {
      void this.send(queued.slice(start, start + size));
    }
  }

  get idsFrom(): number | undefined {
    return this.idsFromSaid;
  }

  /**
   * Sends one batch (concurrently with others) and settles each of its publishes. A batch of one is sent in
   * its publish's context (the bus's request is then part of its trace); a batch of several in none of them.
   */
  private async send(batch: QueuedPublish[]): Promise<void> {
    let results: StoredAt[] | 'split';
    const events = batch.map(({ event }) => event);
    const [only] = batch;
    try {
      results = await (batch.length === 1 && only
        ? only.inOrigin(() => this.publishUntilConfirmed(events))
        : this.publishUntilConfirmed(events));
    } catch (err) {
      batch.forEach(({ reject }) => reject(err as Error));
      return;
    }
    if (results === 'split') {
      await Promise.all(batch.map((item) => this.send([item])));
      return;
    }
    batch.forEach((item, index) => this.settle(item, results[index] as StoredAt));
  }

  /** Settles one publish with where the bus stored it, comparing with the earlier event when the id was known. */
  private settle(queued: QueuedPublish, stored: StoredAt): void {
    queued.inOrigin(() => this.settleInOrigin(queued, stored));
  }

  private settleInOrigin({ event, resolve, reject }: QueuedPublish, { seq, earlier }: StoredAt): void {
    const log = { eventId: event.id, type: event.type, seq };
    if (earlier === undefined) {
      this.metrics?.eventsPublished.inc({ type: event.type });
      this.logger?.info(log, 'event published');
      resolve({ ...event, seq });
      return;
    }
    const stored = sameEvent(event, earlier, seq);
    if (stored) {
      this.logger?.info(log, 'event already stored under its id: answered with the stored event');
      resolve(stored);
    } else {
      this.logger?.info(log, 'another event is stored under this id: not stored');
      reject(new EventIdTakenError(event.id, earlier));
    }
  }

  /** Where the bus stored each event, or 'split' when they must be sent one by one instead. */
  private async publishUntilConfirmed(events: UnsequencedEvent[]): Promise<StoredAt[] | 'split'> {
    const deadline = Date.now() + this.confirmWithinMs;
    let maybeStored = false;
    /** Replicas that refused these events (nothing stored) in a row: each of the others is asked before giving up. */
    let refusedBy = 0;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.tryPublish(events);
      if (outcome.kind === 'stored') {
        // Answers overtake each other: the later seq a bus says it remembers ids from is the one that holds now.
        if (outcome.idsFrom !== undefined) this.idsFromSaid = Math.max(this.idsFromSaid ?? 0, outcome.idsFrom);
        return outcome.results;
      }
      if (outcome.kind === 'split') {
        this.batches &&= outcome.busTakesBatches;
        return 'split';
      }
      // Another replica of the bus may store what this one cannot (its NATS node cut off from the others):
      // the same ids there are stored at most once, whichever replica stored them first.
      if (outcome.kind === 'not-stored' && outcome.replicaFault && ++refusedBy < this.baseUrls.length) {
        this.nextReplica(outcome.reason);
        continue;
      }
      refusedBy = 0;
      maybeStored ||= outcome.kind === 'unknown';
      if (!maybeStored) throw new BusUnavailableError(outcome.reason, outcome.retryAfterSeconds);
      if (Date.now() >= deadline) throw new BusUnconfirmedError(outcome.reason);
      // No answer within timeoutMs: ask another replica rather than wait on this one.
      if (outcome.kind === 'unknown') this.nextReplica(outcome.reason);
      await sleep(backoffDelay(attempt, { minDelayMs: 50, maxDelayMs: 1_000 }));
    }
  }

  private async tryPublish(events: UnsequencedEvent[]): Promise<PublishAttempt> {
    const single = events.length === 1;
    const path = single ? '/events' : EVENT_BATCH_PATH;
    let reply: HttpReply;
    try {
      reply = await this.request(path, {
        method: 'POST',
        json: JSON.stringify(single ? events[0] : events),
        headers: this.headers,
        timeoutMs: this.timeoutMs,
      });
    } catch (err) {
      const reason = describeRequestError(err);
      return { kind: neverSent(err) ? 'not-stored' : 'unknown', reason };
    }
    const { status, text, headers } = reply;
    if (status >= 400) {
      const refused = publishRefusal(single, status, text, headers);
      if (refused) return refused;
    }
    if (status >= 300) throw new Error(`event bus refused POST ${path}: HTTP ${status} ${text}`);
    const body = parseJsonOrUndefined(text);
    const results = storedResults(body, events.length);
    if (typeof results === 'string') throw new BusIncompatibleError(path, status, text, results);
    const idsFrom = isRecord(body) && Number.isSafeInteger(body.idsFrom) ? (body.idsFrom as number) : undefined;
    return { kind: 'stored', results, ...(idsFrom === undefined ? {} : { idsFrom }) };
  }

  async readAfter(after: number, limit: number, { waitMs, signal }: HistoryReadOptions = {}): Promise<unknown[]> {
    const wait = waitMs ? `&wait=${waitMs}` : '';
    const body = await this.getJson(`/events?after=${after}&limit=${limit}${wait}`, {
      timeoutMs: this.timeoutMs + (waitMs ?? 0),
      signal,
    });
    if (!Array.isArray(body)) throw new Error('event bus history is not an array');
    return body as unknown[];
  }

  /** Sends the next requests to the next replica of the bus (none when there is one). */
  private nextReplica(why: string): void {
    if (this.baseUrls.length < 2) return;
    const from = this.baseUrls[this.current];
    this.current = (this.current + 1) % this.baseUrls.length;
    this.logger?.warn({ from, to: this.baseUrls[this.current], why }, 'trying another event bus replica');
  }

  /**
   * Sends to the current replica; one that cannot be reached (nothing was sent) is passed over for the
   * next, so with several bus URLs a dead replica costs a refused connection, not a failed request.
   */
  private async request(path: string, call: HttpCall): Promise<HttpReply> {
    for (let tried = 1; ; tried++) {
      const url = this.baseUrls[this.current] as string;
      try {
        return await sendHttp(url + path, call);
      } catch (err) {
        if (tried >= this.baseUrls.length || !neverSent(err)) throw err;
        this.current = (this.current + 1) % this.baseUrls.length;
      }
    }
  }

  private async getJson(
    path: string,
    { timeoutMs = this.timeoutMs, signal }: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<unknown> {
    let reply: HttpReply;
    try {
      reply = await this.request(path, { headers: this.headers, timeoutMs, signal });
    } catch (err) {
      const reason = describeRequestError(err);
      // No answer in time: the next read asks another replica.
      if (!signal?.aborted) this.nextReplica(reason);
      throw new BusUnavailableError(reason);
    }
    const { status, text } = reply;
    const code = status >= 400 ? answerCode(status, parseJsonOrUndefined(text)) : undefined;
    if (code !== undefined && (REPLICA_FAULTS.has(code) || code === 'outcome_unknown')) {
      // A replica that cannot answer (its NATS node without a quorum, say): the next read asks another.
      this.nextReplica(`HTTP ${status}`);
      throw new BusUnavailableError(`HTTP ${status}`);
    }
    if (code === 'unauthorized') throw new BusUnavailableError(REFUSED_TOKEN);
    if (status >= 300) throw new Error(`event bus refused GET ${path}: HTTP ${status} ${text}`);
    return JSON.parse(text) as unknown;
  }
}

/** Codes of a bus replica that cannot serve now (its storage, its NATS node), where another replica may. */
const REPLICA_FAULTS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['unavailable', 'stream_changed', 'internal']);

/** What the bus's refusal of a publish means, by its code; undefined for a refusal no retry or split can help. */
function publishRefusal(
  single: boolean,
  status: number,
  text: string,
  headers: HttpReply['headers'],
): PublishAttempt | undefined {
  const body = parseJsonOrUndefined(text);
  // A bus older than the codes sent a 409 to a publish only for a taken id.
  const code = errorCodeOf(body) ?? (status === 409 ? 'event_id_taken' : errorCodeFor(status));
  // A bus without the batch route, or one refusing the batch (one of its events is invalid, which only
  // the single route can tell): send the events one by one.
  if (!single && (code === 'not_found' || code === 'invalid_request'))
    return { kind: 'split', busTakesBatches: code !== 'not_found' };
  // A replicated log lost its acknowledgement, so the events may be stored; the same ids again are safe.
  if (code === 'outcome_unknown') return { kind: 'unknown', reason: busRefusal(status, text) };
  if (REPLICA_FAULTS.has(code))
    return {
      kind: 'not-stored',
      reason: busRefusal(status, text),
      retryAfterSeconds: retryAfter(headers['retry-after']),
      replicaFault: true,
    };
  if (code === 'unauthorized') return { kind: 'not-stored', reason: REFUSED_TOKEN };
  // This service's token may not publish that event type: a misconfiguration, answered 503 like a refused token.
  if (code === 'forbidden') return { kind: 'not-stored', reason: busRefusal(status, text) };
  if (code === 'event_id_taken' && single) {
    // Another event is stored under this id: settled as a duplicate whose body differs (EventIdTakenError).
    const taken = takenIdOf(body);
    if (taken) return { kind: 'stored', results: [taken] };
  }
  return undefined;
}

/** "HTTP 503", followed by the reason the bus gave in its JSON error, if any. */
function busRefusal(status: number, text: string): string {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the status alone
  }
  return isApiError(body) ? `HTTP ${status}: ${body.error}` : `HTTP ${status}`;
}

/** A `Retry-After` in seconds; the HTTP-date form is not used by the bus and is ignored. */
function retryAfter(header: string | undefined): number | undefined {
  const seconds = header === undefined ? NaN : Number(header);
  return Number.isInteger(seconds) && seconds >= 0 ? seconds : undefined;
}

/**
 * Where the bus's answer says each event is stored: `{seq}` for one event (with `duplicate` and `event`
 * for an id it had), `{seqs: [...]}` for a batch (with `duplicates: [{index, event}]`); what is missing
 * from an answer that is not one of these.
 */
function storedResults(body: unknown, count: number): StoredAt[] | string {
  if (!isRecord(body)) return 'no seq';
  if (count === 1 && typeof body.seq === 'number') {
    if (body.duplicate !== true) return [{ seq: body.seq }];
    return isRecord(body.event) ? [{ seq: body.seq, earlier: body.event }] : 'not the event stored under its id';
  }
  const { seqs } = body;
  if (!Array.isArray(seqs) || seqs.length !== count || !seqs.every((item) => typeof item === 'number')) return 'no seq';
  const results: StoredAt[] = seqs.map((seq) => ({ seq }));
  const duplicates = Array.isArray(body.duplicates) ? body.duplicates : [];
  for (const duplicate of duplicates) {
    const index = isRecord(duplicate) ? duplicate.index : undefined;
    if (
      typeof index !== 'number' ||
      !Number.isInteger(index) ||
      index < 0 ||
      index >= count ||
      !isRecord(duplicate) ||
      !isRecord(duplicate.event)
    ) {
      return 'not the event stored under each id';
    }
    (results[index] as StoredAt).earlier = duplicate.event;
  }
  return results;
}

/** The bus's 409 for an id it holds another event under: where that event is stored, and the event. */
function takenIdOf(body: unknown): StoredAt | undefined {
  if (!isRecord(body) || typeof body.seq !== 'number' || !isRecord(body.event)) return undefined;
  return { seq: body.seq, earlier: body.event };
}

/** The stored event when it is the same as ours (type and data), as the bus keeps it; undefined when it is another. */
function sameEvent(ours: UnsequencedEvent, stored: unknown, seq: number): SequencedEvent | undefined {
  if (!isRecord(stored) || !isSameEvent(ours, stored)) return undefined;
  return { ...ours, time: typeof stored.time === 'string' ? stored.time : ours.time, seq };
}

/** Whether an event stored under an id is the one a publisher sends under it: the same type and data (as JSON). */
export function isSameEvent(
  ours: { type: string; data: unknown },
  stored: { type?: unknown; data?: unknown },
): boolean {
  return stored.type === ours.type && isDeepStrictEqual(stored.data, JSON.parse(JSON.stringify(ours.data)));
}

/** The bus client a service's configuration asks for (EVENT_BUS_URL, EVENTS_TOKEN, EVENT_BUS_CONFIRM_MS). */
export function busClientFor(
  config: BusServiceConfig,
  { logger, metrics }: { logger: Logger; metrics?: ServiceMetrics },
): BusClient {
  return new BusClient(config.EVENT_BUS_URL, {
    token: config.EVENTS_TOKEN,
    confirmWithinMs: config.EVENT_BUS_CONFIRM_MS,
    logger,
    metrics,
  });
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
