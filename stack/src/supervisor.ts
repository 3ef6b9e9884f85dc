/**
 * Runs the whole blog as one process per service, the way `npm start` and `npm run dev` do: each
 * service's output is printed line by line under its name, and a service that exits without being asked
 * to is started again after a short delay that grows while it keeps failing.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { styleText } from 'node:util';
import { ROOT, SERVICES, serviceCommand, serviceEnv, type ServiceName, type StackMode, type StackPorts } from './definition';
import { describeExit, startProcess, stopProcess, type StartedProcess } from './process';

export interface RestartPolicy {
  /** Delay before the first restart; it doubles with each failure in a row, up to `maxDelayMs`. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** A service that ran at least this long before exiting starts again from the first delay. */
  stableAfterMs: number;
}

const DEFAULT_RESTART: RestartPolicy = { firstDelayMs: 500, maxDelayMs: 10_000, stableAfterMs: 10_000 };

export interface SupervisorOptions {
  mode: StackMode;
  ports: StackPorts;
  /** EVENTS_TOKEN of the bus and the services. */
  eventsToken?: string;
  /** Added to every service's environment. */
  env?: Record<string, string>;
  /** Where a line a service printed goes; by default stdout, after the service's name. */
  print?: (service: ServiceName, line: string) => void;
  /** Where the supervisor's own messages go; by default stdout, after "stack". */
  say?: (line: string) => void;
  restart?: RestartPolicy;
}

const COLORS = ['blue', 'green', 'yellow', 'magenta', 'cyan', 'white'] as const;
const NAME_WIDTH = Math.max(...SERVICES.map((name) => name.length));

function prefixed(name: string, color: (typeof COLORS)[number] | 'gray'): (line: string) => void {
  const prefix = styleText(color, name.padEnd(NAME_WIDTH), { stream: process.stdout });
  return (line) => process.stdout.write(`${prefix} ${line}\n`);
}

export class Supervisor {
  private readonly running = new Map<ServiceName, StartedProcess>();
  private readonly failuresInARow = new Map<ServiceName, number>();
  private readonly pendingRestarts = new Set<NodeJS.Timeout>();
  private stopping = false;
  private readonly print: (service: ServiceName, line: string) => void;
  private readonly say: (line: string) => void;
  private readonly restart: RestartPolicy;

  constructor(private readonly options: SupervisorOptions) {
    const printers = new Map(SERVICES.map((name, index) => [name, prefixed(name, COLORS[index % COLORS.length] ?? 'white')]));
    this.print = options.print ?? ((service, line) => printers.get(service)?.(line));
    this.say = options.say ?? prefixed('stack', 'gray');
    this.restart = options.restart ?? DEFAULT_RESTART;
  }

  /** Starts the services (all by default). */
  start(services: readonly ServiceName[] = SERVICES): void {
    for (const name of services) this.launch(name);
  }

  pid(name: ServiceName): number | undefined {
    const started = this.running.get(name);
    return started && !started.exit ? started.child.pid : undefined;
  }

  /** Stops every service (SIGTERM, then SIGKILL after `timeoutMs`); nothing is restarted from then on. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopping = true;
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    this.pendingRestarts.clear();
    await Promise.all([...this.running.values()].map((started) => stopProcess(started, 'SIGTERM', timeoutMs)));
  }

  private launch(name: ServiceName): void {
    const { mode, ports, eventsToken, env } = this.options;
    const { command, args } = serviceCommand(name, mode);
    const started = startProcess(command, args, {
      env: { ...process.env, ...env, ...serviceEnv(name, ports, mode, eventsToken) },
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

  private forward(name: ServiceName, stream: Readable | null): void {
    if (!stream) return;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => this.print(name, line));
  }
}
