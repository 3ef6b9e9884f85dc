/**
 * Real NGINX, configured from the manifests the way ingress-nginx (infra/k8s) and NGINX Gateway Fabric
 * (the dev overlay, infra/overlays/dev) configure it (tools/deploy-checks/src/nginx-model.ts), in front of stand-in backends that say who
 * they are: the route table, case-insensitive paths, the unbuffered stream, and the per-address limits,
 * as NGINX itself applies them. `npm run test:nginx`; NGINX is found by tools/scripts/nginx.sh (NGINX).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import type { PublicBackend } from '@blog/common';
import { freePorts, waitFor } from '@blog/testkit';
import { renderKustomization } from '../../src/kustomize';
import { loadManifests, type Manifest } from '../../src/manifests';
import {
  gatewayNginxServer,
  ingressNginxServer,
  nginxConf,
  type ServerConfig,
  type Upstreams,
} from '../../src/nginx-model';
import { ROUTED, STREAM_URLS } from './requests';

const NGINX = process.env.NGINX ?? 'nginx';
const HOST = 'posts.com';
const BACKENDS: PublicBackend[] = ['posts', 'comments', 'query', 'client'];

interface Answer {
  status: number;
  body: string;
}

/** A request to 127.0.0.1:`port` for posts.com, sent from `from` (any 127.x address: each is a client of its own to NGINX). */
function request(port: number, url: string, from: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: '127.0.0.1', port, path: url, localAddress: from, headers: { host: HOST }, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
  });
}

/** A stream opened from `from`: its status, and the first chunk of its body once it arrives (the response stays open). */
function openStream(
  port: number,
  url: string,
  from: string,
): Promise<{ status: number; first: Promise<string>; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host: '127.0.0.1',
        port,
        path: url,
        localAddress: from,
        headers: { host: HOST, accept: 'text/event-stream' },
        agent: false,
      },
      (res) => {
        res.setEncoding('utf8');
        const first = new Promise<string>((done) => res.once('data', (chunk: string) => done(chunk)));
        resolve({ status: res.statusCode ?? 0, first, close: () => req.destroy() });
      },
    );
    req.on('error', reject);
  });
}

/** Stand-ins for the public services: each answers with its name; query holds `/posts/stream` open after one event, with no header asking NGINX not to buffer. */
async function startBackends(): Promise<{ upstreams: Upstreams; close: () => Promise<void> }> {
  const ports = await freePorts(BACKENDS.length);
  const sockets = new Set<Socket>();
  const servers: Server[] = [];
  const upstreams = {} as Upstreams;
  for (const [index, backend] of BACKENDS.entries()) {
    const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
      if (backend === 'query' && /^\/posts\/stream/i.test(req.url ?? '')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ backend, path: req.url }));
    });
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    const port = ports[index] as number;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    servers.push(server);
    upstreams[backend] = port;
  }
  return {
    upstreams,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}

interface RunningNginx {
  port: number;
  dir: string;
  stop: () => Promise<void>;
}

/** NGINX serving `server` in the foreground from a temp folder; `nginx -t` runs first and must accept the configuration. */
async function startNginx(server: ServerConfig): Promise<RunningNginx> {
  const [port] = await freePorts(1);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'blog-nginx-'));
  for (const kind of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, `${kind}-temp`));
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(server, { port: port as number, dir, asRoot: process.getuid?.() === 0 }));
  const args = ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', conf];
  execFileSync(NGINX, [...args, '-t'], { stdio: 'pipe' });
  const child: ChildProcess = spawn(NGINX, [...args, '-g', 'daemon off;'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      () =>
        request(port as number, '/', '127.0.0.1').then(
          () => true,
          () => false,
        ),
      { what: `nginx listening on ${port}`, timeoutMs: 10_000 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { port: port as number, dir, stop };
}

const variants: [
  string,
  () => Manifest[],
  (manifests: readonly Manifest[], host: string, upstreams: Upstreams) => ServerConfig,
  number,
][] = [
  ['ingress-nginx (infra/k8s)', () => loadManifests().manifests, ingressNginxServer, 503],
  [
    'NGINX Gateway Fabric (the dev overlay, infra/overlays/dev)',
    () => renderKustomization('infra/overlays/dev').manifests,
    gatewayNginxServer,
    429,
  ],
];

describe.each(variants)('real NGINX configured as %s', (_name, load, configure, refusal) => {
  let backends: Awaited<ReturnType<typeof startBackends>> | undefined;
  let nginx: RunningNginx | undefined;
  const streams: { close: () => void }[] = [];

  beforeAll(async () => {
    backends = await startBackends();
    nginx = await startNginx(configure(load(), HOST, backends.upstreams));
  });

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await nginx?.stop();
    await backends?.close();
  });

  const port = () => nginx?.port as number;

  it('routes every request URL where the route table says, the path passed on unchanged', async () => {
    // The stream's URLs answer with a stream that stays open: the next test reads them.
    for (const [url, backend] of ROUTED.filter(([url]) => !STREAM_URLS.includes(url))) {
      const answer = await request(port(), url, '127.0.0.2');
      expect([url, answer.status, JSON.parse(answer.body)]).toEqual([url, 200, { backend, path: url }]);
    }
  });

  it.each(STREAM_URLS)('passes the first event of %s on while the stream stays open', async (url) => {
    const stream = await openStream(port(), url, '127.0.0.3');
    streams.push(stream);
    expect(stream.status).toBe(200);
    expect(await stream.first).toBe('data: first\n\n');
    stream.close();
  });

  it(`refuses a client over its request rate with ${refusal} once the burst is spent, and serves another address`, async () => {
    const answers: number[] = [];
    for (let batch = 0; batch < 12; batch++) {
      const statuses = await Promise.all(
        Array.from({ length: 10 }, () => request(port(), '/posts', '127.0.0.4').then((answer) => answer.status)),
      );
      answers.push(...statuses);
    }
    const served = answers.filter((status) => status === 200).length;
    expect(answers.filter((status) => status !== 200 && status !== refusal)).toEqual([]);
    expect(served).toBeGreaterThanOrEqual(50);
    expect(served).toBeLessThan(answers.length);
    expect((await request(port(), '/posts', '127.0.0.5')).status).toBe(200);
  });

  it(`holds at most 10 streams per address open, refusing the next with ${refusal}, and serves another address`, async () => {
    const open = await Promise.all(Array.from({ length: 10 }, () => openStream(port(), '/posts/stream', '127.0.0.6')));
    streams.push(...open);
    expect(open.map((stream) => stream.status)).toEqual(Array.from({ length: 10 }, () => 200));
    await Promise.all(open.map((stream) => stream.first));
    const refused = await request(port(), '/posts/stream', '127.0.0.6');
    expect(refused.status).toBe(refusal);
    const other = await openStream(port(), '/posts/stream', '127.0.0.7');
    streams.push(other);
    expect(other.status).toBe(200);
  });
});
