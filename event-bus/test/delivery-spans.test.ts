/** The spans of the bus's deliveries (a `deliver events` span per request to a subscriber). */
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { recordingLogger, recordSpans } from '@blog/common/testing';
import { eventually } from '@blog/testkit';
import { SubscriberDelivery } from '../src/delivery/subscriber-delivery';
import { MemoryEventLog } from '../src/testing';
import { fakeSubscriber } from './support';

let recorded: ReturnType<typeof recordSpans>;

beforeAll(() => (recorded = recordSpans()));
afterAll(() => recorded.stop());

it('makes each attempt a span under the publish of the event it carries: a refused one failed, the retry a new one', async () => {
  const publish = trace.getTracer('test').startSpan('send events');
  publish.end();
  const { traceId, spanId } = publish.spanContext();
  const log = new MemoryEventLog();
  await log.append({
    id: 'e1',
    type: 'PostCreated',
    data: { id: 'p1', title: 't' },
    time: new Date().toISOString(),
    trace: { traceparent: `00-${traceId}-${spanId}-01` },
  });
  const subscriber = await fakeSubscriber({ takesBatches: true });
  let attempts = 0;
  subscriber.answerBatch = () => (++attempts === 1 ? 503 : 200);
  const delivery = new SubscriberDelivery(subscriber.url, {
    log,
    // Logging each delivered event, the bus reads each one's id, type and trace context.
    logger: recordingLogger('info').logger,
    backoff: { minDelayMs: 5, maxDelayMs: 20 },
  });
  delivery.start();
  try {
    await eventually(() => expect(subscriber.received).toHaveLength(1));
  } finally {
    await delivery.stop();
    await subscriber.close();
  }

  const deliveries = recorded.exporter.getFinishedSpans().filter((span) => span.name === 'deliver events');
  expect(deliveries).toHaveLength(2);
  expect(deliveries.map((span) => span.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
  expect(deliveries[0]?.status.message).toMatch(/^HTTP 503/);
  for (const span of deliveries) {
    expect(span.spanContext().traceId).toBe(traceId);
    expect(span.parentSpanContext?.spanId).toBe(spanId);
    expect(span.attributes).toMatchObject({
      'messaging.consumer.group.name': subscriber.url,
      'messaging.message.id': 'e1',
      'blog.event.seq': 1,
    });
  }
});
