/** A raw HTTP sender (node:http, keep-alive) that sends what fetch refuses to: TRACE, odd bodies with any content type. */
import http from 'node:http';
import type { FuzzRequest } from './requests';

export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
}

/**
 * Sends one request to 127.0.0.1:port as is. Rejects when no answer came (network error, timeout).
 * A request that failed on a reused keep-alive connection (the server had closed it, e.g. after answering
 * an oversized body early) is sent once more on a new connection, as Node's documentation recommends.
 */
export async function sendRaw(
  port: number,
  request: FuzzRequest,
  agent: http.Agent,
  timeoutMs = 5_000,
): Promise<RawAnswer> {
  try {
    return await sendOnce(port, request, agent, timeoutMs);
  } catch (err) {
    if ((err as { reusedSocket?: boolean }).reusedSocket !== true) throw err;
    return sendOnce(port, request, false, timeoutMs);
  }
}

function sendOnce(
  port: number,
  request: FuzzRequest,
  agent: http.Agent | false,
  timeoutMs: number,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: request.method,
        path: request.path,
        headers: request.headers,
        agent,
        timeout: timeoutMs,
      },
      (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    // A server may answer (413) and close before a large body is fully written: the answer counts.
    req.on('error', (err) => {
      if (!answered) reject(Object.assign(err, { reusedSocket: req.reusedSocket }));
    });
    req.end(request.body);
  });
}
