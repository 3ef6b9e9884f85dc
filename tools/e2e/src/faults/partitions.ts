/**
 * What a partition scenario needs of the NATS cluster: which node a bus replica is connected to, and a
 * stream's (or bucket's) leader moved onto a chosen node, so that the node cut off is the one that matters.
 */
import { connect } from '@nats-io/transport-node';
import { waitFor, type NatsCluster } from '@blog/testkit';

/** The node the bus process `pid` is connected to, from each node's own list of its clients. */
export async function natsNodeOfBus(nats: NatsCluster, pid: number): Promise<number> {
  return waitFor(
    async () => {
      for (const [node] of nats.nodes.entries()) {
        if (nats.pid(node) === undefined) continue;
        const { connections = [] } = (await nats.monitor(node, '/connz?limit=4096')) as {
          connections?: { name?: string }[];
        };
        // The bus names its connection event-bus/<host>/<pid>.
        if (connections.some(({ name }) => name?.startsWith('event-bus/') && name.endsWith(`/${pid}`))) return node + 1;
      }
      return undefined;
    },
    { what: `a NATS node with the bus process ${pid} as a client`, timeoutMs: 10_000 },
  ).then((oneBased) => oneBased - 1);
}

/** How many times the leader is asked to step down before giving up: each time JetStream picks a follower. */
const STEPDOWN_ATTEMPTS = 16;

/** Asks the leader of `stream` to step down until the leader is `node` (JetStream picks the next one itself). */
export function moveLeader(nats: NatsCluster, stream: string, node: number): Promise<void> {
  return stepDownUntil(nats, stream, (leader) => leader === node, `to ${nats.nodes[node]?.name}`);
}

/** Asks the leader of `stream` to step down until the leader is another node than `node`. */
export function moveLeaderAway(nats: NatsCluster, stream: string, node: number): Promise<void> {
  return stepDownUntil(nats, stream, (leader) => leader !== node, `off ${nats.nodes[node]?.name}`);
}

async function stepDownUntil(
  nats: NatsCluster,
  stream: string,
  wanted: (leader: number) => boolean,
  where: string,
): Promise<void> {
  const { admin } = nats.identities;
  const connection = await connect({ servers: nats.urls, user: admin.user, pass: admin.password, name: 'fault-suite' });
  try {
    for (let attempt = 0; attempt < STEPDOWN_ATTEMPTS; attempt++) {
      // One-based inside the wait: node 0 would read as "not yet".
      const leader =
        (await waitFor(
          () =>
            nats.streamLeader(stream).then(
              (found) => found + 1,
              () => undefined,
            ),
          { what: `a leader of ${stream}`, timeoutMs: 20_000 },
        )) - 1;
      if (wanted(leader)) return;
      await connection.request(`$JS.API.STREAM.LEADER.STEPDOWN.${stream}`, undefined, { timeout: 5_000 });
      await waitFor(async () => (await nats.streamLeader(stream).catch(() => leader)) !== leader, {
        what: `${stream}'s leader ${nats.nodes[leader]?.name} to step down`,
        timeoutMs: 20_000,
        intervalMs: 100,
      });
    }
    throw new Error(`${stream}'s leader did not move ${where} in ${STEPDOWN_ATTEMPTS} step-downs`);
  } finally {
    await connection.close();
  }
}
