import type { ForeignEnvelope } from '@blog/common';

/** An event as the bus stores it: any type, validated payload for known types, with its seq. */
export type StoredEvent = ForeignEnvelope;

/** An event accepted for appending; the log gives it its seq. */
export type NewEvent = Omit<StoredEvent, 'seq'>;

/**
 * The bus's event log. Kept behind this interface so that a durable or replicated backend can replace
 * the in-memory one without touching the HTTP layer or delivery.
 */
export interface EventLog {
  /** Seq of the newest event, 0 when empty. */
  readonly lastSeq: number;
  /** Appends one event and resolves with it, sequenced, once it is stored. */
  append(event: NewEvent): Promise<StoredEvent>;
  /** Up to `limit` events with seq greater than `after`, in seq order. */
  readAfter(after: number, limit: number): Promise<StoredEvent[]>;
  /** Resolves once an event with seq greater than `after` exists, or when the signal aborts. */
  waitForNewerThan(after: number, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Keeps the history in memory: fine for local development, lost on restart. */
export class MemoryEventLog implements EventLog {
  private readonly events: StoredEvent[] = [];
  private waiters = new Set<() => void>();

  get lastSeq(): number {
    return this.events.length;
  }

  async append(event: NewEvent): Promise<StoredEvent> {
    const stored: StoredEvent = { ...event, seq: this.events.length + 1 };
    this.events.push(stored);
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
    return stored;
  }

  async readAfter(after: number, limit: number): Promise<StoredEvent[]> {
    // seq n lives at index n - 1
    return this.events.slice(Math.max(0, after), Math.max(0, after) + limit);
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

  async close(): Promise<void> {
    for (const wake of this.waiters) wake();
  }
}
