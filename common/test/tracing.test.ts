import { context, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { parseEnvelope, parsePublishRequest } from '../src/contracts/events';
import { ConfigError } from '../src/service/config';
import { traceFields } from '../src/service/logger';
import { loadTracingConfig, tracingEnabled } from '../src/tracing/config';
import { endPublishSpan, startPublishSpan, withProcessSpan } from '../src/tracing/messaging';
import { startTracing } from '../src/tracing/start';

describe('tracing configuration', () => {
  it('is off without an OTLP endpoint, and when the SDK is disabled', () => {
    expect(tracingEnabled(loadTracingConfig({}))).toBe(false);
    expect(tracingEnabled(loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }))).toBe(true);
    expect(tracingEnabled(loadTracingConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }))).toBe(
      true,
    );
    expect(
      tracingEnabled(
        loadTracingConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }),
      ),
    ).toBe(false);
  });

  it.each([
    ['OTEL_EXPORTER_OTLP_PROTOCOL', 'http/xml'],
    ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'json'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
    ['OTEL_TRACES_SAMPLER', 'sometimes'],
    ['OTEL_TRACES_SAMPLER_ARG', '2'],
    ['OTEL_SDK_DISABLED', 'maybe'],
  ])('refuses %s=%s, naming the variable', (name, value) => {
    expect(() => loadTracingConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadTracingConfig({ [name]: value })).toThrow(new RegExp(`${name}="${value}"`));
  });

  it('starts nothing without an endpoint, and leaves the environment as it was', () => {
    const environment: NodeJS.ProcessEnv = { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' };
    expect(startTracing('posts', environment)).toBe(false);
    expect(environment).toEqual({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
  });
});

describe('the trace context of an event', () => {
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

  it('is kept by the envelope and the publish request, and a malformed one is dropped, not refused', () => {
    const envelope = {
      id: 'e1',
      type: 'PostCreated',
      data: { id: 'p', title: 'T' },
      seq: 1,
      time: new Date().toISOString(),
    };
    const traced = parseEnvelope({ ...envelope, trace: { traceparent, tracestate: 'vendor=1' } });
    expect(traced).toMatchObject({ ok: true, envelope: { trace: { traceparent, tracestate: 'vendor=1' } } });
    const malformed = parseEnvelope({ ...envelope, trace: { traceparent: 'not-one' } });
    expect(malformed.ok).toBe(true);
    expect(malformed.ok && malformed.envelope.trace).toBeUndefined();
    const publish = parsePublishRequest({ type: 'PostCreated', data: { id: 'p', title: 'T' }, trace: { traceparent } });
    expect(publish).toMatchObject({ ok: true, event: { trace: { traceparent } } });
    expect(parsePublishRequest({ type: 'PostCreated', data: { id: 'p', title: 'T' }, trace: 'x' }).ok).toBe(true);
  });
});

describe('spans across the bus', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

  beforeAll(() => provider.register());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });
  beforeEach(() => exporter.reset());

  it('stores the send span with the event, and processes it in a child span linked to it', () => {
    const request = trace.getTracer('test').startSpan('POST /posts', { kind: SpanKind.SERVER });
    const { span: sendSpan, trace: stored } = context.with(trace.setSpan(context.active(), request), () =>
      startPublishSpan({ id: 'e1', type: 'PostCreated' }),
    );
    endPublishSpan(sendSpan, { seq: 7 });
    request.end();
    const send = sendSpan.spanContext();
    expect(stored?.traceparent).toBe(`00-${send.traceId}-${send.spanId}-01`);

    const fields = withProcessSpan({ id: 'e1', type: 'PostCreated', seq: 7, trace: stored }, 'query', traceFields);

    const spans = exporter.getFinishedSpans();
    const sent = spans.find((span) => span.name === 'send events');
    const processed = spans.find((span) => span.name === 'process events');
    expect(sent).toMatchObject({
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'blog-event-bus',
        'messaging.destination.name': 'events',
        'messaging.operation.type': 'send',
        'messaging.message.id': 'e1',
        'blog.event.type': 'PostCreated',
        'blog.event.seq': 7,
      },
    });
    expect(sent?.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(processed).toMatchObject({
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.operation.type': 'process',
        'messaging.consumer.group.name': 'query',
        'blog.event.seq': 7,
      },
    });
    expect(processed?.spanContext().traceId).toBe(send.traceId);
    expect(processed?.parentSpanContext?.spanId).toBe(send.spanId);
    expect(processed?.links.map((link) => link.context.spanId)).toEqual([send.spanId]);
    expect(fields).toEqual({ trace_id: send.traceId, span_id: processed?.spanContext().spanId });
  });

  it('gives an event without a trace context a process span of its own, and logs no ids outside a span', () => {
    withProcessSpan({ id: 'e2', type: 'PostCreated', seq: 8 }, 'query', () => undefined);
    const [processed] = exporter.getFinishedSpans();
    expect(processed?.parentSpanContext).toBeUndefined();
    expect(processed?.links).toEqual([]);
    expect(traceFields()).toEqual({});
  });
});
