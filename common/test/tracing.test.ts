import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { BusClient } from '@blog/common';
import { recordingLogger, recordSpans } from '@blog/common/testing';
import { parseEnvelope, parsePublishRequest } from '../src/contracts/events';
import { ConfigError } from '../src/service/config';
import { traceFields } from '../src/service/logger';
import { loadTracingConfig, tracingEnabled } from '../src/tracing/config';
import {
  endPublishSpan,
  startPublishSpan,
  withEventsSpan,
  withProcessSpan,
  withStreamPushSpan,
} from '../src/tracing/messaging';
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
    ['OTEL_LOG_LEVEL', 'loud'],
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
  let recorded: ReturnType<typeof recordSpans>;

  beforeAll(() => (recorded = recordSpans()));
  afterAll(() => recorded.stop());
  beforeEach(() => recorded.exporter.reset());

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

    const spans = recorded.exporter.getFinishedSpans();
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
    const [processed] = recorded.exporter.getFinishedSpans();
    expect(processed?.parentSpanContext).toBeUndefined();
    expect(processed?.links).toEqual([]);
    expect(traceFields()).toEqual({});
  });

  const publishedAt = (n: number) => {
    const { span, trace: stored } = startPublishSpan({ id: `e${n}`, type: 'PostCreated' });
    endPublishSpan(span, { seq: n });
    return { span: span.spanContext(), stored };
  };

  it('delivers one event in a child of its publish, and a batch in a span of its own linked to each publish', async () => {
    const one = publishedAt(1);
    const two = publishedAt(2);
    const single = await withEventsSpan(
      'deliver',
      [{ seq: 1, id: 'e1', type: 'PostCreated', trace: one.stored }],
      'http://query:4002',
      () => Promise.resolve('delivered'),
    );
    expect(single).toBe('delivered');
    await withEventsSpan(
      'deliver',
      [{ seq: 1, trace: one.stored }, { seq: 2, trace: two.stored }, { seq: 3 }],
      'http://query:4002',
      () => Promise.resolve(),
    );
    const [first, batch] = recorded.exporter.getFinishedSpans().filter((span) => span.name === 'deliver events');
    expect(first).toMatchObject({
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.operation.name': 'deliver',
        'messaging.consumer.group.name': 'http://query:4002',
        'messaging.batch.message_count': 1,
        'messaging.message.id': 'e1',
        'blog.event.seq': 1,
      },
    });
    expect(first?.parentSpanContext?.spanId).toBe(one.span.spanId);
    expect(batch?.parentSpanContext).toBeUndefined();
    expect(batch?.links.map((link) => link.context.spanId)).toEqual([one.span.spanId, two.span.spanId]);
    expect(batch?.attributes).toMatchObject({
      'messaging.batch.message_count': 3,
      'blog.events.first_seq': 1,
      'blog.events.last_seq': 3,
    });
    expect(batch?.attributes).not.toHaveProperty('messaging.message.id');
  });

  it('marks a delivery span failed when its work rejects, and ends it either way', async () => {
    await expect(
      withEventsSpan('deliver', [{ seq: 1 }], 'http://query:4002', () => Promise.reject(new Error('HTTP 503'))),
    ).rejects.toThrow('HTTP 503');
    const [failed] = recorded.exporter.getFinishedSpans();
    expect(failed?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'HTTP 503' });
  });

  it('replays a page in one consumer span, linked to at most 128 publishes', () => {
    const published = Array.from({ length: 130 }, (_, index) => ({ seq: index + 1, ...publishedAt(index + 1) }));
    withEventsSpan(
      'replay',
      published.map(({ seq, stored }) => ({ seq, trace: stored })),
      'query',
      () => undefined,
    );
    const replay = recorded.exporter.getFinishedSpans().find((span) => span.name === 'process events');
    expect(replay).toMatchObject({
      kind: SpanKind.CONSUMER,
      attributes: { 'messaging.operation.type': 'process', 'blog.replay': true, 'messaging.batch.message_count': 130 },
    });
    expect(replay?.links.map((link) => link.context.spanId)).toEqual(
      published.slice(0, 128).map(({ span }) => span.spanId),
    );
  });

  it("pushes to a stream's readers in a child of the span that applied the change", () => {
    const one = publishedAt(1);
    withProcessSpan({ id: 'e1', type: 'PostCreated', seq: 1, trace: one.stored }, 'query', () =>
      withStreamPushSpan('/posts/stream', { seq: 1, type: 'PostCreated', readers: 2 }, () => undefined),
    );
    const spans = recorded.exporter.getFinishedSpans();
    const processed = spans.find((span) => span.name === 'process events');
    const pushed = spans.find((span) => span.name === 'send /posts/stream');
    expect(pushed).toMatchObject({
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'server-sent-events',
        'messaging.destination.name': '/posts/stream',
        'blog.event.seq': 1,
        'blog.stream.readers': 2,
      },
    });
    expect(pushed?.parentSpanContext?.spanId).toBe(processed?.spanContext().spanId);
  });

  it("sends a batch of several requests' publishes in none of their traces, and a publish alone in its own", async () => {
    const { logger, lines } = recordingLogger();
    let nextSeq = 1;
    let requests = 0;
    const bus = createServer((req, res) => {
      // The first attempt of each publish loses its answer: the client says so, in the context it sends in.
      if (++requests % 2 === 1) {
        req.socket.destroy();
        return;
      }
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const count = req.url === '/events/batch' ? (JSON.parse(body) as unknown[]).length : 1;
        const seqs = Array.from({ length: count }, () => nextSeq++);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify(req.url === '/events/batch' ? { seqs } : { seq: seqs[0] }));
      });
    });
    await new Promise<void>((resolve) => bus.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(bus.address() as AddressInfo).port}`;
      // Two "replicas" (the same bus): a lost answer is followed by a line saying the client tries the other.
      const client = new BusClient([url, url], { logger });
      const tracer = trace.getTracer('test');
      const [a, b, c] = ['a', 'b', 'c'].map((name) => tracer.startSpan(`request ${name}`));
      const publishIn = (span: Span | undefined, postId: string) =>
        context.with(trace.setSpan(context.active(), span as Span), () =>
          client.publish({ type: 'PostCreated', data: { id: postId, title: 't' } }),
        );
      await Promise.all([publishIn(a, 'a'), publishIn(b, 'b')]);
      await publishIn(c, 'c');
      const switched = lines().filter((line) => line.msg === 'trying another event bus replica');
      expect(switched.map((line) => line.trace_id)).toEqual([undefined, c?.spanContext().traceId]);
      const published = lines().filter((line) => line.msg === 'event published');
      expect(published.map((line) => line.trace_id)).toEqual([a, b, c].map((span) => span?.spanContext().traceId));
    } finally {
      bus.close();
    }
  });
});
