/**
 * Test doubles for code built on the bus (its own tests): never loaded by the running service.
 */
import { AppendsById } from './log/appends-by-id';
import { EventIndex } from './log/event-index';
import type { Appended, EventLogHealth, NewEvent, StoredEvent } from './log/event-log';
import { IndexedEventLog, parseStoredLines } from './log/indexed-event-log';

/** An event log that keeps the history in memory only. */
export class MemoryEventLog extends IndexedEventLog {
  protected readonly index: EventIndex;
  private readonly byId: AppendsById;

  /** `recentIds`: how many of the newest event ids it remembers (every one by default). */
  constructor({ recentIds = Infinity }: { recentIds?: number } = {}) {
    super();
    this.index = new EventIndex({ recentIds });
    // Each promise's executor runs at once, and a throw in it (a line that does not parse) rejects.
    this.byId = new AppendsById(
      this.index,
      (seq) => new Promise((resolve) => resolve(parseStoredLines(this.index.readTail(seq - 1, seq))[0] as StoredEvent)),
    );
  }

  append(event: NewEvent): Promise<Appended> {
    return this.byId.append(
      event,
      () =>
        new Promise((resolve) => {
          const stored: StoredEvent = { ...event, seq: this.index.lastSeq + 1 };
          this.index.add([{ seq: stored.seq, id: stored.id, line: JSON.stringify(stored) }]);
          resolve({ event: stored, duplicate: false });
        }),
    );
  }

  readRawAfter(after: number, limit: number, maxBytes?: number): Promise<string[]> {
    return Promise.resolve(this.index.readTail(after, this.index.lastOfRead(after, limit, maxBytes)));
  }

  health(): EventLogHealth {
    return { writable: true };
  }

  close(): Promise<void> {
    this.index.wakeAll();
    return Promise.resolve();
  }
}
