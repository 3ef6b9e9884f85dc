/**
 * `Idempotency-Key` on creates: a client that is not sure its create went through (a timeout, an
 * "unconfirmed" answer) sends it again with the same key, and gets the same resource instead of a second
 * one. The resource id and its event id are derived from the key, so this holds across restarts and
 * replicas: the bus stores an event id once and answers a repeat with what it stored, and past the bus's
 * memory of ids each service's state, rebuilt from the log, still holds the resource.
 */
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { HttpError } from '../service/http-error';
import { EventIdTakenError, type EventPublisher } from './bus-client';

export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
const MAX_KEY_LENGTH = 255;

/** The request's Idempotency-Key; undefined without one; a 400 for one that is empty, too long or not printable. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get(IDEMPOTENCY_KEY_HEADER);
  if (key === undefined) return undefined;
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x20-\x7e]+$/.test(key)) {
    throw new HttpError(400, `${IDEMPOTENCY_KEY_HEADER} must be 1 to ${MAX_KEY_LENGTH} printable ASCII characters`);
  }
  return key;
}

/** A UUID (version 8: name-based, SHA-256) for what the key names: the same kind and key, the same id. */
export function idFromKey(kind: string, key: string): string {
  const bytes = createHash('sha256').update(`${kind}\n${key}`).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The key was used before for a create with another body: nothing was created. */
export function keyReusedError(): HttpError {
  return new HttpError(
    422,
    `this ${IDEMPOTENCY_KEY_HEADER} was already used with a different body; nothing was created (send a new key for a new create)`,
    { code: 'key_reused' },
  );
}

/** How a service finds, compares and makes the resource a create names (see CreatesByKey.create). */
export interface KeyedCreate<T> {
  /** The resource with the id derived from the key, as this service's state holds it now. */
  find: () => T | undefined;
  /** Whether the resource found was created from the same body as this request's. */
  sameBody: (found: T) => boolean;
  /**
   * Publishes the resource's event (its id derived from the key), adds what the bus stored to the state
   * and resolves with it; rejects with EventIdTakenError when the bus holds another body under that id.
   */
  create: () => Promise<T>;
}

/** The state a service keeps from the log: how far it has applied it, and catching up with the rest. */
export interface AppliedLog {
  readonly position: number;
  sync(): Promise<void>;
}

/**
 * Creates under an optional Idempotency-Key. One key at a time in this process: a retry that arrives
 * while the first attempt with its key is under way waits for it, then finds what it created.
 */
export class CreatesByKey {
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: { state: AppliedLog; bus: Pick<EventPublisher, 'idsFrom'> }) {}

  /**
   * Without a key, creates. With one: the resource this service's state already holds under it (a 422 when
   * it was made from another body), or else publishes first and lets the bus decide: it stores an event id
   * once, across replicas, and answers an id it holds with what it stored, so a body other than the one
   * stored is a 422 on whichever replica asked. No read of the history on the way, unless this service is
   * further behind the log than the bus remembers ids: then the key may be older still, and the state
   * catches up before it answers.
   */
  create<T>(key: string | undefined, { find, sameBody, create }: KeyedCreate<T>): Promise<T> {
    if (key === undefined) return create();
    return this.oneAtATime(key, async () => {
      const found = find();
      if (found !== undefined) {
        if (!sameBody(found)) throw keyReusedError();
        return found;
      }
      let created: T;
      try {
        created = await create();
      } catch (err) {
        throw err instanceof EventIdTakenError ? keyReusedError() : err;
      }
      if (this.behindTheBusMemory()) await this.deps.state.sync();
      // The state keeps the first of two events under one id: an earlier one wins over the one just stored.
      const held = find() ?? created;
      if (!sameBody(held)) throw keyReusedError();
      return held;
    });
  }

  /** Whether the state may miss an event whose id the bus no longer remembers (it did not say: assume so). */
  private behindTheBusMemory(): boolean {
    return this.deps.state.position < (this.deps.bus.idsFrom ?? Infinity) - 1;
  }

  private async oneAtATime<T>(key: string, create: () => Promise<T>): Promise<T> {
    for (let pending = this.inFlight.get(key); pending; pending = this.inFlight.get(key))
      await pending.catch(() => undefined);
    const running = create();
    this.inFlight.set(key, running);
    try {
      return await running;
    } finally {
      this.inFlight.delete(key);
    }
  }
}
