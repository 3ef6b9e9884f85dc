import type { ForeignEnvelope } from '@blog/common';

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
   * Appends one event and resolves with it, sequenced, once it is stored. Idempotent by event id: an event
   * whose id was appended recently (a publisher retrying after a lost answer) resolves with the stored one.
   */
  append(event: NewEvent): Promise<StoredEvent>;
  /** Up to `limit` events with seq greater than `after`, in seq order. */
  readAfter(after: number, limit: number): Promise<StoredEvent[]>;
  /** Resolves once an event with seq greater than `after` exists, or when the signal aborts. */
  waitForNewerThan(after: number, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/**
 * How many of the newest event ids are remembered for idempotent appends. A publisher retries within
 * seconds, so this covers retries at any plausible rate while keeping memory bounded.
 */
export const RECENT_IDS = 100_000;

/** The stored events held in memory for reading, and the readers waiting for newer ones. */
export class EventIndex {
  private readonly events: StoredEvent[] = [];
  private readonly recentSeqById = new Map<string, number>();
  private waiters = new Set<() => void>();

  get lastSeq(): number {
    return this.events.length;
  }

  /** Makes stored events readable, in seq order, and wakes the waiting readers. */
  add(events: readonly StoredEvent[]): void {
    for (const event of events) {
      this.events.push(event);
      this.recentSeqById.set(event.id, event.seq);
    }
    for (const id of this.recentSeqById.keys()) {
      if (this.recentSeqById.size <= RECENT_IDS) break;
      this.recentSeqById.delete(id);
    }
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** The stored event with this id, if it is among the recent ones. */
  recent(id: string): StoredEvent | undefined {
    const seq = this.recentSeqById.get(id);
    return seq === undefined ? undefined : this.events[seq - 1];
  }

  readAfter(after: number, limit: number): StoredEvent[] {
    // seq n lives at index n - 1
    const start = Math.max(0, after);
    return this.events.slice(start, start + limit);
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

/** Keeps the history in memory only: for tests. */
export class MemoryEventLog implements EventLog {
  private readonly index = new EventIndex();

  get lastSeq(): number {
    return this.index.lastSeq;
  }

  async append(event: NewEvent): Promise<StoredEvent> {
    const known = this.index.recent(event.id);
    if (known) return known;
    const stored: StoredEvent = { ...event, seq: this.index.lastSeq + 1 };
    this.index.add([stored]);
    return stored;
  }

  async readAfter(after: number, limit: number): Promise<StoredEvent[]> {
    return this.index.readAfter(after, limit);
  }

  waitForNewerThan(after: number, signal: AbortSignal): Promise<void> {
    return this.index.waitForNewerThan(after, signal);
  }

  async close(): Promise<void> {
    this.index.wakeAll();
  }
}
