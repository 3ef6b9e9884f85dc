/**
 * `npm run start:cluster`: the blog scaled out on this machine. A 3-node NATS JetStream cluster, 2 bus
 * replicas sharing the event stream, 2 replicas of posts, comments, query and moderation (each reading the
 * log itself), and the client server on :3000 spreading API requests over the replicas.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_PORTS,
  REPLICATED_SERVICES,
  replicaEnv,
  replicatedBusEnv,
  ROOT,
  serviceCommand,
  startingFrom,
  type EventsCredentials,
  type ServiceName,
} from './definition';
import { newNatsIdentities, writeNatsConfig, type NatsNode } from './nats';
import type { ProcessSpec } from './supervisor';

export const CLUSTER_REPLICAS = 2;
/** Replica n (from 0) of a service listens on its usual port + 10 n: posts on 4000 and 4010… */
export const REPLICA_PORT_STEP = 10;

/** The NATS nodes, on fixed ports away from NATS's default 4222: clients 14222–14224, routes 16222–16224, monitoring 18222–18224. */
export const CLUSTER_NATS_NODES: readonly NatsNode[] = [0, 1, 2].map((index) => ({
  name: `nats-${index + 1}`,
  host: '127.0.0.1',
  clientPort: 14_222 + index,
  clusterPort: 16_222 + index,
  monitorPort: 18_222 + index,
  url: `nats://127.0.0.1:${14_222 + index}`,
}));

const replicaPort = (service: ServiceName, replica: number) => DEFAULT_PORTS[service] + REPLICA_PORT_STEP * replica;
const replicaUrls = (service: ServiceName, first = 0) =>
  startingFrom(
    Array.from({ length: CLUSTER_REPLICAS }, (_, replica) => `http://127.0.0.1:${replicaPort(service, replica)}`),
    first,
  );

export interface ClusterSettings {
  natsServer: string;
  /** Where the NATS nodes keep their configuration and stores (`.data/cluster` by default). */
  dataDir?: string;
  /** None: open event intake. */
  credentials: EventsCredentials | undefined;
  /** Added to every service's environment. */
  env?: Record<string, string>;
}

export function clusterProcesses({
  natsServer,
  dataDir = path.join(ROOT, '.data', 'cluster'),
  credentials,
  env = {},
}: ClusterSettings): ProcessSpec[] {
  const natsDir = path.join(dataDir, 'nats');
  mkdirSync(natsDir, { recursive: true });
  // Fresh passwords at every start: the users live in the configuration files, not in the stores.
  const identities = newNatsIdentities();
  const nats: ProcessSpec[] = CLUSTER_NATS_NODES.map((node) => ({
    name: node.name,
    command: natsServer,
    args: ['-c', writeNatsConfig(natsDir, node, CLUSTER_NATS_NODES, 'blog-local', identities)],
    env: {},
    stopsLast: true,
  }));
  const topology = {
    busUrls: replicaUrls('event-bus'),
    busEnv: replicatedBusEnv({ urls: CLUSTER_NATS_NODES.map((node) => node.url), identities }),
    credentials,
    stateDir: (service: ServiceName, replica: number) => path.join(dataDir, 'state', `${service}-${replica + 1}`),
  };
  const services: ProcessSpec[] = REPLICATED_SERVICES.flatMap((service) =>
    Array.from({ length: CLUSTER_REPLICAS }, (_, replica) => ({
      name: `${service}-${replica + 1}`,
      ...serviceCommand(service, 'start'),
      env: { ...env, ...replicaEnv(service, replica, topology), PORT: String(replicaPort(service, replica)) },
    })),
  );
  const client: ProcessSpec = {
    name: 'client',
    ...serviceCommand('client', 'start'),
    env: {
      ...env,
      PORT: String(DEFAULT_PORTS.client),
      CLIENT_MODE: 'static',
      POSTS_URL: replicaUrls('posts').join(','),
      COMMENTS_URL: replicaUrls('comments').join(','),
      QUERY_URL: replicaUrls('query').join(','),
    },
  };
  return [...nats, ...services, client];
}
