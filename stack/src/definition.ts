/**
 * The local stack: which processes make up the blog, how each is started and how they find each other.
 * `npm start`, `npm run dev` and the full-stack tests all start the stack from this one definition.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  EVENTS_CLIENTS,
  eventsTokenVariable,
  DEFAULT_PORTS as SERVICE_DEFAULT_PORTS,
  type EventsClientName,
} from '@blog/common/api';
import type { NatsIdentities } from './nats';

export const SERVICES = ['event-bus', 'posts', 'comments', 'query', 'moderation', 'client'] as const;
export type ServiceName = (typeof SERVICES)[number];
/** The services that keep a state of their own, built from the events (STATE_DIR). */
export const STATEFUL_SERVICES: ReadonlySet<ServiceName> = new Set(['posts', 'comments', 'query', 'moderation']);
export type StackPorts = Record<ServiceName, number>;

export const DEFAULT_PORTS: StackPorts = { ...SERVICE_DEFAULT_PORTS };

export type StackMode = 'start' | 'dev';

/** The repository root. */
export const ROOT = path.resolve(__dirname, '..', '..');

// 127.0.0.1, not localhost: every process listens on the IPv4 loopback (HOST), and localhost may resolve to ::1 first.
const url = (port: number) => `http://127.0.0.1:${port}`;

/** The value of EVENTS_TOKEN that runs a local stack with open event intake (no token, unsigned deliveries: unsafe). */
export const OPEN_INTAKE = 'none';

/** Who may do what on the bus of a local stack, made fresh at each start. */
export interface EventsCredentials {
  /** The bus's EVENTS_TOKEN: the operator's (yours, the tests'), any event type; no service holds it. */
  operatorToken: string;
  /** Each service's own EVENTS_TOKEN, which the bus knows as `<NAME>_EVENTS_TOKEN`: its own event types only. */
  serviceTokens: Record<EventsClientName, string>;
  /** The bus's DELIVERY_SIGNING_KEY (base64 PKCS#8 DER). */
  signingKey: string;
  /** The services' DELIVERY_PUBLIC_KEY (base64 SPKI DER): they apply only deliveries signed with the key above. */
  publicKey: string;
}

/**
 * The event credentials of a local stack from the runner's environment: fresh ones, with the operator
 * token EVENTS_TOKEN sets if it is set; none at all with `EVENTS_TOKEN=none` (open intake, so that a course
 * service can join).
 */
export function localEventsCredentials(env: NodeJS.ProcessEnv = process.env): EventsCredentials | undefined {
  const set = env.EVENTS_TOKEN?.trim();
  if (set === OPEN_INTAKE) return undefined;
  return newEventsCredentials(set || undefined);
}

/** Fresh tokens and a fresh delivery key pair: nothing outside this stack knows them. */
export function newEventsCredentials(operatorToken = newEventsToken()): EventsCredentials {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    operatorToken,
    serviceTokens: Object.fromEntries(EVENTS_CLIENTS.map((name) => [name, newEventsToken()])) as Record<
      EventsClientName,
      string
    >,
    signingKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
  };
}

/** A fresh events token. */
export function newEventsToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The event credentials of a process: the bus gets the operator token, every service's token and the
 * signing key; a service its own token and the public key. Without credentials every variable is empty,
 * so that one in the runner's own environment (e.g. EVENTS_TOKEN=none) is not inherited.
 */
export function eventsEnv(
  name: Exclude<ServiceName, 'client'>,
  credentials: EventsCredentials | undefined,
): Record<string, string> {
  if (name === 'event-bus') {
    return {
      EVENTS_TOKEN: credentials?.operatorToken ?? '',
      ...Object.fromEntries(
        EVENTS_CLIENTS.map((client) => [eventsTokenVariable(client), credentials?.serviceTokens[client] ?? '']),
      ),
      DELIVERY_SIGNING_KEY: credentials?.signingKey ?? '',
    };
  }
  return { EVENTS_TOKEN: credentials?.serviceTokens[name] ?? '', DELIVERY_PUBLIC_KEY: credentials?.publicKey ?? '' };
}

/** The environment each process gets: its port, the URLs of what it talks to and its event credentials. */
export function serviceEnv(
  name: ServiceName,
  ports: StackPorts,
  mode: StackMode,
  credentials?: EventsCredentials,
): Record<string, string> {
  switch (name) {
    case 'event-bus':
      return {
        PORT: String(ports[name]),
        ...eventsEnv(name, credentials),
        EVENT_SUBSCRIBERS: [ports.posts, ports.comments, ports.query, ports.moderation].map(url).join(','),
      };
    case 'client':
      return {
        PORT: String(ports[name]),
        CLIENT_MODE: mode === 'dev' ? 'dev' : 'static',
        POSTS_URL: url(ports.posts),
        COMMENTS_URL: url(ports.comments),
        QUERY_URL: url(ports.query),
      };
    default:
      return { PORT: String(ports[name]), ...eventsEnv(name, credentials), EVENT_BUS_URL: url(ports['event-bus']) };
  }
}

/** The program and arguments that run a service: compiled JS with node, or the TypeScript source in watch mode. */
export function serviceCommand(name: ServiceName, mode: StackMode): { command: string; args: string[] } {
  const dir = path.join(ROOT, name);
  if (mode === 'start') {
    return {
      command: process.execPath,
      args: [path.join(dir, name === 'client' ? 'dist-server' : 'dist', 'index.js')],
    };
  }
  const tsx = require.resolve('tsx/cli');
  const entry = path.join(dir, name === 'client' ? 'server' : 'src', 'index.ts');
  return { command: process.execPath, args: [tsx, 'watch', '--conditions=source', '--clear-screen=false', entry] };
}

/**
 * A scaled-out stack (several replicas of each process) differs in two ways: the bus keeps its log on a
 * NATS JetStream cluster, shared by its replicas, and pushes to no one; every service replica reads the
 * log itself (EVENTS_FOLLOW), and waits longer for the bus's confirmation while the cluster elects a leader.
 */
export function replicatedBusEnv(nats: {
  urls: readonly string[];
  identities: NatsIdentities;
}): Record<string, string> {
  return { ...natsBusEnv(nats.urls, nats.identities), EVENT_SUBSCRIBERS: 'none' };
}

/** See replicatedBusEnv. */
export const REPLICATED_SERVICE_ENV: Readonly<Record<string, string>> = {
  EVENTS_FOLLOW: 'true',
  EVENT_BUS_CONFIRM_MS: '20000',
};

export type ReplicatedService = Exclude<ServiceName, 'client'>;
/** What the scaled-out blog runs replicas of, in the order they start: the bus first, the services catch up from it. */
export const REPLICATED_SERVICES: readonly ReplicatedService[] = [
  'event-bus',
  'posts',
  'comments',
  'moderation',
  'query',
];

/** Where one scaled-out blog's replicas find each other, and what they share. */
export interface ReplicaTopology {
  /** Every bus replica's URL, in replica order. */
  busUrls: readonly string[];
  /** The bus replicas' log: replicatedBusEnv on a NATS cluster, or a file log for a single bus. */
  busEnv: Readonly<Record<string, string>>;
  credentials: EventsCredentials | undefined;
  /** Each replica of a service its own state, as each pod its own volume. */
  stateDir: (service: Exclude<ReplicatedService, 'event-bus'>, replica: number) => string;
}

/**
 * The environment of replica `replica` of `service` in the scaled-out blog (the local `npm run
 * start:cluster` and the tests' replicated stack alike; the port is the caller's): every service replica
 * follows the log itself, and talks to its own bus replica first, to the others when that one cannot be
 * reached (as a Kubernetes Service would route around it).
 */
export function replicaEnv(
  service: ReplicatedService,
  replica: number,
  { busUrls, busEnv, credentials, stateDir }: ReplicaTopology,
): Record<string, string> {
  if (service === 'event-bus') return { ...busEnv, ...eventsEnv(service, credentials) };
  return {
    ...REPLICATED_SERVICE_ENV,
    ...eventsEnv(service, credentials),
    STATE_DIR: stateDir(service, replica),
    EVENT_BUS_URL: startingFrom(busUrls, replica).join(','),
  };
}

/** What a bus on JetStream needs: the servers, its stream, its own user, and the administrator that sets the stream up. */
export function natsBusEnv(urls: readonly string[], { stream, bus, admin }: NatsIdentities): Record<string, string> {
  return {
    EVENT_LOG: 'jetstream',
    NATS_URL: urls.join(','),
    NATS_STREAM: stream,
    NATS_USER: bus.user,
    NATS_PASSWORD: bus.password,
    NATS_ADMIN_USER: admin.user,
    NATS_ADMIN_PASSWORD: admin.password,
  };
}

/** The list from index `first` on, wrapping around: a replica's own peer first, then the others. */
export function startingFrom<T>(list: readonly T[], first: number): T[] {
  return list.map((_, offset) => list[(first + offset) % list.length] as T);
}
