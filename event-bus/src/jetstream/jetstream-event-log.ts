import { HttpError, sleep, type EventTraceContext, type Logger } from '@blog/common';
import {
  DeliverPolicy,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type OrderedConsumerOptions,
} from '@nats-io/jetstream';
import {
  headers,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type MsgHdrs,
  type NatsConnection,
} from '@nats-io/transport-node';
import { AppendsById } from '../log/appends-by-id';
import { EventLogUnavailableError, EventLogUnconfirmedError } from '../log/errors';
import { EventIndex, RECENT_IDS, type StoredRecord } from '../log/event-index';
import type { Appended, EventLogHealth, NewEvent, StoredEvent } from '../log/event-log';
import { IndexedEventLog } from '../log/indexed-event-log';
import { decodeStreamMessage, Quarantine, type StreamMessageHeaders } from '../log/quarantine';
import { RefusedAppends, type AppendFault } from '../log/refused-appends';
import { streamChanges, type EventStreamSettings } from './event-stream';
import { ensureStreamWhenReady, whenClusterReady } from './jetstream-setup';
import { quorumUnconfirmed } from './stream-quorum';

const TRACEPARENT_HEADER = 'traceparent';
const TRACESTATE_HEADER = 'tracestate';

export interface JetStreamEventLogOptions {
  /** A connection to the NATS cluster; the log never closes it. */
  connection: NatsConnection;
  stream: EventStreamSettings;
  logger: Logger;
  /** How many of the newest events are kept in memory as text; older ones are read from the stream. */
  tailSize?: number;
  /** How many of the newest event ids this replica remembers, besides JetStream's duplicate window (RECENT_IDS by default). */
  recentIds?: number;
  /**
   * How long one append may keep publishing again (same id, so stored at most once) while the cluster has
   * no leader or no quorum, before it is refused with 503.
   */
  publishTimeoutMs?: number;
  /** Called for each refused append, with a code such as TIMEOUT or NO_RESPONDERS. */
  onWriteFault?: (code: string) => void;
  /** Called once for each stored message that is not an event (served as a placeholder). */
  onQuarantined?: () => void;
  /** Called when the stream is seen changed under the bus. */
  onStreamChanged?: () => void;
}

/** The stream's configuration or state was changed under the bus: it may have lost events, or may lose them. */
export class StreamChangedError extends HttpError {
  constructor(readonly changes: string[]) {
    super(
      503,
      `the event stream was changed under the bus (${changes.join('; ')}); it refuses reads and appends rather than serve a history that may be cut short: an operator must restore the stream`,
      { code: 'stream_changed', retryAfterSeconds: 30 },
    );
  }
}

const DEFAULT_TAIL_SIZE = 50_000;
const DEFAULT_PUBLISH_TIMEOUT_MS = 15_000;
/** One publish attempt waits this long for JetStream's acknowledgement before it is sent again. */
const ATTEMPT_TIMEOUT_MS = 2_000;
/** How long an acknowledged append waits for the stream's copy to reach this bus, so reads include it. */
const VISIBLE_WITHIN_MS = 5_000;
/** How long a read waits for this replica to follow the stream as far as it is, before and after following again. */
const READ_CATCH_UP_MS = 1_000;
/** How long opening may take to read the stream's history. */
const LOAD_TIMEOUT_MS = 120_000;
const HISTORY_READ_ATTEMPTS = 5;
/** How long the live consumer may take nothing before the stream is asked whether it should have. */
const STALL_CHECK_MS = 2_000;
/** The live consumer's pull requests and heartbeats: a lost server is noticed within a few seconds. */
const FOLLOW_EXPIRES_MS = 5_000;
const FOLLOW_HEARTBEAT_MS = 1_000;

/**
 * The event log on a NATS JetStream stream, replicated by the cluster (3 copies in the manifests).
 *
 * - An append publishes the event with its id as `Nats-Msg-Id`: JetStream stores an id once within its
 *   duplicate window, across every bus replica, and answers a repeat with the first seq. The append
 *   resolves once JetStream acknowledged (a quorum of servers stored it, fsynced with
 *   `sync_interval: always`); the seq is the stream sequence (1, 2, 3… with no holes: deletes and purges
 *   are denied).
 * - While the cluster has no leader or no quorum (a server killed, a network split), an append publishes
 *   again with the same id until `publishTimeoutMs`, then is refused: 503 when every attempt was refused
 *   (nothing stored), 504 when one went unanswered (maybe stored: the same id again is safe).
 * - Each bus replica follows the stream with an ordered consumer: every event reaches its in-memory index
 *   in seq order, whichever replica stored it, so any replica serves reads and deliveries. At start it
 *   reads only the newest events (the tail and the recent ids); older ones are fetched from the stream.
 */
export class JetStreamEventLog extends IndexedEventLog {
  protected readonly index: EventIndex;
  private readonly refusals: RefusedAppends;
  private readonly appends: AppendsById;
  private readonly quarantine: Quarantine;
  private following: ConsumerMessages | undefined;
  private followLoop: Promise<void> | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** When this replica last started following the stream again. */
  private refollowedAt = 0;
  /** When the index last took an event, or the watchdog last found it current. */
  private progressAt = Date.now();
  private closed = false;
  /** The stream's last seq as asked of the cluster: the request under way, and the next one, not sent yet. */
  private lastSeqAsked: Promise<number> | undefined;
  private lastSeqToAsk: Promise<number> | undefined;
  /** Set once the stream is seen changed under the bus; the bus serves nothing from it after that. */
  private changed: StreamChangedError | undefined;

  private constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: JetStreamEventLogOptions,
    firstSeq: number,
  ) {
    super();
    this.index = new EventIndex({
      tailSize: options.tailSize ?? DEFAULT_TAIL_SIZE,
      recentIds: options.recentIds,
      firstSeq,
    });
    this.refusals = new RefusedAppends(options.logger, options.onWriteFault, () => this.lastSeq);
    this.appends = new AppendsById(this.index, (seq) => this.storedAt(seq));
    this.quarantine = new Quarantine(options.logger, options.onQuarantined);
  }

  /**
   * Creates or updates the stream, reads its newest events (as many as the tail and the recent ids hold:
   * a bus starts in the same time on a long history as on a short one) and follows it.
   */
  static async open(options: JetStreamEventLogOptions): Promise<JetStreamEventLog> {
    const startedAt = Date.now();
    const info = await ensureStreamWhenReady(options.connection, options.stream, options.logger);
    const jsm = await whenClusterReady('the JetStream API', () => jetstreamManager(options.connection), options.logger);
    const newest = Math.max(options.tailSize ?? DEFAULT_TAIL_SIZE, options.recentIds ?? RECENT_IDS);
    const firstSeq = Math.max(1, info.state.last_seq - newest + 1);
    const log = new JetStreamEventLog(jetstream(options.connection), jsm, options, firstSeq);
    log.followLoop = log.follow();
    log.watchdog = setInterval(() => void log.checkFollowing(), STALL_CHECK_MS).unref();
    const loaded = await log.caughtUpTo(info.state.last_seq, LOAD_TIMEOUT_MS);
    if (!loaded) {
      await log.close();
      throw new Error(
        `could not read the event stream ${options.stream.name} up to seq ${info.state.last_seq} within ${LOAD_TIMEOUT_MS / 1000} s (read ${log.lastSeq})`,
      );
    }
    options.logger.info(
      {
        stream: options.stream.name,
        events: log.lastSeq,
        read: log.lastSeq - firstSeq + 1,
        ms: Date.now() - startedAt,
      },
      'event log opened',
    );
    return log;
  }

  health(): EventLogHealth {
    if (this.changed) return { writable: false, reason: this.changed.message };
    return this.refusals.health();
  }

  append(event: NewEvent): Promise<Appended> {
    if (this.closed) return Promise.reject(new EventLogUnavailableError('the bus is shutting down'));
    if (this.changed) return Promise.reject(this.changed);
    return this.appends.append(event, () => this.publish(event));
  }

  readRawAfter(after: number, limit: number, maxBytes = Infinity): Promise<string[]> {
    return this.index.readRaw(after, limit, maxBytes, (first, last, bytes) => this.fetchFromStream(first, last, bytes));
  }

  /**
   * Asks the stream's leader how far the stream is, confirmed against a quorum (the leader heard from a
   * majority of the copies within QUORUM_CONTACT_MS: no other leader can have been elected meanwhile), and
   * waits until this replica has followed that far. Without such an answer (no leader, no quorum, a leader
   * cut off from the others), a 503: this replica cannot tell that its reads hold every acknowledged event.
   */
  override async readable(): Promise<void> {
    let last: number;
    try {
      last = await this.streamLastSeq();
    } catch (err) {
      if (this.changed) throw this.changed;
      throw new HttpError(
        503,
        `this event bus replica cannot confirm that its reads hold every acknowledged event (${(err as Error).message}); try again`,
        { code: 'unavailable', retryAfterSeconds: 1 },
      );
    }
    if (this.changed) throw this.changed;
    // A consumer that does not move at once is likely stuck on a server that is gone: follow again, and
    // answer within the services' 3 s request timeout either way.
    if (await this.caughtUpTo(last, READ_CATCH_UP_MS)) return;
    this.refollowIfStalled(`a read needs seq ${last}`);
    if (await this.caughtUpTo(last, READ_CATCH_UP_MS)) return;
    throw new HttpError(
      503,
      `this event bus replica is catching up with the event stream (at seq ${this.lastSeq} of ${last}); try again`,
      { code: 'unavailable', retryAfterSeconds: 1 },
    );
  }

  /**
   * Resolves once the stream's leader answered, in contact with a quorum, as readable() needs it; rejects with
   * why not (no answer, no leader, a leader cut off from the others). The bus's quorum watch asks this.
   */
  async confirmQuorum(): Promise<void> {
    await this.streamLastSeq();
  }

  /**
   * The stream's last seq, asked of the cluster after this call: readers that come together share one
   * request (every GET /events asks). A request already under way may predate an acknowledgement the
   * caller relies on, so a caller joins the next one, sent once that one is answered.
   */
  private streamLastSeq(): Promise<number> {
    this.lastSeqToAsk ??= (async () => {
      await this.lastSeqAsked?.catch(() => undefined);
      this.lastSeqToAsk = undefined;
      this.lastSeqAsked = this.jsm.streams.info(this.options.stream.name).then((info) => {
        this.noteChanges(streamChanges(info, this.options.stream));
        const unconfirmed = quorumUnconfirmed(info);
        if (unconfirmed) throw unconfirmed;
        return info.state.last_seq;
      });
      return this.lastSeqAsked;
    })();
    return this.lastSeqToAsk;
  }

  private noteChanges(changes: string[]): void {
    if (changes.length === 0 || this.changed) return;
    this.changed = new StreamChangedError(changes);
    this.options.onStreamChanged?.();
    this.options.logger.error(
      { stream: this.options.stream.name, changes },
      'the event stream was changed under the bus: refusing reads and appends',
    );
  }

  /** Lets the appends under way finish, then stops following the stream. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdog);
    await this.appends.settled();
    await this.following?.close();
    await this.followLoop;
    this.index.wakeAll();
  }

  /**
   * Publishes the event with its id as `Nats-Msg-Id` and resolves with what the stream holds under that
   * id: this event, or (a duplicate: a retry, another bus replica with the same id) the one stored first,
   * read back by the seq the acknowledgement names.
   */
  private async publish(event: NewEvent): Promise<Appended> {
    const { id, type, data, time, trace } = event;
    const payload = JSON.stringify({ id, type, data, time });
    this.refuseOversized(payload);
    const deadline = Date.now() + (this.options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS);
    /** Whether an attempt went unanswered: then the event may be stored, though no answer said so. */
    let maybeStored = false;
    for (let attempt = 0; ; attempt++) {
      try {
        const timeout = Math.max(1, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now()));
        const ack = await this.js.publish(this.options.stream.subject, payload, {
          msgID: id,
          ...(trace ? { headers: traceHeaders(trace) } : {}),
          timeout,
          expect: { streamName: this.options.stream.name },
        });
        this.refusals.stored();
        if (ack.duplicate && ack.seq === 0) {
          // A repeat of an id whose first publish the cluster is still storing: asked again, it names the seq.
          await sleep(20);
          continue;
        }
        // As for a read: a consumer that does not bring the event at once is likely stuck on a server that
        // is gone (a leader change), and following again brings it sooner than waiting.
        if (!(await this.caughtUpTo(ack.seq, READ_CATCH_UP_MS))) {
          this.refollowIfStalled(`an acknowledged event (seq ${ack.seq}) did not reach this bus at once`);
          if (!(await this.caughtUpTo(ack.seq, VISIBLE_WITHIN_MS - READ_CATCH_UP_MS)))
            this.options.logger.warn({ seq: ack.seq }, 'an acknowledged event did not reach this bus in time');
        }
        return ack.duplicate
          ? { event: await this.storedAt(ack.seq), duplicate: true }
          : { event: { ...event, seq: ack.seq }, duplicate: false };
      } catch (err) {
        const fault = publishFault(err);
        maybeStored ||= fault.maybeStored;
        if (this.closed || Date.now() >= deadline || !fault.retry) {
          this.refusals.refused(fault, 1);
          throw maybeStored ? new EventLogUnconfirmedError(fault.message) : new EventLogUnavailableError(fault.message);
        }
        await sleep(Math.min(1_000, 50 * 2 ** attempt));
      }
    }
  }

  private refuseOversized(payload: string): void {
    const maxPayload = this.options.connection.info?.max_payload;
    const bytes = Buffer.byteLength(payload);
    if (maxPayload !== undefined && bytes > maxPayload) {
      throw new HttpError(
        413,
        `event is ${bytes} bytes; the NATS servers take at most ${maxPayload} (their max_payload)`,
      );
    }
  }

  /** The stored event at `seq`: from the index once this replica has followed that far. */
  private async storedAt(seq: number): Promise<StoredEvent> {
    const [stored] = await this.readAfter(seq - 1, 1);
    if (stored) return stored;
    const message = await this.jsm.streams.getMessage(this.options.stream.name, { seq });
    if (!message) throw new EventLogUnavailableError(`seq ${seq} is not readable yet`);
    const { line } = this.quarantine.recordOf(
      seq,
      decodeStreamMessage(message.string(), seq, streamHeaders(message.header)),
    );
    return JSON.parse(line) as StoredEvent;
  }

  /** Whether the index reached `seq` within `ms` (false when it did not, or the log closed). */
  private async caughtUpTo(seq: number, ms: number): Promise<boolean> {
    const signal = AbortSignal.timeout(ms);
    while (this.lastSeq < seq && !signal.aborted && !this.closed)
      await this.index.waitForNewerThan(this.lastSeq, signal);
    return this.lastSeq >= seq;
  }

  /**
   * Feeds every stored event to the index, in seq order, from an ordered consumer (which recreates itself
   * after a server is lost); if it ends anyway, it starts again after the last event taken.
   */
  private async follow(): Promise<void> {
    let failing = false;
    while (!this.closed) {
      try {
        const consumer = await this.js.consumers.get(this.options.stream.name, startingAt(this.lastSeq + 1));
        this.following = await consumer.consume({
          max_messages: 1_024,
          expires: FOLLOW_EXPIRES_MS,
          idle_heartbeat: FOLLOW_HEARTBEAT_MS,
        });
        // Closed meanwhile: stop it, and let the loop below take the stop (a close settles only once its
        // messages are iterated, so awaiting it here would wait for ever, and so would close()).
        if (this.closed) void this.following.close();
        for await (const message of this.following) this.take([message]);
        failing = false;
      } catch (err) {
        if (this.closed) return;
        if (!failing)
          this.options.logger.warn(
            { reason: (err as Error).message, lastSeq: this.lastSeq },
            'following the event stream failed; trying again',
          );
        failing = true;
        await sleep(500);
      }
    }
  }

  /**
   * Starts following again from the last event taken. An ordered consumer on a server that is gone notices
   * only when its heartbeats stop coming, which can take many seconds after a reconnection; the stream's
   * own state (or an acknowledged event that never arrives) tells sooner.
   */
  private refollow(why: string): void {
    // Many readers and appends notice the same stall at once: one new consumer is enough.
    if (Date.now() - this.refollowedAt < READ_CATCH_UP_MS) return;
    this.refollowedAt = Date.now();
    this.options.logger.warn({ lastSeq: this.lastSeq, why }, 'following the event stream again');
    this.progressAt = Date.now();
    void this.following?.close();
  }

  /** Follows again only a consumer that brought nothing for a while: one still catching up is left to it. */
  private refollowIfStalled(why: string): void {
    if (Date.now() - this.progressAt >= READ_CATCH_UP_MS) this.refollow(why);
  }

  /** While nothing arrives, asks the stream how far it is; behind it and not moving, the consumer is stuck. */
  private async checkFollowing(): Promise<void> {
    if (this.closed || Date.now() - this.progressAt < STALL_CHECK_MS) return;
    const seen = this.lastSeq;
    try {
      const last = await this.streamLastSeq();
      if (last <= seen) this.progressAt = Date.now();
      else if (this.lastSeq === seen) this.refollow(`the stream is at seq ${last} and nothing arrived`);
    } catch {
      // The cluster cannot answer now; the next check asks again.
    }
  }

  private take(messages: JsMsg[]): void {
    const records: StoredRecord[] = [];
    let next = this.lastSeq + 1;
    for (const message of messages) {
      if (message.seq < next) continue;
      if (message.seq > next)
        throw new Error(
          `the event stream has no message at seq ${next} (next is ${message.seq}): were messages removed?`,
        );
      records.push(this.recordOf(message));
      next++;
    }
    if (records.length > 0) this.progressAt = Date.now();
    this.index.add(records);
  }

  /** A message as the log keeps it: the event with its seq, as the file log stores it, or a placeholder. */
  private recordOf(message: JsMsg): StoredRecord {
    return this.quarantine.recordOf(
      message.seq,
      decodeStreamMessage(message.string(), message.seq, streamHeaders(message.headers)),
    );
  }

  /**
   * Events first…last from the stream itself, for reads older than the in-memory tail: as many as fit in
   * maxBytes (at least the first), each event counted with its newline as in the file log.
   */
  private async fetchFromStream(first: number, last: number, maxBytes: number): Promise<string[]> {
    const lines: string[] = [];
    let bytes = 0;
    for (let attempt = 1; ; attempt++) {
      let failure: string;
      try {
        const consumer = await this.js.consumers.get(this.options.stream.name, startingAt(first + lines.length));
        const messages = await consumer.fetch({ max_messages: last - first + 1 - lines.length, expires: 5_000 });
        for await (const message of messages) {
          const expected = first + lines.length;
          if (message.seq < expected) continue;
          if (message.seq > expected)
            throw new HttpError(
              500,
              `the event stream has no event at seq ${expected} (the next is ${message.seq}): were events deleted from it?`,
            );
          const { line } = this.recordOf(message);
          if (lines.length > 0 && bytes + Buffer.byteLength(line) + 1 > maxBytes) return lines;
          bytes += Buffer.byteLength(line) + 1;
          lines.push(line);
          if (message.seq >= last) break;
        }
        if (lines.length === last - first + 1) return lines;
        failure = `the stream answered up to seq ${first + lines.length - 1}`;
      } catch (err) {
        if (err instanceof HttpError) throw err;
        failure = (err as Error).message;
      }
      if (attempt >= HISTORY_READ_ATTEMPTS)
        throw new HttpError(503, `could not read events ${first}…${last} from the event stream: ${failure}`, {
          code: 'unavailable',
          retryAfterSeconds: 1,
        });
      await sleep(200 * attempt);
    }
  }
}

/** The publisher's trace context as W3C headers on the NATS message, where NATS tools look for it. */
function traceHeaders({ traceparent, tracestate }: EventTraceContext): MsgHdrs {
  const result = headers();
  result.set(TRACEPARENT_HEADER, traceparent);
  if (tracestate !== undefined) result.set(TRACESTATE_HEADER, tracestate);
  return result;
}

function streamHeaders(message: MsgHdrs | undefined): StreamMessageHeaders {
  return {
    id: message?.get('Nats-Msg-Id'),
    traceparent: message?.get(TRACEPARENT_HEADER) || undefined,
    tracestate: message?.get(TRACESTATE_HEADER) || undefined,
  };
}

function startingAt(seq: number): Partial<OrderedConsumerOptions> {
  return seq <= 1
    ? { deliver_policy: DeliverPolicy.All }
    : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq };
}

/**
 * JetStream's refusal of a publish whose Nats-Msg-Id another publish is storing at that moment (seen with
 * nats-server 2.15.1; 2.10 acknowledges it as a duplicate with seq 0 instead).
 */
const ID_IN_PROCESS = 10_158;

function isIdInProcess(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === ID_IN_PROCESS;
}

/**
 * A request whose connection closed before its answer came: nats.js rejects it with a RequestError
 * "connection closed" ("connection disconnected" for a flush). The request may have reached the server. A
 * reconnection rejects nothing: requests wait on, and those whose answers were lost time out.
 */
function isConnectionLost(err: unknown): boolean {
  return err instanceof RequestError && /connection (closed|disconnected)/i.test(err.message);
}

export interface PublishFault extends AppendFault {
  /** Whether it is worth publishing again: the cluster may recover meanwhile. */
  retry: boolean;
  /** Whether the publish may have been stored though no answer said so: a refusal then is a 504, not a 503. */
  maybeStored: boolean;
}

/** What a failed publish means: retried while the cluster may recover; its code counts the refusals. */
export function publishFault(err: unknown): PublishFault {
  const message = (err as Error).message;
  if (err instanceof HttpError) return { code: 'TOO_LARGE', message, retry: false, maybeStored: false };
  // A publish of this id (maybe this one's, unanswered) is being stored.
  if (isIdInProcess(err))
    return {
      code: 'ID_IN_PROCESS',
      message: 'another publish of this event id is being stored; asked again, JetStream names its seq',
      retry: true,
      maybeStored: true,
    };
  if (err instanceof TimeoutError)
    return {
      code: 'TIMEOUT',
      message: 'the NATS cluster did not acknowledge in time (no leader or no quorum?)',
      retry: true,
      maybeStored: true,
    };
  if (isConnectionLost(err))
    return {
      code: 'CONNECTION_LOST',
      message: `the connection to NATS was lost before the acknowledgement came (${message})`,
      retry: true,
      maybeStored: true,
    };
  if (/jetstream is not enabled/i.test(message))
    return {
      code: 'NO_JETSTREAM',
      message: 'the NATS server reached has no JetStream quorum now',
      retry: true,
      maybeStored: false,
    };
  if (err instanceof NoRespondersError)
    return {
      code: 'NO_RESPONDERS',
      message: 'no NATS server answered for the event stream (no leader or no quorum?)',
      retry: true,
      maybeStored: false,
    };
  if (err instanceof JetStreamApiError)
    return {
      code: `JETSTREAM_${err.code}`,
      message: `JetStream refused the event: ${message}`,
      retry: err.status >= 500,
      maybeStored: false,
    };
  return { code: 'NATS', message: `NATS: ${message}`, retry: true, maybeStored: false };
}
