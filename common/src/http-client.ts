import { Agent, request } from 'undici';

/**
 * Outgoing HTTP between services: undici over keep-alive connections, one pool per origin shared by the
 * whole process. A connection is reused for request after request instead of a TCP handshake each time,
 * and undici's request API skips the WHATWG stream machinery that fetch pays for on every call.
 */
const agent = new Agent({ keepAliveTimeout: 10_000, connections: 64 });

export interface HttpReply {
  status: number;
  text: string;
}

export interface HttpCall {
  method?: 'GET' | 'POST';
  /** A JSON text, sent as application/json. */
  json?: string;
  /** How long the whole exchange may take. */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Sends one request and reads the whole answer; rejects on a network error, a timeout or an abort. */
export async function sendHttp(url: string, { method = 'GET', json, timeoutMs, signal }: HttpCall): Promise<HttpReply> {
  const { statusCode, body } = await request(url, {
    method,
    dispatcher: agent,
    headers: json === undefined ? undefined : { 'content-type': 'application/json' },
    body: json,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal,
  });
  return { status: statusCode, text: await body.text() };
}

// A connect timeout keeps its own code: it means the request was never sent.
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** A short reason for a failed request: "timed out", "aborted", or the network error code such as ECONNREFUSED. */
export function describeRequestError(err: unknown): string {
  // An AbortSignal timeout rejects with a DOMException, which is not an Error instance in Node 20.
  const { name, message, code, cause } = (err ?? {}) as { name?: unknown; message?: unknown; code?: unknown; cause?: { code?: unknown } };
  if (name === 'TimeoutError' || (typeof code === 'string' && TIMEOUT_CODES.has(code))) return 'timed out';
  if (name === 'AbortError') return 'aborted';
  if (typeof code === 'string') return code;
  if (typeof cause?.code === 'string') return cause.code;
  return typeof message === 'string' ? message : String(err);
}
