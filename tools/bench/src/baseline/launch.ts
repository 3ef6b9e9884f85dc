/** Starts the bare Express baseline (bare-express.ts) as a child process on a free port, and stops it. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePorts, waitFor } from '@blog/testkit';

export interface Baseline {
  url: string;
  pid: number | undefined;
  /** SIGTERM, and resolves once it has exited (a CPU profile it writes is then complete). */
  stop(): Promise<void>;
}

/** The compiled server: the bench runs from its build (npm run bench builds first). */
const SERVER = path.join(__dirname, '..', '..', 'dist', 'baseline', 'bare-express.js');

export async function startBareExpress({ nodeArgs = [] }: { nodeArgs?: readonly string[] } = {}): Promise<Baseline> {
  const [port] = await freePorts(1);
  // The same environment as the services the bench starts, so that Express runs in the same mode.
  const child = spawn(process.execPath, [...nodeArgs, SERVER], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`the bare Express baseline (${SERVER}) exited with code ${child.exitCode}`);
        return (
          (
            await fetch(`${url}/posts/create`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: '{"title":"up?"}',
            })
          ).status === 201
        );
      },
      { what: 'the bare Express baseline to answer', timeoutMs: 10_000, intervalMs: 50 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pid: child.pid, stop };
}
