/**
 * Test doubles shared by the services' tests (import from '@blog/common/testing'; not used at run time).
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import pino from 'pino';
import type { BlogEvent, Envelope } from '../contracts/events';
import {
  type EventHistory,
  type EventPublisher,
  type HistoryReadOptions,
  type PublishOptions,
  BusUnavailableError,
  EventIdTakenError,
  isSameEvent,
} from '../messaging/bus-client';
import { contextFields, type Logger } from '../service/logger';

/**
 * An event bus in memory: publishing appends with the next seq, the history can be read like the real
 * bus's `GET /events`. `down = true` makes every call fail as if the bus were unreachable.
 */
export class InMemoryBus implements EventPublisher, EventHistory {
  readonly events: unknown[] = [];
  down = false;
  /** Stores every publish, as a bus does with an id older than its memory of ids. */
  forgetsIds = false;

  /** Every id from seq 1 on, or (forgetting) none. */
  get idsFrom(): number {
    return this.forgetsIds ? this.events.length + 1 : 1;
  }

  /** Publishes of the same event id that were answered with an event stored earlier. */
  duplicates = 0;

  /**
   * Like the real bus with its client, stores an event id once: publishing it again returns the stored
   * event, or rejects with EventIdTakenError when another event is stored under the id.
   */
  publish<E extends BlogEvent>(event: E, { id = randomUUID() }: PublishOptions = {}): Promise<Envelope<E>> {
    // Stored at once; a throw in the executor rejects the promise, as one in an async function would.
    return new Promise((resolve) => resolve(this.store(event, id)));
  }

  private store<E extends BlogEvent>(event: E, id: string): Envelope<E> {
    if (this.down) throw new BusUnavailableError('ECONNREFUSED');
    const stored = this.forgetsIds
      ? undefined
      : (this.events.find((known) => (known as { id?: unknown }).id === id) as Envelope | undefined);
    if (stored) {
      this.duplicates++;
      if (!isSameEvent(event, stored)) throw new EventIdTakenError(id, stored);
      return stored as Envelope<E>;
    }
    const envelope = { ...event, id, time: new Date().toISOString(), seq: this.events.length + 1 } as Envelope<E>;
    this.events.push(envelope);
    return envelope;
  }

  /** Appends a raw item, valid or not, as if some other service had published it. */
  append(raw: Record<string, unknown>): Record<string, unknown> {
    const stored = { id: randomUUID(), time: new Date().toISOString(), ...raw, seq: this.events.length + 1 };
    this.events.push(stored);
    return stored;
  }

  /** History reads so far. */
  reads = 0;

  async readAfter(after: number, limit: number, { waitMs = 0, signal }: HistoryReadOptions = {}): Promise<unknown[]> {
    this.reads++;
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.down) throw new BusUnavailableError('ECONNREFUSED');
      if (this.events.length > after || Date.now() >= deadline || signal?.aborted)
        return this.events.slice(after, after + limit);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Published events of one type, in order. */
  ofType<T extends BlogEvent['type']>(type: T): Envelope<Extract<BlogEvent, { type: T }>>[] {
    return this.events.filter(
      (event): event is Envelope<Extract<BlogEvent, { type: T }>> => (event as { type?: unknown }).type === type,
    );
  }
}

/** A well-formed envelope for tests. */
export function envelopeOf<E extends BlogEvent>(event: E, seq: number): Envelope<E> {
  return { ...event, id: randomUUID(), time: new Date().toISOString(), seq };
}

/** Lets pending promise callbacks run, before asserting that something did NOT happen. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A logger whose JSON lines are kept, for a test to read what was logged (parsed, or as written). */
export function recordingLogger(level = 'info'): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string[];
} {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const text = () =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line !== '');
  return {
    logger: pino({ level, mixin: contextFields }, sink),
    text,
    lines: () => text().map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/**
 * Records every span ended while registered, as the global tracer provider with its context manager;
 * `stop()` unregisters both, so that other tests run untraced.
 */
export function recordSpans(): { exporter: InMemorySpanExporter; stop: () => Promise<void> } {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  provider.register();
  return {
    exporter,
    stop: async () => {
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}
