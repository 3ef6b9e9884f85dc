import {
  eventTraceContextSchema,
  MAX_EVENT_BYTES,
  parseEnvelope,
  QUARANTINED_EVENT_TYPE,
  type EventTraceContext,
  type Logger,
} from '@blog/common';
import type { StoredRecord } from './event-index';

/** A stored message read as an event: its id and the JSON text the bus serves, or why it cannot be. */
export type DecodedRecord = { ok: true; id: string; line: string } | { ok: false; reason: string };

/** The placeholder's time: a message that is not an event has none, and every replica must serve the same text. */
const UNKNOWN_TIME = new Date(0).toISOString();

/** What a stream message's headers say of its event: its id (Nats-Msg-Id) and its publisher's trace context. */
export interface StreamMessageHeaders {
  id?: string | undefined;
  traceparent?: string | undefined;
  tracestate?: string | undefined;
}

/**
 * Decodes a message of the JetStream stream (the JSON of `{id, type, data, time}`, as the bus publishes it,
 * with its id and trace context in headers; but any client of the stream may have written anything): its
 * size, then the envelope's schema (the payload too, for a known type), then the text is written again by
 * this code, with its seq. Raw bytes of the stream never reach an answer; a malformed trace context is
 * dropped, never a reason to quarantine the event.
 */
export function decodeStreamMessage(text: string, seq: number, headers: StreamMessageHeaders = {}): DecodedRecord {
  const parsed = parseBounded(text);
  if (!parsed.ok) return parsed;
  if (!isObject(parsed.value)) return { ok: false, reason: 'not a JSON object' };
  const envelope = parseEnvelope({ ...parsed.value, seq });
  if (!envelope.ok) return { ok: false, reason: `not an event envelope: ${envelope.error}` };
  const { id, type, data, time } = envelope.envelope;
  if (headers.id !== undefined && headers.id !== '' && headers.id !== id)
    return { ok: false, reason: 'its Nats-Msg-Id header is not its id' };
  const trace = traceOf(headers) ?? envelope.envelope.trace;
  return { ok: true, id, line: JSON.stringify({ id, type, data, time, seq, ...(trace ? { trace } : {}) }) };
}

function traceOf({ traceparent, tracestate }: StreamMessageHeaders): EventTraceContext | undefined {
  if (traceparent === undefined) return undefined;
  const parsed = eventTraceContextSchema.safeParse({ traceparent, ...(tracestate ? { tracestate } : {}) });
  return parsed.success ? parsed.data : undefined;
}

/**
 * Checks a line of the file log: JSON, an object with its seq, id, type and time, within the size limit.
 * The file is written by the bus alone, from events it validated: the line is served as it is (a full
 * schema check of every line would slow a start on a long history several times); a consumer checks a
 * known type's payload itself and skips an invalid one.
 */
export function checkLogLine(line: string, seq: number): DecodedRecord & { seqMismatch?: boolean } {
  const parsed = parseBounded(line);
  if (!parsed.ok) return parsed;
  const record = parsed.value;
  if (
    !isObject(record) ||
    typeof record.id !== 'string' ||
    record.id === '' ||
    typeof record.type !== 'string' ||
    typeof record.time !== 'string' ||
    !('data' in record)
  ) {
    return { ok: false, reason: 'not an event envelope (seq, id, type, data and time)' };
  }
  if (record.seq !== seq)
    return { ok: false, reason: `its seq is ${JSON.stringify(record.seq)}, not ${seq}`, seqMismatch: true };
  return { ok: true, id: record.id, line };
}

function parseBounded(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_EVENT_BYTES)
    return { ok: false, reason: `${bytes} bytes, more than the ${MAX_EVENT_BYTES} an event may take` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What the bus serves at `seq` in place of a message it cannot decode (the same text on every replica). */
export function quarantinedRecord(seq: number, reason: string): StoredRecord {
  const id = `quarantined-${seq}`;
  return {
    seq,
    id,
    line: JSON.stringify({ id, type: QUARANTINED_EVENT_TYPE, data: { reason }, time: UNKNOWN_TIME, seq }),
  };
}

/**
 * The stored messages a log could not decode: each is replaced by a placeholder, and logged and counted
 * once (per process) with its seq, so that one bad message never stops a read, a delivery or a start.
 */
export class Quarantine {
  private readonly reported = new Set<number>();

  constructor(
    private readonly logger: Logger,
    private readonly onQuarantined?: () => void,
  ) {}

  /** The record for a decoded message, or the placeholder for one that could not be. */
  recordOf(seq: number, decoded: DecodedRecord): StoredRecord {
    if (decoded.ok) return { seq, id: decoded.id, line: decoded.line };
    if (!this.reported.has(seq)) {
      this.reported.add(seq);
      this.onQuarantined?.();
      this.logger.error(
        { seq, reason: decoded.reason },
        `stored message is not an event: served as ${QUARANTINED_EVENT_TYPE}, reads and deliveries go on`,
      );
    }
    return quarantinedRecord(seq, decoded.reason);
  }
}
