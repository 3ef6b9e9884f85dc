/**
 * Traces across the services: the stack exports to an OTLP/HTTP receiver (JSON), a post and a comment are
 * created, and the spans must form connected traces from the create through the bus to every service that
 * reacts, parent links included.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  http,
  OtlpReceiver,
  SERVICES,
  SPAN_KIND,
  startStack,
  type ReceivedSpan,
  type ServiceName,
  type Stack,
} from '@blog/testkit';

const LOGS = path.join(__dirname, '..', 'artifacts', 'logs', 'traces');

let receiver: OtlpReceiver;
let stack: Stack;

beforeAll(async () => {
  receiver = await OtlpReceiver.start();
  const tracing = {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    // The batch processor's default wait would only slow the test down.
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
  const env: Partial<Record<ServiceName, Record<string, string>>> = {};
  for (const name of SERVICES) env[name] = tracing;
  stack = await startStack({ logDir: LOGS, env });
});

afterAll(async () => {
  await stack?.stopAll();
  await receiver?.close();
});

function logLines(service: ServiceName): Record<string, unknown>[] {
  return readFileSync(path.join(LOGS, `${service}.log`), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const inTrace = (traceId: string) => (span: ReceivedSpan) => span.traceId === traceId;

/** The send span of one event type, once exported. */
function sendOf(spans: readonly ReceivedSpan[], type: string, traceId?: string): ReceivedSpan | undefined {
  return spans.find(
    (span) =>
      span.name === 'send events' &&
      span.attributes['blog.event.type'] === type &&
      (traceId === undefined || span.traceId === traceId),
  );
}

/** The process spans of `sent` in `subscriber`: children of the send span, linked to it. */
function processedBy(spans: readonly ReceivedSpan[], sent: ReceivedSpan, subscriber: string): ReceivedSpan[] {
  return spans.filter(
    (span) =>
      span.name === 'process events' &&
      span.service === subscriber &&
      span.attributes['messaging.message.id'] === sent.attributes['messaging.message.id'],
  );
}

/** Every span of the trace reaches its root through parents that are in the trace too. */
function expectConnected(spans: readonly ReceivedSpan[]): void {
  const ids = new Set(spans.map((span) => span.spanId));
  const roots = spans.filter((span) => span.parentSpanId === '');
  expect(roots).toHaveLength(1);
  const orphans = spans.filter((span) => span.parentSpanId !== '' && !ids.has(span.parentSpanId));
  expect(orphans.map(({ service, name }) => `${service}: ${name}`)).toEqual([]);
}

it('follows a post and a comment from the create through the bus to every service that applies them', async () => {
  // Through the router, as a browser calls.
  const created = await http(`${stack.url('client')}/posts/create`, { body: { title: 'Traced' } });
  expect(created.status).toBe(201);
  const postId = (created.json as { id: string }).id;
  await receiver.waitForSpans((spans) => {
    const sent = sendOf(spans, 'PostCreated');
    return sent !== undefined && ['query', 'comments'].every((name) => processedBy(spans, sent, name).length > 0);
  });
  const postSend = sendOf(receiver.spans, 'PostCreated') as ReceivedSpan;
  const postTrace = receiver.spans.filter(inTrace(postSend.traceId));
  const postRequest = postTrace.find((span) => span.service === 'posts' && span.kind === SPAN_KIND.server);
  expect(postRequest?.attributes['http.route']).toBe('/posts/create');
  const routed = postTrace.find((span) => span.spanId === postRequest?.parentSpanId);
  expect(routed).toMatchObject({ service: 'client', kind: SPAN_KIND.client });
  expect(postTrace.find((span) => span.parentSpanId === '')).toMatchObject({
    service: 'client',
    kind: SPAN_KIND.server,
  });
  expect(postTrace.some((span) => span.service === 'event-bus' && span.kind === SPAN_KIND.server)).toBe(true);
  // The log line of the publish carries the ids of the trace it belongs to.
  const published = logLines('posts').find((line) => line.msg === 'event published' && line.type === 'PostCreated');
  expect(published?.trace_id).toBe(postSend.traceId);
  expect(postTrace.map((span) => span.spanId)).toContain(published?.span_id);
  const applied = logLines('query').find((line) => line.msg === 'event applied' && line.type === 'PostCreated');
  expect(applied?.trace_id).toBe(postSend.traceId);
  expect(processedBy(postTrace, postSend, 'query').map((span) => span.spanId)).toContain(applied?.span_id);
  for (const subscriber of ['query', 'comments']) {
    for (const processed of processedBy(receiver.spans, postSend, subscriber)) {
      expect(processed).toMatchObject({
        traceId: postSend.traceId,
        parentSpanId: postSend.spanId,
        kind: SPAN_KIND.consumer,
        links: [{ traceId: postSend.traceId, spanId: postSend.spanId }],
        attributes: { 'messaging.consumer.group.name': subscriber, 'blog.event.type': 'PostCreated' },
      });
    }
  }

  const commented = await http(`${stack.url('comments')}/posts/${postId}/comments`, { body: { content: 'Hi' } });
  expect(commented.status).toBe(201);
  await receiver.waitForSpans((spans) => {
    const updated = sendOf(spans, 'CommentUpdated');
    return updated !== undefined && processedBy(spans, updated, 'query').length > 0;
  });
  const commentSend = sendOf(receiver.spans, 'CommentCreated') as ReceivedSpan;
  const commentTrace = receiver.spans.filter(inTrace(commentSend.traceId));
  // create → bus → moderation → CommentModerated → comments → CommentUpdated → query, in one trace.
  const moderated = sendOf(commentTrace, 'CommentModerated', commentSend.traceId);
  expect(moderated?.service).toBe('moderation');
  const updated = sendOf(commentTrace, 'CommentUpdated', commentSend.traceId);
  expect(updated?.service).toBe('comments');
  expect(processedBy(commentTrace, updated as ReceivedSpan, 'query')).not.toHaveLength(0);
  const services = new Set(commentTrace.map((span) => span.service));
  expect([...services].sort()).toEqual(['comments', 'event-bus', 'moderation', 'query']);
  expectConnected(commentTrace);
  expectConnected(postTrace);
  expect(receiver.refused).toEqual([]);
});

it('stops a service whose tracing setting is wrong, naming the variable', () => {
  const entry = path.join(__dirname, '..', '..', '..', 'posts', 'dist', 'index.js');
  const run = spawnSync(process.execPath, [entry], {
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr).toMatch(/OTEL_EXPORTER_OTLP_PROTOCOL="http\/xml": must be http\/protobuf, http\/json or grpc/);
});
