/** JSON over HTTP/1.1 keep-alive connections (undici Pool, one request per connection at a time). */
import { Pool } from 'undici';

export interface JsonAnswer {
  status: number;
  /** The parsed body, or undefined when it was empty or not JSON. */
  body: unknown;
  /** The path its `Link: <…>; rel="next"` header names, if any (a page of a list). */
  nextPage?: string;
}

export interface JsonClientOptions {
  /** Most connections kept open to the origin (the load's concurrency). */
  connections?: number;
  /** Bound on waiting for the answer's headers, and then for each piece of its body. */
  timeoutMs?: number;
}

export class JsonClient {
  private readonly pool: Pool;

  constructor(
    readonly baseUrl: string,
    { connections = 4, timeoutMs = 10_000 }: JsonClientOptions = {},
  ) {
    this.pool = new Pool(baseUrl, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  }

  get(path: string, headers: Record<string, string> = {}): Promise<JsonAnswer> {
    return this.send('GET', path, undefined, headers);
  }

  post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonAnswer> {
    return this.send('POST', path, JSON.stringify(body), headers);
  }

  /** Like get, but also returns the raw text and when its last byte arrived (performance.now()). */
  async getText(path: string): Promise<{ status: number; text: string; receivedAt: number }> {
    const response = await this.pool.request({ method: 'GET', path });
    const text = await response.body.text();
    return { status: response.statusCode, text, receivedAt: performance.now() };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: string | undefined,
    headers: Record<string, string> = {},
  ): Promise<JsonAnswer> {
    const response = await this.pool.request({
      method,
      path,
      body,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    });
    const text = await response.body.text();
    const link = response.headers.link;
    const nextPage =
      typeof link === 'string' ? /<([^>]*)>\s*;\s*rel=(?:"next"|next)(?=\s*(?:[;,]|$))/.exec(link)?.[1] : undefined;
    return { status: response.statusCode, body: parseJson(text), ...(nextPage === undefined ? {} : { nextPage }) };
  }
}

export function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
