/**
 * Test doubles for code built on the bus (its own tests, the infra checks): never loaded by the running
 * service.
 */
import { EventIndex, IndexedEventLog, parseStoredLines, type Appended, type EventLogHealth, type NewEvent, type StoredEvent } from './log';

/** An event log that keeps the history in memory only. */
export class MemoryEventLog extends IndexedEventLog {
  protected readonly index: EventIndex;

  /** `recentIds`: how many of the newest event ids it remembers (every one by default). */
  constructor({ recentIds = Infinity }: { recentIds?: number } = {}) {
    super();
    this.index = new EventIndex({ recentIds });
  }

  async append(event: NewEvent): Promise<Appended> {
    const knownSeq = this.index.recentSeq(event.id);
    if (knownSeq !== undefined) return { event: parseStoredLines(this.index.readTail(knownSeq - 1, knownSeq))[0] as StoredEvent, duplicate: true };
    const stored: StoredEvent = { ...event, seq: this.index.lastSeq + 1 };
    this.index.add([{ seq: stored.seq, id: stored.id, line: JSON.stringify(stored) }]);
    return { event: stored, duplicate: false };
  }

  async readRawAfter(after: number, limit: number, maxBytes?: number): Promise<string[]> {
    return this.index.readTail(after, this.index.lastOfRead(after, limit, maxBytes));
  }

  health(): EventLogHealth {
    return { writable: true };
  }

  async close(): Promise<void> {
    this.index.wakeAll();
  }
}
