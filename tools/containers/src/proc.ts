/**
 * Running programs for the container step: capture their output, or append it to a log file, and turn a
 * non-zero exit into an error that quotes the end of what the program said.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface RunResult {
  /** Exit code, or null when the program was killed by a signal or could not be started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Append stdout and stderr to this file instead of capturing them. */
  logFile?: string;
  /** Let the output through to this process's stdout and stderr. */
  inherit?: boolean;
  /** SIGKILL the program after this long (the result then has signal SIGKILL). */
  timeoutMs?: number;
}

/** The programs started here that are still running (see stopChildren). */
const children = new Set<ChildProcess>();

/** SIGKILLs every program started here that still runs: for a signal handler, before cleaning up. */
export function stopChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** Runs a program to its end; never throws for an exit status (see `check`). */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    let fd: number | undefined;
    if (options.logFile !== undefined) fd = openSync(options.logFile, 'a');
    const stdio: StdioOptions = options.inherit
      ? ['ignore', 'inherit', 'inherit']
      : fd !== undefined
        ? ['ignore', fd, fd]
        : ['ignore', 'pipe', 'pipe'];
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio });
    if (fd !== undefined) closeSync(fd);
    children.add(child);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const timer =
      options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      if (settled) return;
      settled = true;
      children.delete(child);
      if (timer) clearTimeout(timer);
      const err = spawnError ? `${command}: ${spawnError.message}\n` : '';
      resolve({
        code,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: err + Buffer.concat(stderr).toString('utf8'),
      });
    };
    child.once('error', (error) => finish(null, null, error));
    child.once('close', (code, signal) => finish(code, signal));
  });
}

export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
  }
}

/** The last `lines` lines of a text, indented, for error messages. */
export function tail(text: string, lines = 20): string {
  const kept = text.trimEnd().split('\n').slice(-lines);
  return kept.length === 1 && kept[0] === '' ? '' : kept.map((line) => `    ${line}`).join('\n');
}

/** Runs a program and returns its stdout; throws a CommandError (with the output's end) unless it exits 0. */
export async function check(command: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await run(command, args, options);
  if (result.code === 0) return result.stdout;
  const how = result.signal
    ? `was killed by ${result.signal}`
    : result.code === null
      ? 'could not be started'
      : `exited with ${result.code}`;
  let output = `${result.stdout}${result.stderr}`;
  if (options.logFile !== undefined) {
    try {
      output = readFileSync(options.logFile, 'utf8');
    } catch {
      // the log could not be read back; the message still names it
    }
  }
  const where = options.logFile !== undefined ? ` (log: ${options.logFile})` : '';
  throw new CommandError(`\`${[command, ...args].join(' ')}\` ${how}${where}\n${tail(output)}`, result);
}

/** Is a program on PATH? */
export async function onPath(program: string): Promise<boolean> {
  const result = await run('sh', ['-c', `command -v "$1"`, 'sh', program]);
  return result.code === 0;
}

export function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}
