import { ByteOffsets } from './byte-offsets';

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
  async readRaw(
    after: number,
    limit: number,
    maxBytes: number,
    older: (first: number, last: number, maxBytes: number) => Promise<string[]>,
  ): Promise<string[]> {
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
