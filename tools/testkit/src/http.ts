/** The one HTTP helper of the tests, the bench and the tools: a request and its whole answer, over fetch. */

export interface HttpAnswer {
  status: number;
  headers: Headers;
  /** The raw body. */
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface HttpRequest {
  method?: string;
  /** Sent as JSON (content-type application/json) unless it is a string, which is sent as is. */
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** One HTTP request; never throws for an HTTP status, only when no answer came. */
export async function http(
  url: string,
  { method, body, headers = {}, timeoutMs = 5_000 }: HttpRequest = {},
): Promise<HttpAnswer> {
  const init: RequestInit = {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    signal: AbortSignal.timeout(timeoutMs),
  };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json', ...headers };
  } else {
    init.headers = headers;
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}
