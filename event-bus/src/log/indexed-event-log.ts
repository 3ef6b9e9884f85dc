import type { EventIndex } from './event-index';
import type { Appended, EventLog, EventLogHealth, NewEvent, StoredEvent } from './event-log';

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
