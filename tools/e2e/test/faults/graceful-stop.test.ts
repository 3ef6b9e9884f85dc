/**
 * A graceful stop that strands no publisher (issue 24): a subscriber that publishes in reaction to a
 * delivery, from inside its handler (as the course's moderation does, with no retry), while the bus is
 * stopping. The bus keeps taking events until its deliveries in flight have finished, then closes: the
 * reaction is stored, and the next bus serves it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freePorts, http, waitFor } from '@blog/testkit';

const ROOT = path.join(__dirname, '..', '..', '..', '..');
let dir: string;
let subscriber: Server | undefined;
const buses: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'blog-graceful-stop-'));
});

afterEach(async () => {
  for (const bus of buses.splice(0)) bus.kill('SIGKILL');
  await new Promise((resolve) => (subscriber ? subscriber.close(resolve) : resolve(undefined)));
  rmSync(dir, { recursive: true, force: true });
});

function bodyOf(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

function startBus(port: number, subscriberUrl: string): { output: () => string; exited: Promise<number | null> } {
  const bus = spawn(process.execPath, [path.join(ROOT, 'event-bus', 'dist', 'index.js')], {
    env: { PATH: process.env.PATH ?? '', PORT: String(port), EVENT_LOG_DIR: dir, EVENT_SUBSCRIBERS: subscriberUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  buses.push(bus);
  let output = '';
  bus.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  bus.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { output: () => output, exited: new Promise((resolve) => bus.once('exit', resolve)) };
}

test('a subscriber publishing from inside a delivery while the bus stops gets its 201, and the reaction is kept', async () => {
  const [busPort, subscriberPort] = (await freePorts(2)) as [number, number];
  const busUrl = `http://127.0.0.1:${busPort}`;
  let reaction: number | string | undefined;

  // Like a course service: `POST /events` only (the bus then sends one event at a time).
  const deliver = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/events') {
      res.statusCode = 404;
      res.end();
      return;
    }
    const event = JSON.parse(await bodyOf(req)) as { type?: string };
    if (event.type === 'Trigger') {
      // The bus is told to stop while this delivery is in flight; the reaction goes out once it is stopping.
      process.kill(buses[0]?.pid as number, 'SIGTERM');
      await waitFor(() => bus.output().includes('shutting down'), { what: 'the bus to begin its stop' });
      // A connection of its own, as a course service's axios makes: never one the bus had open.
      reaction = await fetch(`${busUrl}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ type: 'Reaction', data: {} }),
      }).then(
        (answer) => answer.status,
        (err: Error) => `${err.message} (${String((err.cause as Error | undefined)?.message)})`,
      );
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'OK' }));
  };
  const server = createServer((req, res) => {
    deliver(req, res).catch((err: unknown) => {
      // A failure of the subscriber's own (say, a bus that never began its stop) fails the check on the reaction.
      reaction = `the subscriber failed: ${String(err)}`;
      res.statusCode = 500;
      res.end();
    });
  });
  subscriber = await new Promise<Server>((resolve) =>
    server.listen(subscriberPort, '127.0.0.1', () => resolve(server)),
  );

  const bus = startBus(busPort, `http://127.0.0.1:${subscriberPort}`);
  await waitFor(async () => (await http(`${busUrl}/readyz`).catch(() => ({ status: 0 }))).status === 200, {
    what: 'the bus to be ready',
  });
  expect((await http(`${busUrl}/events`, { body: { type: 'Trigger', data: {} } })).status).toBe(201);
  expect(await bus.exited).toBe(0);
  expect(reaction).toBe(201);

  startBus(busPort, 'none');
  await waitFor(async () => (await http(`${busUrl}/readyz`).catch(() => ({ status: 0 }))).status === 200, {
    what: 'the next bus to be ready',
  });
  const history = (await http(`${busUrl}/events`)).json as { type: string }[];
  expect(history.map(({ type }) => type)).toEqual(['Trigger', 'Reaction']);
});
