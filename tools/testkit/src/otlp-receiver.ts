import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeOtlpProtobuf } from './otlp-protobuf';
import { waitFor } from './wait';

/** One span as an OTLP/HTTP exporter sent it, with the service.name of its resource. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  links: { traceId: string; spanId: string }[];
}

export const SPAN_KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 } as const;

/**
 * A receiver of OTLP/HTTP traces, in the JSON (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`) or the protobuf
 * encoding (`http/protobuf`, the SDK's default), on the loopback: `POST /v1/traces` with an
 * ExportTraceServiceRequest; it keeps every span it was sent.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Requests it could not read (not JSON, not an export request). */
  readonly refused: string[] = [];
  /** The encodings of the requests it read. */
  readonly encodings = new Set<'json' | 'protobuf'>();

  private readonly server: Server = createServer((req, res) => {
    readBody(req).then(
      (body) => {
        const problem = this.take(req, body);
        res.writeHead(problem === undefined ? 200 : 400, { 'content-type': 'application/json' });
        res.end(problem === undefined ? '{}' : JSON.stringify({ message: problem }));
      },
      // The sender went away mid-request: nothing to answer, nothing kept.
      () => res.destroy(),
    );
  });

  private constructor() {}

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  /** The OTLP base URL to give OTEL_EXPORTER_OTLP_ENDPOINT. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Waits until the spans received satisfy `done`. */
  async waitForSpans(done: (spans: readonly ReceivedSpan[]) => boolean, timeoutMs = 15_000): Promise<void> {
    await waitFor(() => done(this.spans), { timeoutMs, what: 'the spans expected' });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private take(req: IncomingMessage, body: Buffer): string | undefined {
    const type = req.headers['content-type'] ?? '';
    const problem =
      req.method !== 'POST' || req.url !== '/v1/traces'
        ? `${req.method} ${req.url}: only POST /v1/traces is taken`
        : type.startsWith('application/json')
          ? this.read(() => JSON.parse(body.toString('utf8')) as ExportRequest, 'json')
          : type.startsWith('application/x-protobuf')
            ? this.read(() => decodeOtlpProtobuf(body) as ExportRequest, 'protobuf')
            : `content-type ${type}: only OTLP/JSON and OTLP/protobuf are read`;
    if (problem !== undefined) this.refused.push(problem);
    return problem;
  }

  private read(decode: () => ExportRequest, encoding: 'json' | 'protobuf'): string | undefined {
    let request: ExportRequest;
    try {
      request = decode();
    } catch {
      return `not OTLP/${encoding}`;
    }
    this.encodings.add(encoding);
    for (const resourceSpans of request.resourceSpans ?? []) {
      const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name'] ?? '');
      for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
        for (const span of scopeSpans.spans ?? []) {
          this.spans.push({
            service,
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            kind: span.kind ?? 0,
            attributes: attributesOf(span.attributes),
            links: (span.links ?? []).map(({ traceId, spanId }) => ({ traceId, spanId })),
          });
        }
      }
    }
    return undefined;
  }
}

/** The parts of OTLP's JSON ExportTraceServiceRequest read here. */
interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind?: number;
        attributes?: KeyValue[];
        links?: { traceId: string; spanId: string }[];
      }[];
    }[];
  }[];
}

interface KeyValue {
  key: string;
  value?: { stringValue?: string; intValue?: number | string; doubleValue?: number; boolValue?: boolean };
}

function attributesOf(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const attributes: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    const scalar = value?.stringValue ?? value?.intValue ?? value?.doubleValue ?? value?.boolValue;
    if (scalar !== undefined)
      attributes[key] = typeof scalar === 'string' && value?.intValue !== undefined ? Number(scalar) : scalar;
  }
  return attributes;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
