/**
 * Trace context across the bus, after the OpenTelemetry messaging conventions: a publish is a `send`
 * span (PRODUCER) whose context is stored with the event (W3C traceparent/tracestate); the bus pushing
 * events to a subscriber is a `deliver` span, a consumer applying a delivered event a `process` span
 * (CONSUMER) whose parent is that context and which links to it, as the conventions ask of every consumer
 * span; a replayed page and a push to a live stream have spans of their own too. Only the OpenTelemetry
 * API is used here: without a started SDK every call is a no-op and no context is stored.
 */
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Attributes,
  type Context,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import {
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
} from '@opentelemetry/semantic-conventions/incubating';
import type { EventTraceContext } from '../contracts/events';
import { tracingStarted } from './lifecycle';

/** messaging.system: the blog's own event bus (no value of the conventions' list names it). */
export const MESSAGING_SYSTEM = 'blog-event-bus';
/** messaging.system of a push to the readers of a Server-Sent Events stream. */
export const STREAM_SYSTEM = 'server-sent-events';
/** messaging.destination.name: the one log every event goes to. */
export const EVENTS_DESTINATION = 'events';
/** The event's type and its position in the log, as span attributes (the conventions have none for them). */
export const ATTR_EVENT_TYPE = 'blog.event.type';
export const ATTR_EVENT_SEQ = 'blog.event.seq';
/** On a span for several events: the seq of the first and last of them. */
export const ATTR_EVENTS_FIRST_SEQ = 'blog.events.first_seq';
export const ATTR_EVENTS_LAST_SEQ = 'blog.events.last_seq';
/** A consumer's span that applies a page of the history it reads to catch up, rather than live events. */
export const ATTR_REPLAY = 'blog.replay';
/**
 * At most this many links on a span for several events (the SDK's default limit): a page replayed at start
 * may hold thousands.
 */
const MAX_LINKS = 128;

const tracer = () => trace.getTracer('@blog/common');

type Operation = 'send' | 'deliver' | 'process';

const OPERATION_TYPES = {
  send: MESSAGING_OPERATION_TYPE_VALUE_SEND,
  // The bus pushing stored events to a subscriber sends them on.
  deliver: MESSAGING_OPERATION_TYPE_VALUE_SEND,
  process: MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
} as const;

function operationAttributes(operation: Operation): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
    [ATTR_MESSAGING_DESTINATION_NAME]: EVENTS_DESTINATION,
    [ATTR_MESSAGING_OPERATION_NAME]: operation,
    [ATTR_MESSAGING_OPERATION_TYPE]: OPERATION_TYPES[operation],
  };
}

function messagingAttributes(operation: Operation, event: { id: string; type: string }): Attributes {
  return {
    ...operationAttributes(operation),
    [ATTR_MESSAGING_MESSAGE_ID]: event.id,
    [ATTR_EVENT_TYPE]: event.type,
  };
}

/** The publisher's span stored with an event, as a context to continue and as a span context to link to. */
function publisherOf(stored: EventTraceContext | undefined): { context: Context; span: SpanContext } | undefined {
  if (stored === undefined) return undefined;
  const extracted = propagation.extract(ROOT_CONTEXT, stored);
  const span = trace.getSpanContext(extracted);
  return span && isSpanContextValid(span) ? { context: extracted, span } : undefined;
}

/** The producer span of one publish, and the trace context to store with the event (none when not traced). */
export function startPublishSpan(event: { id: string; type: string }): {
  span: Span;
  trace: EventTraceContext | undefined;
} {
  const span = tracer().startSpan(`send ${EVENTS_DESTINATION}`, {
    kind: SpanKind.PRODUCER,
    attributes: messagingAttributes('send', event),
  });
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), carrier);
  const { traceparent, tracestate } = carrier;
  const stored = traceparent === undefined ? undefined : { traceparent, ...(tracestate ? { tracestate } : {}) };
  return { span, trace: stored };
}

/** Ends a publish's span: stored at `seq`, or failed. */
export function endPublishSpan(span: Span, outcome: { seq: number } | { error: Error }): void {
  if ('seq' in outcome) span.setAttribute(ATTR_EVENT_SEQ, outcome.seq);
  else {
    span.recordException(outcome.error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error.message });
  }
  span.end();
}

/**
 * Runs `apply` inside the consumer span of one delivered event: a child of the publisher's span stored
 * with the event (and linked to it), so that what the handler does, a reaction published among it,
 * continues the same trace. An event without a stored context gets a span of its own trace.
 */
export function withProcessSpan<T>(
  event: { id: string; type: string; seq: number; trace?: EventTraceContext | undefined },
  subscriber: string,
  apply: (span: Span) => T,
): T {
  const publisher = publisherOf(event.trace);
  const parent = publisher?.context ?? context.active();
  const span = tracer().startSpan(
    `process ${EVENTS_DESTINATION}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...messagingAttributes('process', event),
        [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: subscriber,
        [ATTR_EVENT_SEQ]: event.seq,
      },
      links: publisher ? [{ context: publisher.span }] : [],
    },
    parent,
  );
  return runIn(span, parent, apply);
}

/** An event as a span for several events sees it: its seq and, when it was traced, its publisher's context. */
export interface TracedEvent {
  seq: number;
  id?: unknown;
  type?: unknown;
  trace?: EventTraceContext | undefined;
}

/**
 * Runs `work` in the span of an operation on several events at once, as the messaging conventions trace a
 * batch: linked to each event's publisher (up to MAX_LINKS), and a child of the publisher's span when there
 * is just one event, so a single delivery sits in its event's trace. `deliver` is the bus pushing events to
 * a subscriber (a PRODUCER span: the subscriber's request is its child); `replay` is a consumer applying a
 * page of the history it reads to catch up (a CONSUMER span named `process`).
 */
export function withEventsSpan<T>(
  operation: 'deliver' | 'replay',
  events: readonly TracedEvent[],
  subscriber: string,
  work: (span: Span) => T,
): T {
  const publishers = events.flatMap((event) => publisherOf(event.trace) ?? []);
  const only = events.length === 1 ? publishers[0] : undefined;
  const parent = only?.context ?? context.active();
  const first = events[0];
  const last = events.at(-1);
  const single =
    events.length === 1 && typeof first?.id === 'string' && typeof first.type === 'string'
      ? { [ATTR_MESSAGING_MESSAGE_ID]: first.id, [ATTR_EVENT_TYPE]: first.type, [ATTR_EVENT_SEQ]: first.seq }
      : {};
  const span = tracer().startSpan(
    `${operation === 'deliver' ? 'deliver' : 'process'} ${EVENTS_DESTINATION}`,
    {
      kind: operation === 'deliver' ? SpanKind.PRODUCER : SpanKind.CONSUMER,
      attributes: {
        ...operationAttributes(operation === 'deliver' ? 'deliver' : 'process'),
        [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: subscriber,
        [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: events.length,
        ...(first && last ? { [ATTR_EVENTS_FIRST_SEQ]: first.seq, [ATTR_EVENTS_LAST_SEQ]: last.seq } : {}),
        ...single,
        ...(operation === 'replay' ? { [ATTR_REPLAY]: true } : {}),
      },
      links: publishers.slice(0, MAX_LINKS).map(({ span: linked }) => ({ context: linked })),
    },
    parent,
  );
  return runIn(span, parent, work);
}

/** How many readers of a live stream a push was sent to. */
export const ATTR_STREAM_READERS = 'blog.stream.readers';

/**
 * Runs `work` in a PRODUCER span `send <destination>` that pushes an applied event's change to the readers
 * of a live stream (query's `/posts/stream`): a child of the span that applied the event, so the push is
 * part of the trace of the create that caused it.
 */
export function withStreamPushSpan<T>(
  destination: string,
  change: { seq: number; type: string; readers: number },
  work: (span: Span) => T,
): T {
  const parent = context.active();
  const span = tracer().startSpan(
    `send ${destination}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [ATTR_MESSAGING_SYSTEM]: STREAM_SYSTEM,
        [ATTR_MESSAGING_DESTINATION_NAME]: destination,
        [ATTR_MESSAGING_OPERATION_NAME]: 'send',
        [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
        [ATTR_EVENT_SEQ]: change.seq,
        [ATTR_EVENT_TYPE]: change.type,
        [ATTR_STREAM_READERS]: change.readers,
      },
    },
    parent,
  );
  return runIn(span, parent, work);
}

/** Marks a span failed for a reason that is not an exception (a delivery answered 503). */
export function markSpanFailed(span: Span, reason: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
}

/**
 * Runs `work` with `span` active, and ends the span when the work is done: at once, or once the promise it
 * returns settles. A throw or a rejection marks the span failed.
 */
function runIn<T>(span: Span, parent: Context, work: (span: Span) => T): T {
  const failed = (err: unknown) => {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
  };
  let result: T;
  try {
    result = context.with(trace.setSpan(parent, span), () => work(span));
  } catch (err) {
    failed(err);
    span.end();
    throw err;
  }
  if (result instanceof Promise) {
    return result.then(
      (value: unknown) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        failed(err);
        span.end();
        throw err;
      },
    ) as T;
  }
  span.end();
  return result;
}

/**
 * Runs `work` (a log line about one event) in the event's trace: as it is when the active span belongs to
 * that trace already, else in its publisher's span, so that a log store finds the line by the trace id of
 * the create that caused it (a batch of several requests' events is sent and delivered in a trace of its own).
 */
export function inEventTrace<T>(stored: EventTraceContext | undefined, work: () => T): T {
  // Without a started SDK no context can be entered: the line is logged as it is, at no cost per event.
  if (stored === undefined || !tracingStarted()) return work();
  const publisher = publisherOf(stored);
  if (publisher === undefined || trace.getActiveSpan()?.spanContext().traceId === publisher.span.traceId) return work();
  return context.with(publisher.context, work);
}

/** Runs `work` (a log line) as part of a span that already ended, so that it carries that span's ids. */
export function inSpan<T>(span: SpanContext | undefined, work: () => T): T {
  if (span === undefined) return work();
  return context.with(trace.setSpanContext(context.active(), span), work);
}
