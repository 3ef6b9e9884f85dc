/**
 * The event contracts every service agrees on: the envelope, the event types and their payloads, with
 * runtime schemas; plus the request schemas of the public API.
 */
import { z } from 'zod';
import { COMMENT_STATUSES, LIMITS } from './api';

export const commentStatusSchema = z.enum(COMMENT_STATUSES);

const idSchema = z.string().min(1).max(LIMITS.idLength);
const titleSchema = z.string().trim().min(1).max(LIMITS.titleLength);
const contentSchema = z.string().trim().min(1).max(LIMITS.contentLength);

const commentEventDataSchema = z.object({
  id: idSchema,
  postId: idSchema,
  content: contentSchema,
  status: commentStatusSchema,
});

/** Payload schema of every known event type. */
export const eventDataSchemas = {
  PostCreated: z.object({ id: idSchema, title: titleSchema }),
  CommentCreated: commentEventDataSchema,
  CommentModerated: commentEventDataSchema,
  CommentUpdated: commentEventDataSchema,
} as const;

export type EventType = keyof typeof eventDataSchemas;
export type EventData<T extends EventType> = z.infer<(typeof eventDataSchemas)[T]>;
export const EVENT_TYPES = Object.keys(eventDataSchemas) as EventType[];

export function isKnownEventType(type: string): type is EventType {
  return Object.hasOwn(eventDataSchemas, type);
}

/** One event before the bus has sequenced it. */
export type BlogEvent = { [T in EventType]: { type: T; data: EventData<T> } }[EventType];

/**
 * The W3C trace context (traceparent, tracestate) of the publish that stored an event, kept with it so
 * that every delivery and replay continues or links to the publisher's trace.
 */
export const eventTraceContextSchema = z.object({
  traceparent: z.string().regex(/^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/),
  tracestate: z.string().max(512).optional(),
});
export type EventTraceContext = z.infer<typeof eventTraceContextSchema>;

/** Optional and never a reason to refuse an event: a malformed trace context is dropped. */
const traceField = eventTraceContextSchema.optional().catch(undefined);

const envelopeMeta = {
  id: idSchema,
  seq: z.number().int().positive(),
  time: z.iso.datetime({ offset: true }),
  trace: traceField,
};

/**
 * An event as stored and delivered by the bus: the event plus its id, position in the log and time, and
 * the publisher's trace context when it was traced.
 */
export type Envelope<E extends BlogEvent = BlogEvent> = E & {
  id: string;
  seq: number;
  time: string;
  trace?: EventTraceContext | undefined;
};

/**
 * The type the bus serves in place of a stored message it cannot decode as an event (not JSON, not an
 * envelope, too large): the seq stays taken, so positions and pages go on, and every consumer acknowledges
 * and ignores it as an unknown type. Its data is `{reason}`; its id is `quarantined-<seq>`.
 */
export const QUARANTINED_EVENT_TYPE = 'EventQuarantined';

/** The largest stored event (its JSON text) the bus takes and serves. */
export const MAX_EVENT_BYTES = 32 * 1024;

/** An envelope whose type this code base does not know; it is acknowledged and ignored. */
export interface ForeignEnvelope {
  id: string;
  type: string;
  data: unknown;
  seq: number;
  time: string;
  trace?: EventTraceContext | undefined;
}

const anyEnvelopeSchema = z.object({
  ...envelopeMeta,
  type: z.string().min(1).max(LIMITS.eventTypeLength),
  data: z.unknown(),
});

export type ParsedEnvelope =
  | { ok: true; known: true; envelope: Envelope }
  | { ok: true; known: false; envelope: ForeignEnvelope }
  | { ok: false; error: string };

/** Validates a delivered envelope; known types get their payload checked too. */
export function parseEnvelope(input: unknown): ParsedEnvelope {
  const meta = anyEnvelopeSchema.safeParse(input);
  if (!meta.success) return { ok: false, error: describeIssues(meta.error) };
  const { type } = meta.data;
  if (!isKnownEventType(type)) return { ok: true, known: false, envelope: { ...meta.data, data: meta.data.data } };
  const data = eventDataSchemas[type].safeParse(meta.data.data);
  if (!data.success) return { ok: false, error: `invalid ${type} data: ${describeIssues(data.error)}` };
  return { ok: true, known: true, envelope: { ...meta.data, type, data: data.data } as Envelope };
}

/**
 * What a publisher sends to the bus. `id` and `time` are optional so that course-style publishers that
 * send only `{type, data}` keep working; the bus fills them in. `seq` is always assigned by the bus.
 */
export const publishRequestSchema = z.object({
  id: idSchema.optional(),
  type: z.string().min(1).max(LIMITS.eventTypeLength),
  data: z.unknown(),
  time: envelopeMeta.time.optional(),
  trace: traceField,
});
export type PublishRequest = z.infer<typeof publishRequestSchema>;

export type ParsedPublish = { ok: true; event: PublishRequest } | { ok: false; error: string };

export function parsePublishRequest(input: unknown): ParsedPublish {
  const parsed = publishRequestSchema.safeParse(input);
  if (!parsed.success) return { ok: false, error: describeIssues(parsed.error) };
  const { type, data } = parsed.data;
  if (isKnownEventType(type)) {
    const checked = eventDataSchemas[type].safeParse(data);
    if (!checked.success) return { ok: false, error: `invalid ${type} data: ${describeIssues(checked.error)}` };
    return { ok: true, event: { ...parsed.data, data: checked.data } };
  }
  return { ok: true, event: parsed.data };
}

// ---- Public API shapes ----------------------------------------------------------------------------

export const createPostBodySchema = z.object({ title: titleSchema });
export const createCommentBodySchema = z.object({ content: contentSchema });

/** One readable line from a zod error, naming the offending fields. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}
