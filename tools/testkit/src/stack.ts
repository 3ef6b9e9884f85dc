/**
 * The whole blog as real processes on free ports, for the full-stack tests and the bench: start, stop,
 * kill and restart services, each writing its output to a log file. Everything talks to 127.0.0.1 only.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';
import { deliveryHeadersFor, eventsHeaders } from '@blog/common';
import {
  describeExit,
  newEventsCredentials,
  ROOT,
  SERVICES,
  serviceCommand,
  STATEFUL_SERVICES,
  serviceEnv,
  startProcess,
  stopProcess,
  type EventsCredentials,
  type ExitResult,
  type ServiceName,
  type StackPorts,
  type StartedProcess,
} from '@blog/stack';
import { freePorts } from './ports';
import { delay, describeError } from './wait';

/**
 * Every test client comes from 127.0.0.1, so the router's per-client limits would count all of a file's
 * requests as one user's: they are raised here (a test of the limits sets its own in `env`).
 */
const TEST_ROUTER_LIMITS: Record<string, string> = {
  ROUTER_STREAMS_PER_CLIENT: '1000',
  ROUTER_CREATES_PER_SECOND: '1000',
  ROUTER_CREATE_BURST: '100000',
};

export { SERVICES, type ExitResult, type ServiceName, type StackPorts } from '@blog/stack';

export interface StackOptions {
  /** Services to start now (default: all). The others get ports too and can be started later. */
  services?: readonly ServiceName[];
  /** Fixed ports; the rest are picked free. */
  ports?: Partial<StackPorts>;
  /** Each service writes stdout and stderr to `<logDir>/<service>.log` (truncated when the stack starts). */
  logDir: string;
  /** LOG_LEVEL of every service (default 'info'). */
  logLevel?: string;
  /** Extra environment variables per service. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Options for `node` itself per service, before the script (e.g. `--cpu-prof`). */
  nodeArgs?: Partial<Record<ServiceName, string[]>>;
  /** How long a service may take to answer 200 on /readyz (default 30 s). */
  readyTimeoutMs?: number;
  /**
   * The operator token (the bus's EVENTS_TOKEN) the tests use: a new one by default. Each service gets a
   * token of its own and the bus a fresh delivery key pair. `false`: none of them (open intake, unsigned).
   */
  eventsToken?: string | false;
  /** The credentials of another stack whose bus this one's services join (instead of new ones). */
  credentials?: EventsCredentials;
  /** Called with each process's pid as soon as it is spawned (e.g. to put it in a memory cgroup). */
  onSpawn?: (name: ServiceName, pid: number) => void;
}

export interface StopOptions {
  /** After this long without exiting the process is SIGKILLed (default 10 s). */
  timeoutMs?: number;
}

export interface Stack {
  readonly ports: StackPorts;
  readonly logDir: string;
  /** Where the event bus keeps its log, unless EVENT_LOG_DIR is given in `env`. */
  readonly eventLogDir: string;
  /** Where the services keep their states, `<stateDir>/<service>` each, unless STATE_DIR is given in `env`. */
  readonly stateDir: string;
  /** The operator token (the bus's EVENTS_TOKEN: any event type), if any. */
  readonly eventsToken: string | undefined;
  /** The tokens and delivery keys of the bus and the services; none with open intake. */
  readonly credentials: EventsCredentials | undefined;
  /** The headers a request to the bus's `/events…` with the operator token needs: `Authorization` when there is one. */
  eventHeaders(): Record<string, string>;
  /**
   * The headers of a delivery to a service as this stack's bus would send it: its signature of exactly
   * these body bytes (none with open intake). With it a test plays the bus.
   */
  deliveryHeaders(body: string | Buffer): Record<string, string>;
  /** `http://127.0.0.1:<port>` of a service. */
  url(name: ServiceName): string;
  logFile(name: ServiceName): string;
  /** Whether the service's process is running (started and not exited). */
  isRunning(name: ServiceName): boolean;
  pid(name: ServiceName): number | undefined;
  /** Starts a service that is not running (again), and waits until its /readyz answers 200. */
  start(name: ServiceName): Promise<void>;
  /** Sends `signal` (SIGTERM by default) and resolves with how the process ended; SIGKILL after a bound. */
  stop(name: ServiceName, signal?: NodeJS.Signals, options?: StopOptions): Promise<ExitResult>;
  /** `kill -9`. */
  kill(name: ServiceName): Promise<ExitResult>;
  /** SIGTERM to every running service, SIGKILL to those still running after a bound. */
  stopAll(options?: StopOptions): Promise<void>;
}

/** Thrown when a service did not become ready; the message names it and its log file. */
export class ServiceStartError extends Error {
  override name = 'ServiceStartError';
  constructor(
    readonly service: ServiceName,
    message: string,
    /** The service could not listen because its port was taken. */
    readonly addressInUse: boolean,
  ) {
    super(message);
  }
}

/** Attempts of startStack when a picked port turns out to be taken. */
const START_ATTEMPTS = 3;

/** Starting order: the bus first (everyone catches up from it), then the others together. */
const FIRST: ServiceName = 'event-bus';

/**
 * Starts the stack (event-bus first, then the others in parallel) on free ports, and resolves once every
 * started service is ready. When the ports were picked here and one turned out to be taken meanwhile, it
 * starts over on new ports (up to 3 attempts). On failure nothing is left running.
 */
export async function startStack(options: StackOptions): Promise<Stack> {
  for (let attempt = 1; ; attempt++) {
    const stack = new ProcessStack(await pickPorts(options.ports ?? {}), options);
    try {
      await stack.startServices(options.services ?? SERVICES);
      return stack;
    } catch (err) {
      await stack.stopAll({ timeoutMs: 3_000 });
      const portWasPicked = err instanceof ServiceStartError && options.ports?.[err.service] === undefined;
      if (err instanceof ServiceStartError && err.addressInUse && portWasPicked && attempt < START_ATTEMPTS) continue;
      throw err;
    }
  }
}

async function pickPorts(fixed: Partial<StackPorts>): Promise<StackPorts> {
  const free = await freePorts(SERVICES.length);
  const ports = {} as StackPorts;
  SERVICES.forEach((name, index) => {
    ports[name] = fixed[name] ?? (free[index] as number);
  });
  return ports;
}

class ProcessStack implements Stack {
  private readonly running = new Map<ServiceName, StartedProcess>();
  readonly logDir: string;
  readonly credentials: EventsCredentials | undefined;

  constructor(
    readonly ports: StackPorts,
    private readonly options: StackOptions,
  ) {
    this.credentials =
      options.credentials ?? (options.eventsToken === false ? undefined : newEventsCredentials(options.eventsToken));
    this.logDir = path.resolve(options.logDir);
    mkdirSync(this.logDir, { recursive: true });
    // Each stack starts from an empty event history and empty service states; they survive restarts within the stack.
    rmSync(this.eventLogDir, { recursive: true, force: true });
    rmSync(this.stateDir, { recursive: true, force: true });
    for (const name of SERVICES) closeSync(openSync(this.logFile(name), 'w'));
  }

  /** Where this stack's event bus keeps its log. */
  get eventLogDir(): string {
    return path.join(this.logDir, 'event-log');
  }

  /** Where this stack's services keep their states, a folder each (STATE_DIR). */
  get stateDir(): string {
    return path.join(this.logDir, 'state');
  }

  url(name: ServiceName): string {
    return `http://127.0.0.1:${this.ports[name]}`;
  }

  get eventsToken(): string | undefined {
    return this.credentials?.operatorToken;
  }

  eventHeaders(): Record<string, string> {
    return eventsHeaders(this.eventsToken);
  }

  deliveryHeaders(body: string | Buffer): Record<string, string> {
    return deliveryHeadersFor(this.credentials?.signingKey, body);
  }

  logFile(name: ServiceName): string {
    return path.join(this.logDir, `${name}.log`);
  }

  isRunning(name: ServiceName): boolean {
    const entry = this.running.get(name);
    return entry !== undefined && entry.exit === undefined;
  }

  pid(name: ServiceName): number | undefined {
    return this.isRunning(name) ? this.running.get(name)?.child.pid : undefined;
  }

  async startServices(names: readonly ServiceName[]): Promise<void> {
    const unique = [...new Set(names)];
    if (unique.includes(FIRST)) await this.start(FIRST);
    const rest = unique.filter((name) => name !== FIRST);
    const results = await Promise.allSettled(rest.map((name) => this.start(name)));
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    if (failures.length === 0) return;
    // Report a port conflict first, so that startStack can retry on new ports.
    throw failures.find((err) => err instanceof ServiceStartError && err.addressInUse) ?? failures[0];
  }

  async start(name: ServiceName): Promise<void> {
    if (this.isRunning(name)) throw new Error(`${name} is already running (pid ${this.pid(name)})`);
    const env: Record<string, string> = {
      ...serviceEnv(name, this.ports, 'start', this.credentials),
      LOG_LEVEL: this.options.logLevel ?? 'info',
      ...(name === 'event-bus' ? { EVENT_LOG_DIR: this.eventLogDir } : {}),
      ...(STATEFUL_SERVICES.has(name) ? { STATE_DIR: path.join(this.stateDir, name) } : {}),
      ...(name === 'client' ? TEST_ROUTER_LIMITS : {}),
      ...this.options.env?.[name],
    };
    await launchService({
      name,
      port: this.ports[name],
      env,
      nodeArgs: this.options.nodeArgs?.[name],
      logFile: this.logFile(name),
      readyTimeoutMs: this.options.readyTimeoutMs,
      started: (entry) => {
        this.running.set(name, entry);
        if (entry.child.pid !== undefined) this.options.onSpawn?.(name, entry.child.pid);
      },
    });
  }

  async stop(
    name: ServiceName,
    signal: NodeJS.Signals = 'SIGTERM',
    { timeoutMs = 10_000 }: StopOptions = {},
  ): Promise<ExitResult> {
    const entry = this.running.get(name);
    if (!entry) throw new Error(`${name} was never started`);
    return stopProcess(entry, signal, timeoutMs);
  }

  kill(name: ServiceName): Promise<ExitResult> {
    return this.stop(name, 'SIGKILL');
  }

  async stopAll(options: StopOptions = {}): Promise<void> {
    const names = [...this.running.keys()].filter((name) => this.isRunning(name));
    await Promise.all(names.map((name) => this.stop(name, 'SIGTERM', options)));
  }
}

export interface LaunchOptions {
  name: ServiceName;
  port: number;
  /** Added to the base environment (LOG_FORMAT is json). */
  env: Record<string, string>;
  /** What `env` is added to: this process's environment unless given. */
  baseEnv?: NodeJS.ProcessEnv;
  /** Options for `node` itself, before the script. */
  nodeArgs?: readonly string[];
  /** Where its stdout and stderr go (appended). */
  logFile: string;
  /** How long it may take to answer 200 on /readyz (default 30 s). */
  readyTimeoutMs?: number;
  /** Called with the process as soon as it is spawned, before it is ready. */
  started?: (entry: StartedProcess) => void;
}

/**
 * Starts one process of a service, writing into its log file, and resolves once its /readyz answers 200;
 * a process that exits first or is not ready in time is killed, and the error quotes its log.
 */
export async function launchService({
  name,
  port,
  env,
  baseEnv = process.env,
  nodeArgs = [],
  logFile,
  readyTimeoutMs = 30_000,
  started,
}: LaunchOptions): Promise<StartedProcess> {
  const logOffset = fileSize(logFile);
  const { command, args: scriptArgs } = serviceCommand(name, 'start');
  const args = [...nodeArgs, ...scriptArgs];
  // The child writes straight into the log file, so its output survives even if this process dies.
  const fd = openSync(logFile, 'a');
  let entry: StartedProcess;
  try {
    writeSync(
      fd,
      `--- ${new Date().toISOString()} starting ${name} on port ${port}: ${[command, ...args].join(' ')}\n`,
    );
    entry = startProcess(command, args, {
      env: { ...baseEnv, LOG_FORMAT: 'json', ...env, PORT: String(port) },
      stdio: ['ignore', fd, fd],
      cwd: ROOT,
    });
  } finally {
    closeSync(fd);
  }
  started?.(entry);
  try {
    await waitUntilReady(`http://127.0.0.1:${port}`, entry, readyTimeoutMs, (reason) => {
      const output = readFrom(logFile, logOffset);
      return new ServiceStartError(
        name,
        `${name} (port ${port}) ${reason}; see its log ${logFile}${tail(output)}`,
        /EADDRINUSE/.test(output),
      );
    });
  } catch (err) {
    await stopProcess(entry, 'SIGKILL');
    throw err;
  }
  return entry;
}

async function waitUntilReady(
  url: string,
  entry: StartedProcess,
  timeoutMs: number,
  failure: (reason: string) => Error,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (entry.exit) throw failure(`exited before it was ready (${describeExit(entry.exit)})`);
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      last = `HTTP ${response.status}`;
    } catch (err) {
      last = describeError(err);
    }
    await Promise.race([delay(100), entry.exited]);
  }
  if (entry.exit) throw failure(`exited before it was ready (${describeExit(entry.exit)})`);
  throw failure(`was not ready within ${timeoutMs}ms (last /readyz: ${last})`);
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function tail(output: string, lines = 15): string {
  const last = output.trimEnd().split('\n').slice(-lines);
  return last.length === 0 || (last.length === 1 && last[0] === '') ? '' : `\n--- last lines ---\n${last.join('\n')}`;
}
