import type { EventIndex } from './event-index';
import type { Appended, NewEvent, StoredEvent } from './event-log';

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
