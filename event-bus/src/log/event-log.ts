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
