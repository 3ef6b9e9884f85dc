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
  /** Appends one event and resolves with it, sequenced, once it is stored. */
  append(event: NewEvent): Promise<StoredEvent>;
  /** Up to `limit` events with seq greater than `after`, in seq order. */
  readAfter(after: number, limit: number): Promise<StoredEvent[]>;
  /** Resolves once an event with seq greater than `after` exists, or when the signal aborts. */
  waitForNewerThan(after: number, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** The stored events held in memory for reading, and the readers waiting for newer ones. */
export class EventIndex {
  private readonly events: StoredEvent[] = [];
  private waiters = new Set<() => void>();

  get lastSeq(): number {
    return this.events.length;
  }

  /** Makes stored events readable, in seq order, and wakes the waiting readers. */
  add(events: readonly StoredEvent[]): void {
    for (const event of events) this.events.push(event);
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
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
