import http, { type Server } from 'node:http';
import net from 'node:net';
import { listen, loadConfig, silentLogger } from '@blog/common';
import express from 'express';
import { z } from 'zod';
import { createClientServerApp, type ApiBackends } from '../server/app';
import { DEFAULT_ROUTER_LIMITS, routerLimitsConfigSchema, serverTimeouts, type RouterLimits } from '../server/limits';

const servers: Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

/** Backends that hold every stream open and answer every other request at once. */
async function backends(): Promise<ApiBackends> {
  const app = express();
  app.get('/posts/stream', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': open\n\n');
  });
  app.use((req, res) => void res.status(req.method === 'POST' ? 201 : 200).json({ ok: true }));
  const { server, port } = await listen(app, 0, '127.0.0.1');
  servers.push(server);
  const url = `http://127.0.0.1:${port}`;
  return { posts: url, comments: url, query: url };
}

async function router(limits: Partial<RouterLimits> = {}): Promise<number> {
  const all = { ...DEFAULT_ROUTER_LIMITS, ...limits };
  const app = createClientServerApp({
    backends: await backends(),
    client: (_req, res) => void res.status(404).end(),
    logger: silentLogger(),
    limits: all,
  });
  const { server, port } = await listen(app, 0, '127.0.0.1', serverTimeouts(all));
  servers.push(server);
  return port;
}

/** Opens the live stream; resolves with its status and body once the headers are in (the stream stays open). */
function openStream(port: number): Promise<{ status: number; body: Promise<string>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/posts/stream', agent: false }, (res) => {
      const body = new Promise<string>((done) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => done(text));
        res.on('close', () => done(text));
      });
      resolve({ status: res.statusCode ?? 0, body, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

async function post(
  port: number,
  path: string,
): Promise<{ status: number; retryAfter: string | undefined; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"title":"t"}',
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined, body: await res.json() };
}

describe("the router's per-client limits", () => {
  it('refuses an 11th open stream from one client with 429 JSON, and takes a new one once another is closed', async () => {
    const port = await router();
    const streams = [];
    for (let n = 0; n < DEFAULT_ROUTER_LIMITS.streamsPerClient; n++) streams.push(await openStream(port));
    expect(streams.map(({ status }) => status)).toEqual(Array(10).fill(200));

    const refused = await openStream(port);
    expect(refused.status).toBe(429);
    expect(JSON.parse(await refused.body)).toEqual({
      error: 'too many open streams from this address: at most 10; close one first',
      code: 'rate_limited',
    });

    streams[0]?.close();
    let again = await openStream(port);
    // The router counts the stream closed when its side of the connection closes: ask until it has.
    while (again.status === 429) {
      await again.body;
      again = await openStream(port);
    }
    expect(again.status).toBe(200);
    for (const stream of [...streams, again]) stream.close();
  });

  it('refuses creates past the burst with 429 JSON and Retry-After; reads are not counted', async () => {
    // 10 creates in a window of 10 s.
    const port = await router({ createsPerSecond: 1, createBurst: 10 });
    for (let n = 0; n < 10; n++)
      expect((await post(port, n % 2 === 0 ? '/posts/create' : '/posts/p1/comments')).status).toBe(201);
    for (let n = 0; n < 5; n++) expect((await fetch(`http://127.0.0.1:${port}/posts`)).status).toBe(200);

    const refused = await post(port, '/posts/create');
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect(refused.body).toEqual({
      error: expect.stringMatching(/^too many creates from this address: at most 10 in 10 s/),
      code: 'rate_limited',
    });
  });

  it('closes a connection that drips its headers, once the headers timeout is over', async () => {
    const port = await router({ headersTimeoutMs: 1_000, requestTimeoutMs: 5_000 });
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET /posts HTTP/1.1\r\nHost: posts.com\r\n');
    const drip = setInterval(() => socket.write('X-Drip: 1\r\n'), 100);
    try {
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    } finally {
      clearInterval(drip);
    }
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection that sends nothing, so idle sockets are not held', async () => {
    const port = await router({ headersTimeoutMs: 1_000, requestTimeoutMs: 5_000 });
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    expect(received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('reads its limits from the environment, naming a wrong variable', () => {
    const schema = z.object(routerLimitsConfigSchema);
    expect(loadConfig(schema, {})).toEqual({
      ROUTER_STREAMS_PER_CLIENT: 10,
      ROUTER_CREATES_PER_SECOND: 10,
      ROUTER_CREATE_BURST: 50,
      ROUTER_HEADERS_TIMEOUT_MS: 10_000,
      ROUTER_REQUEST_TIMEOUT_MS: 30_000,
    });
    expect(() => loadConfig(schema, { ROUTER_STREAMS_PER_CLIENT: '0' })).toThrow(
      /ROUTER_STREAMS_PER_CLIENT="0": must be a whole number from 1 to 1000000/,
    );
    expect(() => loadConfig(schema, { ROUTER_HEADERS_TIMEOUT_MS: 'soon' })).toThrow(/ROUTER_HEADERS_TIMEOUT_MS="soon"/);
  });
});
