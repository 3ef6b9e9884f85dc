/**
 * The bus's JetStream storage as the bus opens it, on a real 3-node cluster: its connection is named after
 * the process, and it leaves a server that cannot confirm a quorum.
 */
import { hostname } from 'node:os';
import { recordingLogger } from '@blog/common/testing';
import { waitFor, type NatsCluster } from '@blog/testkit';
import { DUPLICATE_WINDOW_MS } from '../../src/jetstream/event-stream';
import { openJetStreamStorage } from '../../src/jetstream/jetstream-storage';
import { connectToNats, moveToAnotherServer } from '../../src/jetstream/nats-connection';
import { BusMetrics } from '../../src/metrics';
import type { BusStorage } from '../../src/storage';
import { useNatsCluster } from './support';

const nats = useNatsCluster();

function openStorage(
  cluster: NatsCluster,
  metrics: BusMetrics,
  logger: ReturnType<typeof recordingLogger>['logger'],
): Promise<BusStorage> {
  const { identities } = cluster;
  return openJetStreamStorage(
    {
      servers: cluster.urls,
      ...identities.bus,
      admin: identities.admin,
      stream: identities.stream,
      replicas: 3,
      publishTimeoutMs: 15_000,
      duplicateWindowMs: DUPLICATE_WINDOW_MS,
      recentIds: 1_000,
      snapshotMaxBytes: 1_000_000,
      snapshotClaimTtlMs: 60_000,
    },
    logger,
    metrics,
  );
}

/** The nodes whose monitoring lists a client connection of that name. */
async function nodesServing(cluster: NatsCluster, name: string): Promise<number[]> {
  const listed = await Promise.all(
    cluster.nodes.map(async (_node, index) => {
      const { connections = [] } = (await cluster.monitor(index, '/connz')) as { connections?: { name?: string }[] };
      return connections.some((connection) => connection.name === name);
    }),
  );
  return listed.flatMap((serving, index) => (serving ? [index] : []));
}

test('a bus replica, found by its name in /connz, leaves a server that cannot confirm a quorum', async () => {
  const cluster = nats.cluster();
  const metrics = new BusMetrics();
  const { logger, lines } = recordingLogger('warn');
  const storage = await openStorage(cluster, metrics, logger);
  try {
    const [node, ...more] = await nodesServing(cluster, `event-bus/${hostname()}/${process.pid}`);
    expect(node).toBeDefined();
    expect(more).toEqual([]);
    const others = [0, 1, 2].filter((index) => index !== node);
    await Promise.all(others.map((index) => cluster.kill(index)));
    try {
      const left = async () =>
        (await metrics.registry.getSingleMetric('nats_servers_left_total')?.get())?.values[0]?.value ?? 0;
      await waitFor(async () => (await left()) >= 1, {
        what: 'the bus to leave a server without a quorum',
        timeoutMs: 30_000,
      });
      expect(lines()).toContainEqual(
        expect.objectContaining({
          msg: 'leaving a NATS server that cannot confirm a quorum of the event stream',
          server: `127.0.0.1:${cluster.nodes[node as number]?.clientPort}`,
        }),
      );
    } finally {
      await Promise.all(others.map((index) => cluster.start(index)));
    }
  } finally {
    await storage.close();
  }
});

test('moving to another server lands on another server, the first time after connecting too', async () => {
  const cluster = nats.cluster();
  const { logger } = recordingLogger('warn');
  const connection = await connectToNats(cluster.urls, cluster.identities.bus, 'event-bus', logger);
  try {
    const visited = [connection.getServer()];
    for (let move = 0; move < 3; move++) {
      await moveToAnotherServer(connection);
      visited.push(connection.getServer());
    }
    // Each move leaves the server it was on.
    expect(visited.slice(1).every((server, index) => server !== visited[index])).toBe(true);
  } finally {
    await connection.close();
  }
});
