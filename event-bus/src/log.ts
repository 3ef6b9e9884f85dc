import { HttpError, type ForeignEnvelope, type Logger } from '@blog/common';

/** An event as the bus stores it: any type, validated payload for known types, with its seq. */
export type StoredEvent = ForeignEnvelope;

/** An event accepted for appending; the log gives it its seq. */
export type NewEvent = Omit<StoredEvent, 'seq'>;

/**
 * The bus's event log. Kept behind this interface so that a replicated backend can replace the file
 * without touching the HTTP layer or delivery.
 */
export interface EventLog {
  /** Seq of the newest stored event, 0 when empty. */
  readonly lastSeq: number;
  /**
   * From which seq on every stored event's id is remembered: appended again, such an id is a duplicate.
   * An older id may be stored a second time (a publisher must know it from elsewhere).
   */
  readonly idsFrom: number;
  /**
   * Appends one event and resolves, once it is stored, with the event the log holds under its id.
   * Idempotent by event id: an id stored recently (a publisher retrying after a lost answer, or another
   * publisher, or bus replica, sending the same id at the same moment) is not stored again, and resolves
   * with the event stored first, whatever data this append carried.
   */
  append(event: NewEvent): Promise<Appended>;
  /**
   * The events with seq greater than `after`, in seq order, as the JSON texts they are stored as (so they
   * are sent on without being parsed and serialized again): at most `limit` of them and, beyond the first,
   * at most `maxBytes` in all.
   */
  readRawAfter(after: number, limit: number, maxBytes?: number): Promise<string[]>;
  /** Up to `limit` events with seq greater than `after`, in seq order. */
  readAfter(after: number, limit: number): Promise<StoredEvent[]>;
  /** Resolves once an event with seq greater than `after` exists, or when the signal aborts. */
  waitForNewerThan(after: number, signal: AbortSignal): Promise<void>;
  /**
   * Resolves once every event stored before the call, by this bus or any other replica, can be read here:
   * a service that reads the history after another replica acknowledged an event finds it.
   */
  readable(): Promise<void>;
  /** Whether appends are being stored now; reads work either way. */
  health(): EventLogHealth;
  close(): Promise<void>;
}

/** What an append found or made under its event's id. */
export interface Appended {
  /** The event as the log stores it: this append's, or the one stored first under the same id. */
  event: StoredEvent;
  /** Whether the id was stored before this append (then `event` is that earlier event, not this append's). */
  duplicate: boolean;
}

export interface EventLogHealth {
  /** False while appends are refused (a full disk, an I/O error…): until the next write succeeds. */
  writable: boolean;
  /** Why appends are refused. */
  reason?: string;
}

/** How soon a publisher refused for a storage fault may try again. */
const RETRY_AFTER_SECONDS = 1;

/** The log could not store the events: nothing of them was kept, and none got a seq. */
export class EventLogUnavailableError extends HttpError {
  constructor(reason: string) {
    super(503, `event log cannot store events (${reason}); nothing was stored, try again`, { code: 'unavailable', retryAfterSeconds: RETRY_AFTER_SECONDS });
  }
}

/**
 * The log could not confirm the event: it may have been stored (a replicated log's acknowledgement was
 * lost with a server). Publishing it again with the same id stores it at most once.
 */
export class EventLogUnconfirmedError extends HttpError {
  constructor(reason: string) {
    super(504, `event log did not confirm the event (${reason}); it may have been stored: publish it again with the same id`, { code: 'outcome_unknown', retryAfterSeconds: RETRY_AFTER_SECONDS });
  }
}

/** Why a log refused appends: a code for the metrics (ENOSPC, TIMEOUT…) and words for the publisher. */
export interface AppendFault {
  code: string;
  message: string;
}

/**
 * Whether a log is refusing appends, and since when: one error line when refusals start, a warning with
 * their count and duration when an append is stored again.
 */
export class RefusedAppends {
  private fault: { code: string; reason: string; since: number; refused: number } | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly onFault: ((code: string) => void) | undefined,
    private readonly lastSeq: () => number,
  ) {}

  health(): EventLogHealth {
    return this.fault ? { writable: false, reason: this.fault.reason } : { writable: true };
  }

  /** `count` appends were refused for `fault`. */
  refused(fault: AppendFault, count: number): void {
    this.onFault?.(fault.code);
    if (this.fault?.code === fault.code) {
      this.fault.refused += count;
      return;
    }
    this.fault = { code: fault.code, reason: fault.message, since: this.fault?.since ?? Date.now(), refused: (this.fault?.refused ?? 0) + count };
    this.logger.error({ code: fault.code, reason: fault.message, lastSeq: this.lastSeq() }, 'event log cannot write: refusing appends until a write succeeds');
  }

  /** An append was stored. */
  stored(): void {
    if (!this.fault) return;
    const { since, refused } = this.fault;
    this.fault = undefined;
    this.logger.warn({ refusedAppends: refused, unwritableMs: Date.now() - since, lastSeq: this.lastSeq() }, 'event log writable again');
  }
}

/**
 * How many of the newest event ids are remembered for idempotent appends, by default (EVENT_IDS_REMEMBERED).
 * A publisher retries within seconds, so this covers retries at any plausible rate while keeping memory
 * bounded; a key sent again later is answered by the services' own state (docs/architecture.md).
 */
export const RECENT_IDS = 100_000;

/** One stored event as the index keeps it: its seq, id and JSON text. */
export interface StoredRecord {
  seq: number;
  id: string;
  line: string;
}

/**
 * Where each record starts and ends in the log's text: growing offsets, 8 bytes per event, from seq `first`
 * on (1 for a log read from its start; a later one for a log only its newest events were read of).
 */
export class ByteOffsets {
  private ends = new Float64Array(1024);
  private known = 0;

  constructor(readonly first = 1) {}

  /** The last seq: the records before `first` and those pushed. */
  get count(): number {
    return this.first - 1 + this.known;
  }

  /** Adds the next record, `bytes` long (its newline included). */
  push(bytes: number): void {
    if (this.known + 1 >= this.ends.length) {
      const grown = new Float64Array(this.ends.length * 2);
      grown.set(this.ends);
      this.ends = grown;
    }
    this.ends[this.known + 1] = this.end + bytes;
    this.known++;
  }

  /** Byte length of the whole records from `first` on: where the next one goes. */
  get end(): number {
    return this.ends[this.known] as number;
  }

  startOf(seq: number): number {
    return this.ends[seq - this.first] as number;
  }

  endOf(seq: number): number {
    return this.ends[seq - this.first + 1] as number;
  }

  /**
   * The last seq in [first, last] such that first..seq take at most maxBytes (at least `first`); `last`
   * when the sizes from `first` on are not known here (the reader of the older events bounds them).
   */
  lastWithin(first: number, last: number, maxBytes: number): number {
    if (last < first || !Number.isFinite(maxBytes) || first < this.first) return last;
    const limit = this.startOf(first) + maxBytes;
    let seq = first;
    while (seq < last && this.endOf(seq + 1) <= limit) seq++;
    return seq;
  }
}

export interface EventIndexOptions {
  /** How many of the newest events are kept as text. */
  tailSize?: number;
  /** How many of the newest event ids are remembered, so that each is stored once. */
  recentIds?: number;
  /** A log read from a file: every record's offsets, the newest records' texts, the newest ids. */
  stored?: { offsets: ByteOffsets; recent: readonly StoredRecord[]; ids: readonly StoredId[] };
  /** A log read from this seq on only (its older events are read from where the log keeps them). */
  firstSeq?: number;
}

/** Where an event id is stored. */
export interface StoredId {
  seq: number;
  id: string;
}

/**
 * What the bus keeps in memory about its log: the byte offsets of every record it has read (all of a file
 * log's; a JetStream log's from the seq it started reading at), the newest seq, the recent ids (for
 * idempotent appends), the JSON texts of the newest `tailSize` events (what delivery reads), and the
 * readers waiting for more.
 */
export class EventIndex {
  readonly offsets: ByteOffsets;
  private readonly recentSeqById = new Map<string, number>();
  private tail: string[] = [];
  private tailFirstSeq = 1;
  private waiters = new Set<() => void>();

  private readonly tailSize: number;
  private readonly recentIds: number;

  /**
   * `stored` restores a log read from a file: the offsets of all its records, and the texts and ids of the
   * newest of them.
   */
  constructor({ tailSize = Infinity, recentIds = RECENT_IDS, stored, firstSeq = 1 }: EventIndexOptions = {}) {
    this.tailSize = tailSize;
    this.recentIds = recentIds;
    this.offsets = stored?.offsets ?? new ByteOffsets(firstSeq);
    this.tailFirstSeq = firstSeq;
    if (stored) {
      this.rememberIds(stored.ids);
      this.rememberTexts(stored.recent);
    }
  }

  get lastSeq(): number {
    return this.offsets.count;
  }

  /** Makes stored events readable, in seq order, and wakes the waiting readers. */
  add(records: readonly StoredRecord[]): void {
    for (const { line } of records) this.offsets.push(Buffer.byteLength(line) + 1);
    this.remember(records);
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  private remember(records: readonly StoredRecord[]): void {
    this.rememberTexts(records);
    this.rememberIds(records);
  }

  private rememberTexts(records: readonly StoredRecord[]): void {
    for (const { seq, line } of records) {
      if (this.tail.length === 0) this.tailFirstSeq = seq;
      this.tail.push(line);
    }
    // Dropping the older half at once keeps trimming cheap (amortized) and the tail between size and 2×size.
    if (this.tail.length > 2 * this.tailSize) {
      const drop = this.tail.length - this.tailSize;
      this.tail = this.tail.slice(drop);
      this.tailFirstSeq += drop;
    }
  }

  /** In seq order: the oldest are forgotten first. */
  private rememberIds(stored: readonly StoredId[]): void {
    for (const { seq, id } of stored) this.recentSeqById.set(id, seq);
    for (const id of this.recentSeqById.keys()) {
      if (this.recentSeqById.size <= this.recentIds) break;
      this.recentSeqById.delete(id);
    }
  }

  /** The seq of a recently appended event id. */
  recentSeq(id: string): number | undefined {
    return this.recentSeqById.get(id);
  }

  /** From which seq on every event's id is remembered (an id stored twice counts once: it errs late, never early). */
  get idsFrom(): number {
    return Math.max(1, this.lastSeq - this.recentSeqById.size + 1);
  }

  /**
   * The last seq of a read after `after`: at most `limit` events and, beyond the first, at most `maxBytes`
   * of their text; `after` itself when there is nothing to read.
   */
  lastOfRead(after: number, limit: number, maxBytes = Infinity): number {
    return this.offsets.lastWithin(after + 1, Math.min(this.lastSeq, after + limit), maxBytes);
  }

  /** Whether the texts of the events after `after` are all in memory. */
  holdsAfter(after: number): boolean {
    return after + 1 >= this.tailFirstSeq;
  }

  /** The texts of events after+1 … last, from memory; only for `after` that holdsAfter accepts. */
  readTail(after: number, last: number): string[] {
    return this.tail.slice(after + 1 - this.tailFirstSeq, last + 1 - this.tailFirstSeq);
  }

  /**
   * The texts of a read after `after` (see EventLog.readRawAfter): from memory when the tail holds them,
   * else from `older` (the file, the stream), asked for seqs first…last and, where the index does not know
   * their sizes, to keep within maxBytes itself.
   */
  async readRaw(after: number, limit: number, maxBytes: number, older: (first: number, last: number, maxBytes: number) => Promise<string[]>): Promise<string[]> {
    const last = this.lastOfRead(after, limit, maxBytes);
    if (last <= after) return [];
    if (this.holdsAfter(after)) return this.readTail(after, last);
    return older(after + 1, last, maxBytes);
  }

  waitForNewerThan(after: number, signal: AbortSignal): Promise<void> {
    if (this.lastSeq > after || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.waiters.delete(wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      this.waiters.add(wake);
      signal.addEventListener('abort', wake, { once: true });
    });
  }

  wakeAll(): void {
    for (const wake of this.waiters) wake();
  }
}

/** What every log built on an EventIndex does the same way: its last seq, parsed reads, waiting readers. */
export abstract class IndexedEventLog implements EventLog {
  protected abstract readonly index: EventIndex;

  get lastSeq(): number {
    return this.index.lastSeq;
  }

  get idsFrom(): number {
    return this.index.idsFrom;
  }

  abstract append(event: NewEvent): Promise<Appended>;
  abstract readRawAfter(after: number, limit: number, maxBytes?: number): Promise<string[]>;
  abstract health(): EventLogHealth;
  abstract close(): Promise<void>;

  async readAfter(after: number, limit: number): Promise<StoredEvent[]> {
    return parseStoredLines(await this.readRawAfter(after, limit));
  }

  waitForNewerThan(after: number, signal: AbortSignal): Promise<void> {
    return this.index.waitForNewerThan(after, signal);
  }

  /** A log only this bus writes holds everything it stored. */
  async readable(): Promise<void> {}
}

export function parseStoredLines(lines: readonly string[]): StoredEvent[] {
  return lines.map((line) => JSON.parse(line) as StoredEvent);
}

/**
 * Makes appends idempotent by event id: an append of an id stored recently resolves with the stored event,
 * and one of an id whose append is under way with what that append stores; either is a duplicate.
 */
export class AppendsById {
  private readonly pending = new Map<string, Promise<Appended>>();

  constructor(
    private readonly index: EventIndex,
    /** The stored event at a seq the index knows. */
    private readonly storedAt: (seq: number) => Promise<StoredEvent>,
  ) {}

  append(event: NewEvent, store: () => Promise<Appended>): Promise<Appended> {
    const knownSeq = this.index.recentSeq(event.id);
    if (knownSeq !== undefined) return this.storedAt(knownSeq).then(asDuplicate);
    const pending = this.pending.get(event.id);
    if (pending) return pending.then(({ event: stored }) => asDuplicate(stored));
    const appended = store();
    this.pending.set(event.id, appended);
    const forget = () => this.pending.delete(event.id);
    appended.then(forget, forget);
    return appended;
  }

  /** Resolves once every append under way has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending.values()]);
  }
}

function asDuplicate(event: StoredEvent): Appended {
  return { event, duplicate: true };
}
