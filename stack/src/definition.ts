/**
 * The local stack: which processes make up the blog, how each is started and how they find each other.
 * `npm start`, `npm run dev` and the full-stack tests all start the stack from this one definition.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { DEFAULT_PORTS as SERVICE_DEFAULT_PORTS } from '@blog/common/api';

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

/** The value of EVENTS_TOKEN that runs a local stack with open event intake (no token). */
export const OPEN_INTAKE = 'none';

/**
 * The EVENTS_TOKEN of a local stack from the runner's environment: the one set; none at all with
 * `EVENTS_TOKEN=none` (open intake, so that a course service can join); a fresh one otherwise.
 */
export function localEventsToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const set = env.EVENTS_TOKEN?.trim();
  if (set === OPEN_INTAKE) return undefined;
  return set || newEventsToken();
}

/** A fresh EVENTS_TOKEN for a local stack: the bus and the services share it, nothing else knows it. */
export function newEventsToken(): string {
  return randomBytes(24).toString('base64url');
}

/** The environment each process gets: its port, the URLs of what it talks to and the events token. */
export function serviceEnv(name: ServiceName, ports: StackPorts, mode: StackMode, eventsToken?: string): Record<string, string> {
  // Without a token, an empty value, so that one in the runner's own environment (e.g. "none") is not inherited.
  const common = { PORT: String(ports[name]), EVENTS_TOKEN: eventsToken ?? '' };
  switch (name) {
    case 'event-bus':
      return {
        ...common,
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
      return { ...common, EVENT_BUS_URL: url(ports['event-bus']) };
  }
}

/** The program and arguments that run a service: compiled JS with node, or the TypeScript source in watch mode. */
export function serviceCommand(name: ServiceName, mode: StackMode): { command: string; args: string[] } {
  const dir = path.join(ROOT, name);
  if (mode === 'start') {
    return { command: process.execPath, args: [path.join(dir, name === 'client' ? 'dist-server' : 'dist', 'index.js')] };
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
export function replicatedEnv(name: Exclude<ServiceName, 'client'>, { natsUrls, stream }: { natsUrls: readonly string[]; stream?: string }): Record<string, string> {
  if (name === 'event-bus') return { EVENT_LOG: 'jetstream', NATS_URL: natsUrls.join(','), EVENT_SUBSCRIBERS: 'none', ...(stream ? { NATS_STREAM: stream } : {}) };
  return { EVENTS_FOLLOW: 'true', EVENT_BUS_CONFIRM_MS: '20000' };
}

/** The list from index `first` on, wrapping around: a replica's own peer first, then the others. */
export function startingFrom<T>(list: readonly T[], first: number): T[] {
  return list.map((_, offset) => list[(first + offset) % list.length] as T);
}
