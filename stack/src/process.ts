/** One child process of the stack: started, watched until it exits, stopped with a bound. */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';

export interface ExitResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartedProcess {
  readonly child: ChildProcess;
  /** Resolves once the process has exited, or could not be spawned (code and signal both null). */
  readonly exited: Promise<ExitResult>;
  /** How it ended, once it has. */
  readonly exit: ExitResult | undefined;
}

/** Every child started by this process, killed if this process exits with them still running. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

export function startProcess(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; stdio: StdioOptions },
): StartedProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const child = spawn(command, args, options);
  live.add(child);
  const started: { child: ChildProcess; exited: Promise<ExitResult>; exit: ExitResult | undefined } = {
    child,
    exit: undefined,
    exited: new Promise<ExitResult>((resolve) => {
      const done = (exit: ExitResult) => {
        if (started.exit) return;
        started.exit = exit;
        live.delete(child);
        resolve(exit);
      };
      child.once('exit', (code, signal) => done({ code, signal }));
      child.once('error', () => done({ code: null, signal: null }));
    }),
  };
  return started;
}

/** Sends `signal` (SIGTERM by default) and resolves with how the process ended; SIGKILL after `timeoutMs`. */
export async function stopProcess(
  started: StartedProcess,
  signal: NodeJS.Signals = 'SIGTERM',
  timeoutMs = 10_000,
): Promise<ExitResult> {
  if (started.exit) return started.exit;
  started.child.kill(signal);
  if (signal === 'SIGKILL') return started.exited;
  let timer: NodeJS.Timeout | undefined;
  const overdue = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  const exit = await Promise.race([started.exited, overdue]);
  clearTimeout(timer);
  if (exit) return exit;
  started.child.kill('SIGKILL');
  return started.exited;
}

export function describeExit({ code, signal }: ExitResult): string {
  return signal ? `killed by ${signal}` : code === null ? 'could not be spawned' : `exit code ${code}`;
}
