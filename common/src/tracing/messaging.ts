/**
 * Trace context across the bus, after the OpenTelemetry messaging conventions: a publish is a `send`
 * span (PRODUCER) whose context is stored with the event (W3C traceparent/tracestate); applying a
 * delivered event is a `process` span (CONSUMER) whose parent is that context, and which links to it too,
 * as the conventions ask of every consumer span. Only the OpenTelemetry API is used here: without a
 * started SDK every call is a no-op and no context is stored.
 */
import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';
import {
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

/** messaging.system: the blog's own event bus (no value of the conventions' list names it). */
export const MESSAGING_SYSTEM = 'blog-event-bus';
/** messaging.destination.name: the one log every event goes to. */
export const EVENTS_DESTINATION = 'events';
/** The event's type and its position in the log, as span attributes (the conventions have none for them). */
export const ATTR_EVENT_TYPE = 'blog.event.type';
export const ATTR_EVENT_SEQ = 'blog.event.seq';

const tracer = () => trace.getTracer('@blog/common');

function messagingAttributes(operation: 'send' | 'process', event: { id: string; type: string }): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
    [ATTR_MESSAGING_DESTINATION_NAME]: EVENTS_DESTINATION,
    [ATTR_MESSAGING_OPERATION_NAME]: operation,
    [ATTR_MESSAGING_OPERATION_TYPE]:
      operation === 'send' ? MESSAGING_OPERATION_TYPE_VALUE_SEND : MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
    [ATTR_MESSAGING_MESSAGE_ID]: event.id,
    [ATTR_EVENT_TYPE]: event.type,
  };
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
  const publisher = event.trace ? propagation.extract(context.active(), event.trace) : context.active();
  const publisherSpan = event.trace ? trace.getSpanContext(publisher) : undefined;
  const span = tracer().startSpan(
    `process ${EVENTS_DESTINATION}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...messagingAttributes('process', event),
        [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: subscriber,
        [ATTR_EVENT_SEQ]: event.seq,
      },
      links: publisherSpan ? [{ context: publisherSpan }] : [],
    },
    publisher,
  );
  try {
    return context.with(trace.setSpan(publisher, span), () => apply(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}

/** Runs `work` (a log line) as part of a span that already ended, so that it carries that span's ids. */
export function inSpan<T>(span: SpanContext | undefined, work: () => T): T {
  if (span === undefined) return work();
  return context.with(trace.setSpanContext(context.active(), span), work);
}
