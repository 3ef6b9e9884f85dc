/**
 * The blog scaled out as real processes on 127.0.0.1: several replicas of every service, each replica
 * reading the log itself, on several replicas of the bus sharing a NATS JetStream cluster, or on one bus
 * with its file log. Replica i of a service talks to bus replica i first and to the others when it cannot
 * reach it. For the cluster tests and the bench.
 */
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { deliveryHeadersFor, eventsHeaders } from '@blog/common';
import {
  newEventsCredentials,
  REPLICATED_SERVICES,
  replicaEnv,
  replicatedBusEnv,
  stopProcess,
  type EventsCredentials,
  type ReplicatedService,
  type StartedProcess,
} from '@blog/stack';
import type { NatsCluster } from './nats';
import { freePorts } from './ports';
import { launchService } from './stack';

export { REPLICATED_SERVICES, type ReplicatedService } from '@blog/stack';

export interface ReplicatedStackOptions {
  /** The cluster the bus replicas share a stream on; without one, a single bus keeps its log in `<logDir>/event-log`. */
  nats?: NatsCluster;
  /** Each replica writes to `<logDir>/<service>-<n>.log`. */
  logDir: string;
  /** Replicas of each service (default 2). */
  replicas?: number;
  /** URLs the bus pushes every event to (a course-style service); none by default. */
  subscribers?: readonly string[];
  /** LOG_LEVEL of every process (default info). */
  logLevel?: string;
  /** Extra environment of every bus replica. */
  busEnv?: Record<string, string>;
  /** Extra environment of every replica of a service. */
  serviceEnv?: Partial<Record<Exclude<ReplicatedService, 'event-bus'>, Record<string, string>>>;
}

export interface ReplicatedStack {
  /** Replicas of each service; of the bus too on a NATS cluster (one bus with a file log). */
  readonly replicas: number;
  /** The operator token (the bus's EVENTS_TOKEN: any event type). */
  readonly eventsToken: string;
  /** The tokens and delivery keys of the bus and the services. */
  readonly credentials: EventsCredentials;
  eventHeaders(): Record<string, string>;
  /** The signature header the bus would send with a delivery of exactly this body. */
  deliveryHeaders(body: string | Buffer): Record<string, string>;
  url(service: ReplicatedService, replica: number): string;
  urls(service: ReplicatedService): string[];
  logFile(service: ReplicatedService, replica: number): string;
  /** The STATE_DIR of a replica of a service. */
  stateDir(service: Exclude<ReplicatedService, 'event-bus'>, replica: number): string;
  pid(service: ReplicatedService, replica: number): number | undefined;
  /** kill -9 of one replica. */
  kill(service: ReplicatedService, replica: number): Promise<void>;
  /** Starts a stopped replica again and waits until it is ready (caught up); `env` adds to its environment for this start. */
  start(service: ReplicatedService, replica: number, options?: { env?: Record<string, string> }): Promise<void>;
  stopAll(): Promise<void>;
}

export async function startReplicatedStack({
  nats,
  logDir,
  replicas = 2,
  subscribers = [],
  logLevel = 'info',
  busEnv = {},
  serviceEnv = {},
}: ReplicatedStackOptions): Promise<ReplicatedStack> {
  mkdirSync(logDir, { recursive: true });
  rmSync(path.join(logDir, 'state'), { recursive: true, force: true });
  const ports = await freePorts(REPLICATED_SERVICES.length * replicas);
  const portOf = (service: ReplicatedService, replica: number) =>
    ports[REPLICATED_SERVICES.indexOf(service) * replicas + replica] as number;
  const url = (service: ReplicatedService, replica: number) => `http://127.0.0.1:${portOf(service, replica)}`;
  const logFile = (service: ReplicatedService, replica: number) => path.join(logDir, `${service}-${replica + 1}.log`);
  const stateDir = (service: ReplicatedService, replica: number) =>
    path.join(logDir, 'state', `${service}-${replica + 1}`);
  const credentials = newEventsCredentials();
  const eventsToken = credentials.operatorToken;

  const running = new Map<string, StartedProcess>();
  const key = (service: ReplicatedService, replica: number) => `${service}/${replica}`;

  const replicasOf = (service: ReplicatedService) => (service === 'event-bus' && !nats ? 1 : replicas);
  const fileBus = { EVENT_LOG: 'file', EVENT_LOG_DIR: path.join(logDir, 'event-log'), EVENT_SUBSCRIBERS: 'none' };

  const topology = () => ({
    busUrls: stack.urls('event-bus'),
    busEnv: nats ? replicatedBusEnv(nats) : fileBus,
    credentials,
    stateDir,
  });
  const start = async (service: ReplicatedService, replica: number, extraEnv: Record<string, string> = {}) => {
    const env: Record<string, string> = {
      ...replicaEnv(service, replica, topology()),
      LOG_LEVEL: logLevel,
      ...(service === 'event-bus'
        ? { ...busEnv, ...(subscribers.length > 0 ? { EVENT_SUBSCRIBERS: subscribers.join(',') } : {}) }
        : serviceEnv[service]),
      ...extraEnv,
    };
    await launchService({
      name: service,
      port: portOf(service, replica),
      env,
      logFile: logFile(service, replica),
      // A bus waits (up to a minute) for the cluster to place the stream before it listens.
      readyTimeoutMs: service === 'event-bus' ? 60_000 : 30_000,
      started: (entry) => running.set(key(service, replica), entry),
    });
  };
  const pid = (service: ReplicatedService, replica: number) => {
    const entry = running.get(key(service, replica));
    return entry && !entry.exit ? entry.child.pid : undefined;
  };
  const stack: ReplicatedStack = {
    replicas,
    eventsToken,
    credentials,
    eventHeaders: () => eventsHeaders(eventsToken),
    deliveryHeaders: (body) => deliveryHeadersFor(credentials.signingKey, body),
    url,
    urls: (service) => Array.from({ length: replicasOf(service) }, (_, replica) => url(service, replica)),
    logFile,
    stateDir,
    pid,
    kill: async (service, replica) => {
      const entry = running.get(key(service, replica));
      if (entry) await stopProcess(entry, 'SIGKILL');
    },
    start: async (service, replica, options = {}) => {
      if (pid(service, replica) !== undefined) throw new Error(`${service} replica ${replica + 1} is running`);
      await start(service, replica, options.env);
    },
    stopAll: async () => {
      await Promise.all([...running.values()].map((entry) => stopProcess(entry, 'SIGTERM', 10_000)));
    },
  };
  try {
    for (const service of REPLICATED_SERVICES) {
      for (let replica = 0; replica < replicasOf(service); replica++)
        closeSync(openSync(logFile(service, replica), 'w'));
    }
    // The bus replicas first: the services catch up from them.
    await Promise.all(Array.from({ length: replicasOf('event-bus') }, (_, replica) => start('event-bus', replica)));
    await Promise.all(
      REPLICATED_SERVICES.filter((service) => service !== 'event-bus').flatMap((service) =>
        Array.from({ length: replicas }, (_, replica) => start(service, replica)),
      ),
    );
  } catch (err) {
    await stack.stopAll();
    throw err;
  }
  return stack;
}
