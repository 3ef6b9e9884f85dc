/**
 * Traces across the services, shared by the file-log run (traces.test.ts, npm test) and the JetStream run
 * (cluster/traces.test.ts, npm run test:cluster). The blog exports to an OTLP/HTTP receiver (JSON); the
 * test plays a user's session, one trace of its own: it creates a post and a comment on it while a reader
 * follows the live stream. Every span of the five services must join that trace through its parents,
 * from each create through the bus to every service that reacts and to the stream's push; a query that
 * was down catches up in a replay linked to the create it missed.
 */
import { randomBytes } from 'node:crypto';
import { eventually, http, SPAN_KIND, waitFor, type OtlpReceiver, type ReceivedSpan } from '@blog/testkit';

export interface TracedBlog {
  receiver: OtlpReceiver;
  /** Where `POST /posts/create` goes: the router in file mode, as a browser calls. */
  postsUrl: string;
  commentsUrl: string;
  /** A query replica whose stream the reader follows. */
  queryUrl: string;
  /** The JSON log lines of every process of a service so far. */
  logLines(service: string): Record<string, unknown>[];
  /** Whether the bus pushes events to the services (file mode); on JetStream they read them from it. */
  busPushes: boolean;
  /** Whether `postsUrl` is the router (the client server), which traces what it passes on. */
  routed: boolean;
  /** Runs `work` while one query process is down, then starts it again and waits until it has caught up. */
  whileQueryDown(work: () => Promise<void>): Promise<void>;
}

export interface TracedBlogSetup {
  /** How the blog exports its spans: each run takes one of the two OTLP/HTTP encodings. */
  protocol: 'http/json' | 'http/protobuf';
  /** Starts the blog with `env` (the OTEL_* settings) in every process. */
  start(receiver: OtlpReceiver, env: Record<string, string>): Promise<TracedBlog>;
  stop(): Promise<void>;
}

/** The OTEL_* settings each process of the blog is started with. */
function tracingEnv(receiver: OtlpReceiver, protocol: TracedBlogSetup['protocol']): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    // The batch processor's default wait would only slow the test down.
    OTEL_BSP_SCHEDULE_DELAY: '100',
  };
}

const FIVE_SERVICES = ['comments', 'event-bus', 'moderation', 'posts', 'query'];

/** The send span of one event type in the session's trace, once exported. */
function sendOf(spans: readonly ReceivedSpan[], type: string): ReceivedSpan | undefined {
  return spans.find((span) => span.name === 'send events' && span.attributes['blog.event.type'] === type);
}

/** The live process spans of the event `sent` published, in one service. */
function processedBy(spans: readonly ReceivedSpan[], sent: ReceivedSpan, service: string): ReceivedSpan[] {
  return spans.filter(
    (span) =>
      span.name === 'process events' &&
      span.service === service &&
      span.attributes['blog.replay'] !== true &&
      span.attributes['messaging.message.id'] === sent.attributes['messaging.message.id'],
  );
}

const links = (span: ReceivedSpan, target: ReceivedSpan) =>
  span.links.some((link) => link.traceId === target.traceId && link.spanId === target.spanId);

/** The span's parent, its parent's parent… as far as the spans received go. */
function ancestors(span: ReceivedSpan, spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(spans.map((each) => [each.spanId, each]));
  const chain: ReceivedSpan[] = [];
  for (let parent = byId.get(span.parentSpanId); parent !== undefined; parent = byId.get(parent.parentSpanId))
    chain.push(parent);
  return chain;
}

/** The spans whose parent is neither among `spans` nor the session's own span. */
function orphans(spans: readonly ReceivedSpan[], sessionSpanId: string): ReceivedSpan[] {
  const known = new Set([sessionSpanId, ...spans.map((span) => span.spanId)]);
  return spans.filter((span) => !known.has(span.parentSpanId));
}

/** A W3C traceparent of the test's own session span, which no exporter sends. */
function sessionSpan(): { traceId: string; spanId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** An open `GET /posts/stream`: the text received so far. */
async function followStream(queryUrl: string): Promise<{ text: () => string; close: () => void }> {
  const controller = new AbortController();
  const response = await fetch(`${queryUrl}/posts/stream`, {
    headers: { accept: 'text/event-stream' },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  let text = '';
  const decoder = new TextDecoder();
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  void (async () => {
    for (let read = await reader.read(); !read.done; read = await reader.read())
      text += decoder.decode(read.value, { stream: true });
  })().catch(() => undefined);
  return { text: () => text, close: () => controller.abort() };
}

export function describeTraces(name: string, setup: TracedBlogSetup, receiverStart: () => Promise<OtlpReceiver>): void {
  describe(name, () => {
    let receiver: OtlpReceiver;
    let blog: TracedBlog;
    beforeAll(async () => {
      receiver = await receiverStart();
      blog = await setup.start(receiver, tracingEnv(receiver, setup.protocol));
    }, 180_000);
    afterAll(async () => {
      await setup.stop();
      await receiver?.close();
    });

    it('joins every span of a post and a comment, in all five services, to the session that created them', async () => {
      const session = sessionSpan();
      const inSession = () => receiver.spans.filter((span) => span.traceId === session.traceId);
      const stream = await followStream(blog.queryUrl);
      let createdRequestId: string | null = null;
      try {
        const created = await http(`${blog.postsUrl}/posts/create`, {
          body: { title: 'Traced' },
          headers: { traceparent: session.traceparent },
        });
        expect(created.status).toBe(201);
        createdRequestId = created.headers.get('x-request-id');
        const postId = (created.json as { id: string }).id;
        const commented = await http(`${blog.commentsUrl}/posts/${postId}/comments`, {
          body: { content: 'Hi' },
          headers: { traceparent: session.traceparent },
        });
        expect(commented.status).toBe(201);
        const commentId = (commented.json as { id: string }).id;
        await waitFor(() => stream.text().includes(`"status":"approved"`) && stream.text().includes(commentId), {
          what: 'the approved comment on the stream',
        });
      } finally {
        stream.close();
      }
      // Each process exports its spans on its own schedule: the checks pass once all have arrived.
      await eventually(() => checkSessionTrace(session, inSession(), createdRequestId), {
        timeoutMs: 15_000,
        intervalMs: 200,
      });
    });

    /** Everything the session's trace must show, from the spans received so far. */
    function checkSessionTrace(
      session: { traceId: string; spanId: string },
      spans: readonly ReceivedSpan[],
      createdRequestId: string | null,
    ): void {
      // One trace: every span reaches the session through parents that are in it, in all five services.
      expect(orphans(spans, session.spanId).map((span) => `${span.service}: ${span.name}`)).toEqual([]);
      expect(FIVE_SERVICES.every((service) => spans.some((span) => span.service === service))).toBe(true);

      // Each create: the route's server span, then the publish's send span under it.
      const postSend = sendOf(spans, 'PostCreated') as ReceivedSpan;
      expect(postSend.service).toBe('posts');
      expect(ancestors(postSend, spans)).toContainEqual(
        expect.objectContaining({
          service: 'posts',
          kind: SPAN_KIND.server,
          attributes: expect.objectContaining({ 'http.route': '/posts/create' }),
        }),
      );
      // Through the router: its server span under the session, its client span under that, then posts.
      if (blog.routed) {
        const postsServer = ancestors(postSend, spans).find((span) => span.kind === SPAN_KIND.server);
        const routerClient = spans.find((span) => span.spanId === postsServer?.parentSpanId);
        const routerServer = spans.find((span) => span.spanId === routerClient?.parentSpanId);
        expect(routerClient).toMatchObject({ service: 'client', kind: SPAN_KIND.client });
        expect(routerServer).toMatchObject({ service: 'client', kind: SPAN_KIND.server, parentSpanId: session.spanId });
      }
      // Each subscriber's process span continues the publisher's span, and links to it.
      for (const subscriber of ['query', 'comments']) {
        const processed = processedBy(spans, postSend, subscriber);
        expect(processed).not.toHaveLength(0);
        for (const span of processed) {
          expect(span).toMatchObject({ parentSpanId: postSend.spanId, kind: SPAN_KIND.consumer });
          expect(links(span, postSend)).toBe(true);
          expect(span.attributes).toMatchObject({
            'messaging.operation.type': 'process',
            'messaging.consumer.group.name': subscriber,
            'blog.event.type': 'PostCreated',
            'blog.event.seq': postSend.attributes['blog.event.seq'],
          });
        }
      }
      // A delivery by the bus is a span of its own, linked to the publisher's (file mode: the bus pushes).
      if (blog.busPushes) {
        const deliveries = spans.filter((span) => span.name === 'deliver events' && links(span, postSend));
        expect(deliveries.length).toBeGreaterThanOrEqual(2);
        expect(deliveries.every((span) => span.service === 'event-bus' && span.kind === SPAN_KIND.producer)).toBe(true);
      }

      // The reactions continue the comment's trace: moderation's decision, then comments' update, then query.
      const commentSend = sendOf(spans, 'CommentCreated') as ReceivedSpan;
      const moderated = sendOf(spans, 'CommentModerated') as ReceivedSpan;
      const updated = sendOf(spans, 'CommentUpdated') as ReceivedSpan;
      expect([commentSend.service, moderated.service, updated.service]).toEqual(['comments', 'moderation', 'comments']);
      // (Scaled out, each replica reacts, and the bus stores the reaction once.)
      const continues = (reaction: ReceivedSpan, cause: ReceivedSpan, service: string) =>
        processedBy(spans, cause, service).some((processed) => ancestors(reaction, spans).includes(processed));
      expect(continues(moderated, commentSend, 'moderation')).toBe(true);
      expect(continues(updated, moderated, 'comments')).toBe(true);
      // The stream's push is part of the update's trace: under the query span that applied it.
      const pushes = spans.filter((span) => span.name === 'send /posts/stream' && span.service === 'query');
      const updateApplied = processedBy(spans, updated, 'query').map((span) => span.spanId);
      expect(pushes.some((push) => updateApplied.includes(push.parentSpanId))).toBe(true);

      // The log lines of the publish and of the apply carry the ids of the spans they were written in.
      const published = blog
        .logLines('posts')
        .find((line) => line.msg === 'event published' && line.type === 'PostCreated');
      expect(published?.trace_id).toBe(session.traceId);
      // …and the id of the request it was made for, as the answer named it.
      expect(published?.reqId).toBe(createdRequestId);
      expect(spans.map((span) => span.spanId)).toContain(published?.span_id);
      const applied = blog
        .logLines('query')
        .filter(
          (line) => line.msg === 'event applied' && line.type === 'PostCreated' && line.trace_id === session.traceId,
        );
      expect(applied).not.toHaveLength(0);
      const queryProcess = processedBy(spans, postSend, 'query').map((span) => span.spanId);
      expect(applied.every((line) => queryProcess.includes(line.span_id as string))).toBe(true);
      // The bus's lines of the post's event are in its trace too, whatever batch carried it.
      const busLines = blog
        .logLines('event-bus')
        .filter((line) => line.eventId === postSend.attributes['messaging.message.id']);
      const appended = busLines.filter((line) => line.msg === 'event appended');
      expect(appended).not.toHaveLength(0);
      expect(appended.every((line) => line.trace_id === session.traceId)).toBe(true);
      if (blog.busPushes) {
        const delivered = busLines.filter((line) => line.msg === 'event delivered');
        expect(delivered.length).toBeGreaterThanOrEqual(2);
        expect(delivered.every((line) => line.trace_id === session.traceId)).toBe(true);
      }
      expect(receiver.refused).toEqual([]);
      expect([...receiver.encodings]).toEqual([setup.protocol === 'http/json' ? 'json' : 'protobuf']);
    }

    it('links the replay of a query that was down to the create it missed', async () => {
      const session = sessionSpan();
      await blog.whileQueryDown(async () => {
        const created = await http(`${blog.postsUrl}/posts/create`, {
          body: { title: 'Missed' },
          headers: { traceparent: session.traceparent },
        });
        expect(created.status).toBe(201);
        await receiver.waitForSpans((spans) =>
          spans.some((span) => span.traceId === session.traceId && span.name === 'send events'),
        );
      });
      const missed = sendOf(
        receiver.spans.filter((span) => span.traceId === session.traceId),
        'PostCreated',
      ) as ReceivedSpan;
      await receiver.waitForSpans((spans) =>
        spans.some(
          (span) => span.service === 'query' && span.attributes['blog.replay'] === true && links(span, missed),
        ),
      );
      const replay = receiver.spans.find(
        (span) => span.service === 'query' && span.attributes['blog.replay'] === true && links(span, missed),
      );
      expect(replay).toMatchObject({
        name: 'process events',
        kind: SPAN_KIND.consumer,
        attributes: { 'messaging.operation.type': 'process', 'messaging.consumer.group.name': 'query' },
      });
      expect(replay?.attributes['messaging.batch.message_count']).toBeGreaterThanOrEqual(1);
    });
  });
}
