import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http, { type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listen, silentLogger } from '@blog/common';
import express, { type Response } from 'express';
import request from 'supertest';
import { createClientServerApp, staticClient, type ApiBackends } from '../server/app';

/** A backend that answers every request with its own name, the method and the path it saw. */
async function echoBackend(name: string): Promise<{ url: string; server: Server }> {
  const app = express();
  app.use(express.json());
  app.use((req, res) => {
    res.json({ backend: name, method: req.method, url: req.originalUrl, body: req.body ?? null });
  });
  const { server, port } = await listen(app, 0, '127.0.0.1');
  return { url: `http://127.0.0.1:${port}`, server };
}

const dists: string[] = [];

function builtClient(): string {
  const dist = mkdtempSync(path.join(tmpdir(), 'client-dist-'));
  dists.push(dist);
  mkdirSync(path.join(dist, 'assets'));
  writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>Blog</title>');
  writeFileSync(path.join(dist, 'assets', 'app-1234.js'), 'console.log(1)');
  return dist;
}

const servers: Server[] = [];
let backends: ApiBackends;

beforeAll(async () => {
  const started = await Promise.all(['posts', 'comments', 'query'].map(echoBackend));
  servers.push(...started.map((s) => s.server));
  const [posts, comments, query] = started.map((s) => s.url) as [string, string, string];
  backends = { posts, comments, query };
});

afterAll(() => {
  for (const server of servers) server.close();
  for (const dist of dists) rmSync(dist, { recursive: true, force: true });
});

function gateway(withBackends = true) {
  return createClientServerApp({
    backends: withBackends ? backends : undefined,
    client: staticClient(builtClient()),
    logger: silentLogger(),
  });
}

describe('client server as the local ingress', () => {
  it.each([
    ['POST', '/posts/create', 'posts'],
    ['POST', '/posts/create?x=1', 'posts'],
    ['POST', '/POSTS/CREATE', 'posts'],
    ['POST', '/posts/abc/comments', 'comments'],
    ['GET', '/posts/abc/comments', 'comments'],
    ['GET', '/posts/abc/comments/x', 'comments'],
    ['GET', '/posts', 'query'],
    ['GET', '/posts/stream', 'query'],
    ['GET', '/posts/', 'query'],
    ['POST', '/posts', 'query'],
  ])('%s %s goes to %s, path and query unchanged', async (method, url, backend) => {
    const res = await request(gateway())[method === 'GET' ? 'get' : 'post'](url).expect(200);
    expect(res.body).toMatchObject({ backend, method, url });
  });

  it('passes the JSON body through', async () => {
    const res = await request(gateway()).post('/posts/create').send({ title: 'Hi' }).expect(200);
    expect(res.body.body).toEqual({ title: 'Hi' });
  });

  it('serves the client for every other path, and never a service /events', async () => {
    for (const url of ['/', '/events', '/some/page']) {
      const res = await request(gateway()).get(url).set('accept', 'text/html').expect(200);
      expect(res.text).toContain('<title>Blog</title>');
      expect(res.headers['cache-control']).toBe('no-cache');
    }
    await request(gateway()).post('/events').send({}).expect(404);
  });

  it('passes a CORS preflight (OPTIONS without a body) on to the service, as the Ingress does', async () => {
    const res = await request(gateway())
      .options('/posts/create')
      .set('origin', 'http://posts.com')
      .set('access-control-request-method', 'POST')
      .set('access-control-request-headers', 'content-type')
      .expect(200);
    expect(res.body).toMatchObject({ backend: 'posts', method: 'OPTIONS', url: '/posts/create' });
    const comments = await request(gateway())
      .options('/posts/p1/comments')
      .set('origin', 'http://posts.com')
      .expect(200);
    expect(comments.body).toMatchObject({ backend: 'comments', method: 'OPTIONS' });
  });

  it('answers an OPTIONS with a chunked body itself (400 JSON), and passes nothing on', async () => {
    const { server, port } = await listen(gateway(), 0, '127.0.0.1');
    try {
      const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        // Node frames a body of an OPTIONS request only when asked to.
        const req = http.request(
          {
            host: '127.0.0.1',
            port,
            method: 'OPTIONS',
            path: '/posts/create',
            headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
          },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          },
        );
        req.on('error', reject);
        req.end('{"title":"smuggled"}');
      });
      expect(answer).toEqual({
        status: 400,
        text: JSON.stringify({ error: 'OPTIONS /posts/create with a body is not accepted', code: 'invalid_request' }),
      });
    } finally {
      server.close();
    }
  });

  it.each(['DELETE', 'PUT', 'PATCH'])(
    'answers %s on an API path itself (404 JSON), even with a chunked body, and passes nothing on',
    async (method) => {
      const { server, port } = await listen(gateway(), 0, '127.0.0.1');
      try {
        const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
          const req = http.request(
            { host: '127.0.0.1', port, method, path: '/posts', headers: { 'content-type': 'application/json' } },
            (res) => {
              let text = '';
              res.on('data', (chunk: Buffer) => (text += chunk.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
            },
          );
          req.on('error', reject);
          // No Content-Length: Node sends the body chunked.
          req.end('[{"content":"hi"}]');
        });
        expect(answer).toEqual({
          status: 404,
          text: JSON.stringify({ error: `no route for ${method} /posts`, code: 'not_found' }),
        });
      } finally {
        server.close();
      }
    },
  );

  it('serves the page with a policy that runs only its own scripts and styles', async () => {
    const res = await request(gateway()).get('/').set('accept', 'text/html').expect(200);
    const policy = res.headers['content-security-policy'] ?? '';
    expect(policy).toContain("script-src 'self'");
    expect(policy).toContain("style-src 'self'");
    expect(policy).toContain("object-src 'none'");
    // posts.com runs on plain HTTP in a dev cluster: the page must not be sent to https.
    expect(policy).not.toContain('upgrade-insecure-requests');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('serves hashed assets as immutable', async () => {
    const res = await request(gateway()).get('/assets/app-1234.js').expect(200);
    expect(res.headers['cache-control']).toContain('immutable');
  });

  it('spreads requests over the replicas of a service, in turn', async () => {
    const replicas = await Promise.all(['query-1', 'query-2'].map(echoBackend));
    servers.push(...replicas.map((replica) => replica.server));
    const app = createClientServerApp({
      backends: { ...backends, query: replicas.map((replica) => replica.url) },
      client: staticClient(builtClient()),
      logger: silentLogger(),
    });
    const answered: string[] = [];
    for (let i = 0; i < 4; i++) answered.push((await request(app).get('/posts').expect(200)).body.backend as string);
    expect(answered).toEqual(['query-1', 'query-2', 'query-1', 'query-2']);
  });

  it('answers 502 JSON unavailable when a service is down: nothing reached it', async () => {
    const app = createClientServerApp({
      backends: { ...backends, comments: 'http://127.0.0.1:9' },
      client: staticClient(builtClient()),
      logger: silentLogger(),
    });
    const res = await request(app).post('/posts/x/comments').send({ content: 'hi' }).expect(502);
    expect(res.body).toEqual({ error: 'the comments service is unavailable', code: 'unavailable' });
  });

  it('answers 502 JSON outcome_unknown to a create the service dropped mid-request, and unavailable to a read', async () => {
    // Takes each request and closes its connection without an answer, as a service killed mid-request.
    const dropping = http.createServer((req) => req.socket.destroy());
    servers.push(dropping);
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(dropping.address() as { port: number }).port}`;
    const app = createClientServerApp({
      backends: { ...backends, posts: url, query: url },
      client: staticClient(builtClient()),
      logger: silentLogger(),
    });
    const create = await request(app).post('/posts/create').send({ title: 'made?' }).expect(502);
    expect(create.body).toEqual({
      error: 'the posts service did not answer; the change may or may not have been made',
      code: 'outcome_unknown',
    });
    const read = await request(app).get('/posts').expect(502);
    expect(read.body).toEqual({ error: 'the query service is unavailable', code: 'unavailable' });
  });

  it('answers 503 JSON unavailable for the page when the client is not built', async () => {
    const app = createClientServerApp({
      client: staticClient(path.join(tmpdir(), 'no-such-client-build')),
      logger: silentLogger(),
    });
    const res = await request(app).get('/').set('accept', 'text/html').expect(503);
    expect(res.body).toEqual({ error: 'the client is not built yet: run npm run build', code: 'unavailable' });
  });

  it('only serves the client when no backends are configured (behind the real ingress)', async () => {
    const res = await request(gateway(false)).get('/posts').set('accept', 'text/html').expect(200);
    expect(res.text).toContain('<title>Blog</title>');
  });

  it('answers its own health checks', async () => {
    await request(gateway()).get('/healthz').expect(200, { status: 'ok' });
    await request(gateway()).get('/readyz').expect(200, { status: 'ready' });
  });

  it('says so when the client has not been built', async () => {
    const app = createClientServerApp({
      client: staticClient(path.join(tmpdir(), 'no-such-dist')),
      logger: silentLogger(),
    });
    const res = await request(app).get('/').set('accept', 'text/html').expect(503);
    expect(res.body.error).toMatch(/npm run build/);
  });
});

/** A query stand-in whose `GET /posts/stream` sends a message and then waits for the test to send more. */
async function streamingBackend() {
  const open: Response[] = [];
  const lastEventIds: (string | undefined)[] = [];
  const app = express();
  app.get('/posts/stream', (req, res) => {
    lastEventIds.push(req.get('last-event-id'));
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    res.write('id: 7\nevent: snapshot\ndata: {}\n\n');
    open.push(res);
  });
  const { server, port } = await listen(app, 0, '127.0.0.1');
  servers.push(server);
  return { url: `http://127.0.0.1:${port}`, open, lastEventIds };
}

describe('client server and the live stream', () => {
  it('passes each message of GET /posts/stream on as it is sent, before the response ends', async () => {
    const query = await streamingBackend();
    const app = createClientServerApp({
      backends: { ...backends, query: query.url },
      client: staticClient(builtClient()),
      logger: silentLogger(),
    });
    const { server, port } = await listen(app, 0, '127.0.0.1');
    servers.push(server);
    const controller = new AbortController();
    try {
      const response = await fetch(`http://127.0.0.1:${port}/posts/stream`, {
        headers: { accept: 'text/event-stream', 'last-event-id': '5' },
        signal: controller.signal,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
      expect(response.headers.get('x-accel-buffering')).toBe('no');
      expect(response.headers.get('content-encoding')).toBeNull();
      expect(query.lastEventIds).toEqual(['5']);

      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      /** Reads until `text` has arrived; the backend's response is still open meanwhile. */
      const readUntil = async (text: string): Promise<string> => {
        let received = '';
        while (!received.includes(text)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`the stream ended before ${JSON.stringify(text)} arrived`);
          received += decoder.decode(value, { stream: true });
        }
        return received;
      };
      expect(await readUntil('event: snapshot')).toContain('id: 7');
      const [backendResponse] = query.open;
      expect(backendResponse?.writableEnded).toBe(false);
      backendResponse?.write('id: 8\nevent: PostCreated\ndata: {"id":"p","title":"T"}\n\n');
      expect(await readUntil('event: PostCreated')).toContain('id: 8');
      expect(backendResponse?.writableEnded).toBe(false);
      backendResponse?.end();
    } finally {
      controller.abort();
      server.closeAllConnections();
    }
  });
});
