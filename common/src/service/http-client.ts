import http from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Outgoing HTTP between services: Node's own client over keep-alive connections, shared by the whole
 * process, so a connection is reused request after request instead of a TCP handshake each time. Node's
 * client is already loaded for the server, so no second HTTP library is (docs/performance.md).
 */
const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 10_000, maxSockets: 64, scheduling: 'lifo' });

export interface HttpReply {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

export interface HttpCall {
  method?: 'GET' | 'POST' | 'DELETE';
  /** A JSON text, sent as application/json. */
  json?: string;
  headers?: Record<string, string>;
  /** How long the exchange may go without progress before it fails with "timed out". */
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Sends one request and reads the whole answer; rejects on a network error, a timeout or an abort. */
export function sendHttp(
  url: string,
  { method = 'GET', json, headers: extra = {}, timeoutMs, signal }: HttpCall,
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const headers =
      json === undefined
        ? extra
        : { ...extra, 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) };
    const req = http.request(url, { method, agent, headers, signal }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new RequestTimeoutError(timeoutMs)));
    req.on('error', reject);
    req.end(json);
  });
}

/**
 * Sends one request whose body (if any) is streamed from `body`, and resolves with the answer as a
 * stream, for bodies too large to hold (a snapshot of a service's state). The caller reads or discards it.
 */
export function streamHttp(
  url: string,
  {
    method,
    headers = {},
    body,
    timeoutMs,
  }: { method: 'GET' | 'PUT'; headers?: Record<string, string>; body?: Readable; timeoutMs: number },
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers }, resolve);
    req.setTimeout(timeoutMs, () => req.destroy(new RequestTimeoutError(timeoutMs)));
    req.on('error', reject);
    if (body) pipeline(body, req).catch(reject);
    else req.end();
  });
}

class RequestTimeoutError extends Error {
  override name = 'TimeoutError';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** A short reason for a failed request: "timed out", "aborted", or the network error code such as ECONNREFUSED. */
export function describeRequestError(err: unknown): string {
  const { name, message, code, cause } = (err ?? {}) as {
    name?: unknown;
    message?: unknown;
    code?: unknown;
    cause?: { code?: unknown };
  };
  // An AbortSignal timeout rejects with a DOMException, which is not an Error instance in Node 20.
  if (name === 'TimeoutError') return 'timed out';
  if (name === 'AbortError') return 'aborted';
  if (typeof code === 'string') return code;
  if (typeof cause?.code === 'string') return cause.code;
  return typeof message === 'string' ? message : String(err);
}

/** Transport errors that mean the request never reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Whether a failed request surely never reached the server (so it changed nothing there). */
export function neverSent(err: unknown): boolean {
  return NOT_SENT.has(describeRequestError(err));
}

/** Gives the URLs in turn, one per call: requests spread over the replicas of a service. */
export function inTurn(urls: string | readonly string[]): () => string {
  const list = typeof urls === 'string' ? [urls] : urls;
  let next = 0;
  return () => list[next++ % list.length] as string;
}
