import { createHash } from 'node:crypto';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../service/backoff';
import type { Logger } from '../service/logger';
import { EventIdTakenError } from './bus-client';

/**
 * The event id of a reaction, derived from what caused it (e.g. "CommentModerated:<comment id>"), so every
 * attempt to publish the same reaction carries the same id and the bus stores it once. Fixed length, so
 * it stays within the id limit whatever the cause's ids are.
 */
export function reactionId(cause: string): string {
  return `reaction-${createHash('sha256').update(cause).digest('hex').slice(0, 32)}`;
}

type State = 'pending' | 'publishing' | 'published';

export interface ReactorOptions {
  /** Publishes the reaction for one key (e.g. a comment id); throws when it could not. */
  react: (key: string) => Promise<void>;
  /**
   * The keys the state says still lack their reaction, asked at `start()`: a service that resumes from
   * its stored state learns them here, since it does not replay the events that called for them.
   */
  outstanding?: () => Iterable<string>;
  logger: Logger;
  backoff?: BackoffOptions;
}

/**
 * Publishes reactions to events at most once in effect, derived from state rather than from deliveries.
 *
 * Handlers call `need(key)` when the state calls for a reaction and `done(key)` when the log shows the
 * reaction was published (its echo arrived). While the consumer replays history nothing is published;
 * `start()` then publishes only what the history still lacks. A failed publish is retried with backoff;
 * a published reaction is not repeated while its echo is on its way.
 */
export class Reactor {
  private readonly states = new Map<string, State>();
  private started = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(private readonly options: ReactorOptions) {}

  need(key: string): void {
    if (this.states.has(key)) return;
    this.states.set(key, 'pending');
    if (this.started) void this.run(key);
  }

  done(key: string): void {
    this.states.delete(key);
  }

  /** Keys whose reaction is not yet in the log. */
  get outstanding(): number {
    return this.states.size;
  }

  start(): void {
    for (const key of this.options.outstanding?.() ?? []) this.need(key);
    this.started = true;
    this.runPending();
  }

  stop(): void {
    this.started = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private runPending(): void {
    for (const [key, state] of this.states) if (state === 'pending') void this.run(key);
  }

  private async run(key: string): Promise<void> {
    this.states.set(key, 'publishing');
    try {
      await this.options.react(key);
      this.failures = 0;
      if (this.states.get(key) === 'publishing') this.states.set(key, 'published');
    } catch (err) {
      if (err instanceof EventIdTakenError) {
        // Publishing again can never store it: the log keeps what was stored under the reaction's id.
        this.options.logger.error(
          { key, eventId: err.eventId, stored: err.stored },
          "another event is stored under this reaction's id; not retried",
        );
        if (this.states.get(key) === 'publishing') this.states.set(key, 'published');
        return;
      }
      if (this.states.get(key) === 'publishing') this.states.set(key, 'pending');
      this.options.logger.warn(
        { reason: err instanceof Error ? err.message : String(err), key },
        'publishing a reaction failed, will retry',
      );
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (!this.started || this.retryTimer) return;
    const delay = backoffDelay(this.failures++, this.options.backoff ?? DEFAULT_BACKOFF);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.started) this.runPending();
    }, delay);
    this.retryTimer.unref();
  }
}
