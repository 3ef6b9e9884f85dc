/**
 * The trust boundaries of issue 23, against the built processes: events that contradict the state are
 * ignored and counted by the whole stack; where the processes listen; the bus's subscriber list behind
 * the events token; the committed development token refused outside development.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '@blog/stack';
import { eventually, freePorts, http, startStack, type Stack } from '@blog/testkit';

interface Started {
  child: ChildProcess;
  /** Everything it wrote so far, stdout and stderr. */
  output: () => string;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(
    children.splice(0).map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }),
  );
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'security-edge-'));
  dirs.push(dir);
  return dir;
}

/** Starts a built service with exactly this environment (no HOST, BLOG_ENV or token unless given). */
function startBuilt(service: string, env: Record<string, string>): Started {
  const child = spawn(process.execPath, [path.join(ROOT, service, 'dist', 'index.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Resolves with the process's "listening" log line, or rejects with its output when it exits first. */
async function listening(started: Started): Promise<{ host: string; port: number }> {
  for (;;) {
    const line = started
      .output()
      .split('\n')
      .find((text) => text.includes('listening on'));
    if (line) return JSON.parse(line) as { host: string; port: number };
    if (started.child.exitCode !== null) throw new Error(`exited with ${started.child.exitCode}: ${started.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether a TCP connection to the address is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** This machine's addresses other than the loopback: where a process listening on all interfaces is reached. */
function otherAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined && !entry.internal && entry.family === 'IPv4')
    .map((entry) => (entry as os.NetworkInterfaceInfo).address);
}

const TOKEN = 'a-test-events-token-0123456789';

describe('where the processes listen', () => {
  it('a service started without HOST listens on 127.0.0.1 only', async () => {
    const [port] = (await freePorts(1)) as [number];
    const posts = startBuilt('posts', {
      PORT: String(port),
      STATE_DIR: tempDir(),
      EVENT_BUS_URL: 'http://127.0.0.1:9',
      SNAPSHOT_RESTORE: 'false',
    });
    expect(await listening(posts)).toMatchObject({ host: '127.0.0.1', port });
    expect((await http(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    for (const address of otherAddresses()) expect([address, await accepts(address, port)]).toEqual([address, false]);
    expect(await accepts('::1', port)).toBe(false);
  });

  it('HOST widens it, e.g. 0.0.0.0 in a container', async () => {
    const [port] = (await freePorts(1)) as [number];
    const posts = startBuilt('posts', {
      PORT: String(port),
      HOST: '0.0.0.0',
      STATE_DIR: tempDir(),
      EVENT_BUS_URL: 'http://127.0.0.1:9',
      SNAPSHOT_RESTORE: 'false',
    });
    expect(await listening(posts)).toMatchObject({ host: '0.0.0.0', port });
    for (const address of otherAddresses()) expect([address, await accepts(address, port)]).toEqual([address, true]);
  });

  it('a wrong HOST stops the process with a message naming it', async () => {
    const posts = startBuilt('posts', { PORT: '0', HOST: 'http://0.0.0.0', STATE_DIR: tempDir() });
    expect(await posts.exited).toBe(1);
    expect(posts.output()).toMatch(/HOST="http:\/\/0\.0\.0\.0": must be an IP address to listen on/);
  });
});

describe('the event bus', () => {
  it('answers GET /subscribers only with the events token (401 JSON without it); /metrics stays open', async () => {
    const [port] = (await freePorts(1)) as [number];
    const bus = startBuilt('event-bus', {
      PORT: String(port),
      EVENTS_TOKEN: TOKEN,
      EVENT_LOG_DIR: tempDir(),
      EVENT_SUBSCRIBERS: 'none',
    });
    await listening(bus);
    const url = `http://127.0.0.1:${port}`;
    const refused = await http(`${url}/subscribers`);
    expect(refused.status).toBe(401);
    expect(refused.json).toEqual({ error: expect.stringMatching(/Authorization: Bearer/), code: 'unauthorized' });
    expect((await http(`${url}/subscribers`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await http(`${url}/metrics`)).status).toBe(200);
  });

  it('refuses to start with the committed development token outside development, naming EVENTS_TOKEN and BLOG_ENV', async () => {
    const [port] = (await freePorts(1)) as [number];
    const bus = startBuilt('event-bus', {
      PORT: String(port),
      EVENTS_TOKEN: 'local-development-only',
      EVENT_LOG_DIR: tempDir(),
      EVENT_SUBSCRIBERS: 'none',
    });
    expect(await bus.exited).toBe(1);
    expect(bus.output()).toMatch(
      /EVENTS_TOKEN is a development credential committed in infra\/k8s, accepted only with BLOG_ENV=development/,
    );
    expect(bus.output()).not.toContain('listening on');
  });

  it('starts with the development token where BLOG_ENV=development says it is a development deploy', async () => {
    const [port] = (await freePorts(1)) as [number];
    const bus = startBuilt('event-bus', {
      PORT: String(port),
      EVENTS_TOKEN: 'local-development-only',
      BLOG_ENV: 'development',
      EVENT_LOG_DIR: tempDir(),
      EVENT_SUBSCRIBERS: 'none',
    });
    expect(await listening(bus)).toMatchObject({ port });
  });
});

describe('events that contradict the state, published to the bus of a running stack', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.stopAll();
    stack = undefined;
  });

  /** A counter line of a service's /metrics, 0 when it has not counted yet. */
  async function rejected(service: 'query' | 'comments', type: string, reason: string): Promise<number> {
    const { text } = await http(`${stack?.url(service)}/metrics`);
    const line = text
      .split('\n')
      .find((row) => row.startsWith(`events_rejected_total{type="${type}",reason="${reason}"`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  }

  it('query and comments ignore a CommentUpdated that moves a comment and a CommentCreated on an unknown post, and count them', async () => {
    stack = await startStack({
      logDir: path.join(tempDir(), 'logs'),
      services: ['event-bus', 'posts', 'comments', 'query', 'moderation'],
    });
    const publish = (event: unknown) =>
      http(`${stack?.url('event-bus')}/events`, { body: event, headers: stack?.eventHeaders() });
    const one = (await http(`${stack.url('posts')}/posts/create`, { body: { title: 'one' } })).json as { id: string };
    const two = (await http(`${stack.url('posts')}/posts/create`, { body: { title: 'two' } })).json as { id: string };
    await eventually(
      async () => expect((await http(`${stack?.url('comments')}/posts/${one.id}/comments`)).status).toBe(200),
      { timeoutMs: 15_000 },
    );
    const comment = (await http(`${stack.url('comments')}/posts/${one.id}/comments`, { body: { content: 'hello' } }))
      .json as { id: string };
    const viewOf = async () =>
      (await http(`${stack?.url('query')}/posts`)).json as Record<
        string,
        { comments: { id: string; content: string; status: string }[] }
      >;
    await eventually(
      async () =>
        expect((await viewOf())[one.id]?.comments).toEqual([{ id: comment.id, content: 'hello', status: 'approved' }]),
      { timeoutMs: 15_000 },
    );

    expect(
      (
        await publish({
          type: 'CommentUpdated',
          data: { id: comment.id, postId: two.id, content: 'moved', status: 'approved' },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await publish({
          type: 'CommentCreated',
          data: { id: 'ghost-comment', postId: 'ghost-post', content: 'public?', status: 'pending' },
        })
      ).status,
    ).toBe(201);

    await eventually(
      async () => {
        expect(await rejected('query', 'CommentUpdated', 'other-post')).toBe(1);
        expect(await rejected('comments', 'CommentUpdated', 'other-post')).toBe(1);
        expect(await rejected('query', 'CommentCreated', 'unknown-post')).toBe(1);
        expect(await rejected('comments', 'CommentCreated', 'unknown-post')).toBe(1);
      },
      { timeoutMs: 15_000 },
    );
    const view = await viewOf();
    expect(view[one.id]?.comments).toEqual([{ id: comment.id, content: 'hello', status: 'approved' }]);
    expect(view[two.id]?.comments).toEqual([]);
    expect((await http(`${stack.url('comments')}/posts/${one.id}/comments`)).json).toEqual([
      { id: comment.id, content: 'hello', status: 'approved' },
    ]);
    // The post query never shows takes no public comments.
    expect((await http(`${stack.url('comments')}/posts/ghost-post/comments`, { body: { content: 'hi' } })).status).toBe(
      404,
    );
  });
});
