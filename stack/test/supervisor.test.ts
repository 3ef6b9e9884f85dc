/**
 * The runner behind `npm start`, with the real services (the production build) on free ports: each
 * service killed with kill -9 is started again by the supervisor while the others keep serving, and the
 * blog works afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventsHeaders } from '@blog/common';
import { freePorts, http, waitFor } from '@blog/testkit';
import {
  newEventsCredentials,
  SERVICES,
  stackProcesses,
  Supervisor,
  type ServiceName,
  type StackPorts,
} from '@blog/stack';

const dataDir = mkdtempSync(path.join(tmpdir(), 'stack-supervisor-'));
const said: string[] = [];
let supervisor: Supervisor;
let ports: StackPorts;
const credentials = newEventsCredentials();
const url = (name: ServiceName) => `http://127.0.0.1:${ports[name]}`;

async function ready(name: ServiceName): Promise<boolean> {
  try {
    return (
      (await http(`${url(name)}/${name === 'client' ? 'healthz' : 'readyz'}`, { timeoutMs: 1_000 })).status === 200
    );
  } catch {
    return false;
  }
}

async function allReady(): Promise<boolean> {
  return (await Promise.all(SERVICES.map(ready))).every(Boolean);
}

beforeAll(async () => {
  const free = await freePorts(SERVICES.length);
  ports = Object.fromEntries(SERVICES.map((name, i) => [name, free[i] as number])) as StackPorts;
  supervisor = new Supervisor({
    processes: stackProcesses({
      mode: 'start',
      ports,
      credentials,
      env: { EVENT_LOG_DIR: dataDir, LOG_LEVEL: 'warn' },
    }),
    print: () => undefined,
    say: (line) => said.push(line),
    restart: { firstDelayMs: 100, maxDelayMs: 1_000, stableAfterMs: 60_000 },
  });
  supervisor.start();
  await waitFor(allReady, { what: 'every service to be ready', timeoutMs: 30_000 });
}, 60_000);

afterAll(async () => {
  await supervisor?.stop(5_000);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('Supervisor (npm start)', () => {
  test.each(SERVICES.map((name) => [name]))(
    'kill -9 of %s: started again by itself while the others keep serving',
    async (name) => {
      const pid = supervisor.pid(name);
      if (pid === undefined) throw new Error(`${name} is not running`);
      process.kill(pid, 'SIGKILL');
      await waitFor(() => supervisor.pid(name) !== pid, { what: `${name} to exit` });
      // While it is down or starting, every other service still answers.
      const others = SERVICES.filter((other) => other !== name);
      expect(Object.fromEntries(await Promise.all(others.map(async (other) => [other, await ready(other)])))).toEqual(
        Object.fromEntries(others.map((other) => [other, true])),
      );
      await waitFor(async () => supervisor.pid(name) !== undefined && (await ready(name)), {
        what: `${name} to be started again`,
        timeoutMs: 20_000,
      });
      expect(said).toContain(`${name} exited unexpectedly (killed by SIGKILL); starting it again in 100 ms`);
    },
  );

  test('a service that keeps failing waits longer each time', async () => {
    for (const round of [1, 2]) {
      const pid = supervisor.pid('moderation');
      if (pid === undefined) throw new Error('moderation is not running');
      process.kill(pid, 'SIGKILL');
      await waitFor(() => supervisor.pid('moderation') !== undefined && supervisor.pid('moderation') !== pid, {
        what: `moderation to be started again (${round})`,
        timeoutMs: 20_000,
      });
    }
    // Killed three times within stableAfterMs in all: 100, then 200, then 400 ms.
    expect(said.filter((line) => line.startsWith('moderation exited'))).toEqual(
      [100, 200, 400].map((ms) => `moderation exited unexpectedly (killed by SIGKILL); starting it again in ${ms} ms`),
    );
    await waitFor(() => ready('moderation'), { what: 'moderation to be ready' });
  });

  test('after the restarts the blog works: a post and its approved comment, through the client server', async () => {
    const post = await http(`${url('client')}/posts/create`, { body: { title: 'after the restarts' } });
    expect(post.status).toBe(201);
    const { id } = post.json as { id: string };
    expect((await http(`${url('client')}/posts/${id}/comments`, { body: { content: 'still here' } })).status).toBe(201);
    await waitFor(
      async () => {
        const view = (await http(`${url('client')}/posts`)).json as Record<string, { comments: { status: string }[] }>;
        return view[id]?.comments[0]?.status === 'approved';
      },
      { what: 'the comment to be approved' },
    );
    // The bus kept the history across its own restart: every event is there once.
    const history = (await http(`${url('event-bus')}/events`, { headers: eventsHeaders(credentials.operatorToken) }))
      .json as { seq: number }[];
    expect(history.map((event) => event.seq)).toEqual(history.map((_, i) => i + 1));
  });
});
