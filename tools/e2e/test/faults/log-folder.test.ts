/**
 * An operator's slip (issue 24): a second event bus started on the folder of a running one's log. Both used
 * to become ready and overwrite each other's acknowledged events; the second now refuses to start, naming
 * the folder and the first bus's pid, and every acknowledged event stays.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePorts, http, startStack, type Stack } from '@blog/testkit';

const LOGS = path.join(__dirname, '..', '..', 'artifacts', 'logs');
const ROOT = path.join(__dirname, '..', '..', '..', '..');

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ services: ['event-bus'], logDir: path.join(LOGS, 'faults-log-folder') });
}, 60_000);

afterAll(async () => {
  await stack?.stopAll({ timeoutMs: 10_000 });
});

/** Runs a second bus on the first one's log folder until it exits; resolves with its exit code and output. */
async function secondBus(): Promise<{ code: number | null; output: string }> {
  const [port] = (await freePorts(1)) as [number];
  const child = spawn(process.execPath, [path.join(ROOT, 'event-bus', 'dist', 'index.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: String(port),
      EVENT_LOG_DIR: stack.eventLogDir,
      EVENT_SUBSCRIBERS: 'none',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, output };
}

test("a second bus on a running bus's log folder refuses to start, naming the folder and the first bus; every acknowledged event stays", async () => {
  const bus = stack.url('event-bus');
  const publish = async (n: number) => {
    const answer = await http(`${bus}/events`, { headers: stack.eventHeaders(), body: { type: 'Note', data: { n } } });
    expect(answer.status).toBe(201);
  };
  for (let n = 1; n <= 5; n++) await publish(n);

  const second = await secondBus();
  expect(second.code).toBe(1);
  expect(second.output).toContain(`${stack.eventLogDir} belongs to another process (pid ${stack.pid('event-bus')})`);

  for (let n = 6; n <= 10; n++) await publish(n);
  const history = (await http(`${bus}/events`, { headers: stack.eventHeaders() })).json as {
    seq: number;
    data: { n: number };
  }[];
  expect(history.map(({ seq, data }) => [seq, data.n])).toEqual(Array.from({ length: 10 }, (_, i) => [i + 1, i + 1]));
});
