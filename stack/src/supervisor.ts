/**
 * Runs the whole blog as one process per service, the way `npm start` and `npm run dev` do: each
 * service's output is printed line by line under its name, and a service that exits without being asked
 * to is started again after a short delay that grows while it keeps failing.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { styleText } from 'node:util';
import {
  ROOT,
  SERVICES,
  serviceCommand,
  serviceEnv,
  type EventsCredentials,
  type StackMode,
  type StackPorts,
} from './definition';
import { describeExit, startProcess, stopProcess, type StartedProcess } from './process';

export interface RestartPolicy {
  /** Delay before the first restart; it doubles with each failure in a row, up to `maxDelayMs`. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** A service that ran at least this long before exiting starts again from the first delay. */
  stableAfterMs: number;
}

const DEFAULT_RESTART: RestartPolicy = { firstDelayMs: 500, maxDelayMs: 10_000, stableAfterMs: 10_000 };

/** One process the supervisor runs: a service, a replica of one, a NATS server. */
export interface ProcessSpec {
  /** Unique; printed before each line of its output. */
  name: string;
  command: string;
  args: readonly string[];
  /** Added to this process's environment. */
  env: Record<string, string>;
  /** Stopped once the others have stopped (what they depend on while shutting down, e.g. a NATS server). */
  stopsLast?: boolean;
}

export interface SupervisorOptions {
  processes: readonly ProcessSpec[];
  /** Where a line a process printed goes; by default stdout, after the process's name. */
  print?: (process: string, line: string) => void;
  /** Where the supervisor's own messages go; by default stdout, after "stack". */
  say?: (line: string) => void;
  restart?: RestartPolicy;
}

/** The processes of `npm start` and `npm run dev`: one per service of the stack. */
export function stackProcesses({
  mode,
  ports,
  credentials,
  env = {},
}: {
  mode: StackMode;
  ports: StackPorts;
  credentials?: EventsCredentials;
  env?: Record<string, string>;
}): ProcessSpec[] {
  return SERVICES.map((name) => ({
    name,
    ...serviceCommand(name, mode),
    env: { ...env, ...serviceEnv(name, ports, mode, credentials) },
  }));
}

const COLORS = ['blue', 'green', 'yellow', 'magenta', 'cyan', 'white'] as const;
function prefixed(name: string, width: number, color: (typeof COLORS)[number] | 'gray'): (line: string) => void {
  const prefix = styleText(color, name.padEnd(width), { stream: process.stdout });
  return (line) => process.stdout.write(`${prefix} ${line}\n`);
}

export class Supervisor {
  private readonly specs: Map<string, ProcessSpec>;
  private readonly running = new Map<string, StartedProcess>();
  private readonly failuresInARow = new Map<string, number>();
  private readonly pendingRestarts = new Set<NodeJS.Timeout>();
  private stopping = false;
  private readonly print: (process: string, line: string) => void;
  private readonly say: (line: string) => void;
  private readonly restart: RestartPolicy;

  constructor(options: SupervisorOptions) {
    this.specs = new Map(options.processes.map((spec) => [spec.name, spec]));
    const width = Math.max(5, ...options.processes.map(({ name }) => name.length));
    const printers = new Map(
      options.processes.map(({ name }, index) => [
        name,
        prefixed(name, width, COLORS[index % COLORS.length] ?? 'white'),
      ]),
    );
    this.print = options.print ?? ((name, line) => printers.get(name)?.(line));
    this.say = options.say ?? prefixed('stack', width, 'gray');
    this.restart = options.restart ?? DEFAULT_RESTART;
  }

  /** Starts the processes (all by default). */
  start(names: readonly string[] = [...this.specs.keys()]): void {
    for (const name of names) this.launch(name);
  }

  pid(name: string): number | undefined {
    const started = this.running.get(name);
    return started && !started.exit ? started.child.pid : undefined;
  }

  /** Stops every process (SIGTERM, then SIGKILL after `timeoutMs`), those that stop last after the others; nothing is restarted from then on. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    this.pendingRestarts.clear();
    const stopAll = (last: boolean) =>
      Promise.all(
        [...this.running]
          .filter(([name]) => (this.specs.get(name)?.stopsLast ?? false) === last)
          .map(([, started]) => stopProcess(started, 'SIGTERM', timeoutMs)),
      );
    await stopAll(false);
    await stopAll(true);
  }

  private launch(name: string): void {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`no process named ${name}`);
    const started = startProcess(spec.command, spec.args, {
      env: { ...process.env, ...spec.env },
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [started.child.stdout, started.child.stderr]) this.forward(name, stream);
    this.running.set(name, started);
    const startedAt = Date.now();
    void started.exited.then((exit) => {
      if (this.stopping) return;
      const ranStably = Date.now() - startedAt >= this.restart.stableAfterMs;
      const failures = ranStably ? 1 : (this.failuresInARow.get(name) ?? 0) + 1;
      this.failuresInARow.set(name, failures);
      const delay = Math.min(this.restart.maxDelayMs, this.restart.firstDelayMs * 2 ** (failures - 1));
      this.say(`${name} exited unexpectedly (${describeExit(exit)}); starting it again in ${delay} ms`);
      const timer = setTimeout(() => {
        this.pendingRestarts.delete(timer);
        if (!this.stopping) this.launch(name);
      }, delay);
      this.pendingRestarts.add(timer);
    });
  }

  private forward(name: string, stream: Readable | null): void {
    if (!stream) return;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.print(name, line));
  }
}
