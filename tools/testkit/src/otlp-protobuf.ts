/**
 * Reads an OTLP/HTTP protobuf export request (`OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`) into the shape
 * of its JSON encoding, ids in hex as OTLP/JSON writes them. Only the messages and fields the receiver
 * reads are declared, with their numbers from opentelemetry-proto (collector/trace/v1, trace/v1,
 * common/v1, resource/v1); protobuf skips the others.
 */
import protobuf from 'protobufjs';

const OTLP_TRACES = {
  nested: {
    ExportTraceServiceRequest: { fields: { resourceSpans: { rule: 'repeated', type: 'ResourceSpans', id: 1 } } },
    ResourceSpans: {
      fields: { resource: { type: 'Resource', id: 1 }, scopeSpans: { rule: 'repeated', type: 'ScopeSpans', id: 2 } },
    },
    Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
    ScopeSpans: { fields: { spans: { rule: 'repeated', type: 'Span', id: 2 } } },
    Span: {
      fields: {
        traceId: { type: 'bytes', id: 1 },
        spanId: { type: 'bytes', id: 2 },
        parentSpanId: { type: 'bytes', id: 4 },
        name: { type: 'string', id: 5 },
        kind: { type: 'int32', id: 6 },
        attributes: { rule: 'repeated', type: 'KeyValue', id: 9 },
        links: { rule: 'repeated', type: 'Link', id: 13 },
      },
    },
    Link: { fields: { traceId: { type: 'bytes', id: 1 }, spanId: { type: 'bytes', id: 2 } } },
    KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
    AnyValue: {
      fields: {
        stringValue: { type: 'string', id: 1 },
        boolValue: { type: 'bool', id: 2 },
        intValue: { type: 'int64', id: 3 },
        doubleValue: { type: 'double', id: 4 },
      },
    },
  },
};

const exportRequest = protobuf.Root.fromJSON(OTLP_TRACES).lookupType('ExportTraceServiceRequest');

const ID_FIELDS = new Set(['traceId', 'spanId', 'parentSpanId']);

/** The request as OTLP/JSON would have carried it; throws when the bytes are not protobuf. */
export function decodeOtlpProtobuf(body: Buffer): unknown {
  const decoded = exportRequest.toObject(exportRequest.decode(body), { longs: Number, bytes: String, arrays: true });
  // Ids come out in base64 (protobufjs's text for bytes); OTLP/JSON writes them in hex.
  return JSON.parse(JSON.stringify(decoded), (key, value: unknown) =>
    ID_FIELDS.has(key) && typeof value === 'string' ? Buffer.from(value, 'base64').toString('hex') : value,
  );
}
