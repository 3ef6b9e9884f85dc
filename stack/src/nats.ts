/**
 * NATS JetStream servers on this machine, for the scaled-out blog (`npm run start:cluster`) and its tests:
 * which nats-server to run, and each node's configuration (own store, `sync_interval: always`, a pid file,
 * a monitoring port, routes to the other nodes, users with passwords made fresh at each start), on
 * 127.0.0.1 (or, in the partition tests, each node on its own address).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_NATS_STREAM,
  NATS_ACCOUNT,
  NATS_ADMIN_USER,
  NATS_BUS_USER,
  NATS_ROUTE_USER,
  natsBusPermissions,
} from '@blog/common/nats';

/** The first release whose `sync_interval: always` makes JetStream fsync before it acknowledges. */
export const MINIMUM_NATS_SERVER = '2.10.23';

const INSTALL_HINT = `run tools/scripts/nats-server.sh (on Debian or Ubuntu, as root, it fetches one into ~/.cache/blog-nats), or set NATS_SERVER to a nats-server ${MINIMUM_NATS_SERVER} or later`;

/** The nats-server to run: NATS_SERVER, the one tools/scripts/nats-server.sh caches, or the PATH's. */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [
    env.NATS_SERVER,
    path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'blog-nats', 'nats-server'),
    'nats-server',
  ];
  const seen: string[] = [];
  for (const candidate of candidates) {
    if (!candidate || (candidate.includes('/') && !existsSync(candidate))) continue;
    let version: string | undefined;
    try {
      version = /v(\d+\.\d+\.\d+)/.exec(execFileSync(candidate, ['--version'], { encoding: 'utf8', env }))?.[1];
    } catch {
      continue;
    }
    if (version && compareVersions(version, MINIMUM_NATS_SERVER) >= 0) return candidate;
    seen.push(`${candidate} is ${version ?? 'of an unknown version'}`);
  }
  throw new Error(
    `no nats-server ${MINIMUM_NATS_SERVER} or later found${seen.length > 0 ? ` (${seen.join('; ')})` : ''}: ${INSTALL_HINT}`,
  );
}

export function compareVersions(a: string, b: string): number {
  const [x, y] = [a, b].map((version) => version.split('.').map(Number));
  for (let i = 0; i < 3; i++) {
    const difference = (x?.[i] ?? 0) - (y?.[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

export interface NatsNode {
  readonly name: string;
  /** The address it listens on: 127.0.0.1, or its own address on a private network in the tests. */
  readonly host: string;
  readonly clientPort: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  /** nats://<host>:<clientPort> */
  readonly url: string;
}

export interface NatsCredentials {
  user: string;
  password: string;
}

/**
 * Who may connect: the administrator (stream and bucket setup), the bus (least privilege, for the event
 * stream named `stream`) and the routes between the nodes. Nobody else: no anonymous client, no server
 * without the route password.
 */
export interface NatsIdentities {
  stream: string;
  admin: NatsCredentials;
  bus: NatsCredentials;
  route: NatsCredentials;
}

/** Fresh passwords for one run of a cluster; the bus's permissions are for `stream`. */
export function newNatsIdentities(stream = DEFAULT_NATS_STREAM): NatsIdentities {
  const password = () => randomBytes(18).toString('base64url');
  return {
    stream,
    admin: { user: NATS_ADMIN_USER, password: password() },
    bus: { user: NATS_BUS_USER, password: password() },
    route: { user: NATS_ROUTE_USER, password: password() },
  };
}

/** The `accounts` block: one account with JetStream, its administrator, and the bus with its permissions. */
export function natsAccountsConfig({ stream, admin, bus }: NatsIdentities): string {
  const list = (subjects: string[]) => `[${subjects.map((subject) => JSON.stringify(subject)).join(', ')}]`;
  const permissions = natsBusPermissions(stream);
  return [
    `accounts { ${NATS_ACCOUNT} {`,
    '  jetstream: enabled',
    '  users: [',
    `    { user: ${JSON.stringify(admin.user)}, password: ${JSON.stringify(admin.password)} }`,
    `    { user: ${JSON.stringify(bus.user)}, password: ${JSON.stringify(bus.password)}, permissions: { publish: { allow: ${list(permissions.publish)} }, subscribe: { allow: ${list(permissions.subscribe)} } } }`,
    '  ]',
    '} }',
  ].join('\n');
}

/** Writes `<dir>/<node>.conf` for one node of a cluster named `cluster`; its store goes in `<dir>/store/<node>`. */
export function writeNatsConfig(
  dir: string,
  node: NatsNode,
  nodes: readonly NatsNode[],
  cluster: string,
  identities: NatsIdentities,
): string {
  const { route } = identities;
  const routes = nodes
    .filter((other) => other !== node)
    .map((other) => `"nats-route://${route.user}:${route.password}@${other.host}:${other.clusterPort}"`);
  const file = path.join(dir, `${node.name}.conf`);
  writeFileSync(
    file,
    [
      `server_name: ${node.name}`,
      `listen: "${node.host}:${node.clientPort}"`,
      `http: "${node.host}:${node.monitorPort}"`,
      `pid_file: "${path.join(dir, `${node.name}.pid`)}"`,
      // Every acknowledged message is fsynced first: the default lazy fsync can lose acknowledged writes.
      `jetstream { store_dir: "${path.join(dir, 'store', node.name)}", sync_interval: always }`,
      // A name of its own, no gossip of routes and a route password: no other server on this machine joins.
      `cluster { name: ${cluster}, listen: "${node.host}:${node.clusterPort}", no_advertise: true, authorization: { user: ${JSON.stringify(route.user)}, password: ${JSON.stringify(route.password)} }, routes: [${routes.join(', ')}] }`,
      natsAccountsConfig(identities),
      '',
    ].join('\n'),
    // Passwords inside: for this user's eyes only, from the start (the chmod for a file written before).
    { mode: 0o600 },
  );
  chmodSync(file, 0o600);
  return file;
}
