export {
  compareVersions,
  findNatsServer,
  MINIMUM_NATS_SERVER,
  natsBusEnv,
  type NatsCredentials,
  type NatsIdentities,
  type NatsNode,
} from '@blog/stack';

/**
 * A NATS JetStream cluster of real nats-server processes, for the tests of the replicated event log: on
 * 127.0.0.1, or each node on its own host of a private network (for partitions). Each node has its own
 * store, `sync_interval: always` (fsync before acknowledging), a pid file, a log file and a monitoring port. Nodes can be killed (kill -9) and started again on their store.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  findNatsServer,
  natsAccountsConfig,
  newNatsIdentities,
  ROOT,
  startProcess,
  stopProcess,
  writeNatsConfig,
  type NatsIdentities,
  type NatsNode,
  type StartedProcess,
} from '@blog/stack';
import { http } from './http';
import { freePorts } from './ports';
import type { PrivateNetwork } from './private-network';
import { describeError, waitFor } from './wait';

export interface NatsCluster {
  readonly nodes: readonly NatsNode[];
  /** Every node's client URL, for a client that fails over between them. */
  readonly urls: string[];
  /** Who may connect: the administrator, the bus (least privilege, for `identities.stream`), the routes. */
  readonly identities: NatsIdentities;
  pid(node: number): number | undefined;
  /** kill -9 of one node. */
  kill(node: number): Promise<void>;
  /** Starts a stopped node again on its store, and waits until it serves. */
  start(node: number): Promise<void>;
  /** The node's own monitoring answer for a path such as `/jsz?streams=true`. */
  monitor(node: number, pathAndQuery: string): Promise<unknown>;
  /** The node's own copy of a stream (not the leader's view): its last seq and message count, and who leads it. */
  streamCopy(node: number, stream: string): Promise<StreamCopy>;
  /** The index of the node that leads the stream now, as a majority of the nodes name it. */
  streamLeader(stream: string): Promise<number>;
  /** Whether the stream's leader reports the node's copy as current (caught up with it). */
  streamCopyCurrent(node: number, stream: string): Promise<boolean>;
  /** What each running node reports of the stream's group (leader, replicas current or not, lag), for a failure message. */
  streamViews(stream: string): Promise<string>;
  /** SIGTERM: a clean shutdown. */
  stopNode(node: number): Promise<void>;
  /** The permission violations the nodes logged so far (a user that tried what it may not do). */
  violations(): string[];
  /** Stops every node and deletes the stores; the logs stay in the folder's `logs/`. */
  stop(): Promise<void>;
}

export interface StreamCopy {
  last: number;
  messages: number;
  leader: string | undefined;
}

/** How long a fresh cluster may take to form, and how many fresh starts it gets. */
const FORMING_TIMEOUT_MS = 20_000;
const FORMING_ATTEMPTS = 3;
/**
 * How long a node started again may take to be current in the meta group before it is restarted once more:
 * in the 2.10 the tests run on, a restarted node's meta catch-up can stall until the node is restarted again
 * (one such cause was fixed upstream in nats-io/nats-server#8555). The tests are about the bus, not that.
 */
const REJOIN_TIMEOUT_MS = 20_000;

export interface NatsClusterOptions {
  dir: string;
  size?: number;
  name?: string;
  /** The event stream whose bus user the servers know (BLOG_EVENTS by default). */
  stream?: string;
  /** Each node on its own host of this network (NATS's usual ports there), instead of on 127.0.0.1. */
  network?: PrivateNetwork;
}

export async function startNatsCluster({
  dir,
  size = 3,
  name = `blog-${randomBytes(4).toString('hex')}`,
  stream,
  network,
}: NatsClusterOptions): Promise<NatsCluster> {
  const server = findNatsServer();
  const nodes = network ? nodesOnNetwork(network, size) : await nodesOnLoopback(size);
  mkdirSync(path.join(dir, 'logs'), { recursive: true });
  const identities = newNatsIdentities(stream);
  const configs = nodes.map((node) => writeNatsConfig(dir, node, nodes, name, identities));
  const running: (StartedProcess | undefined)[] = nodes.map(() => undefined);

  const monitor = async (node: number, pathAndQuery: string): Promise<unknown> => {
    const answer = await http(`http://${nodes[node]?.host}:${nodes[node]?.monitorPort}${pathAndQuery}`, {
      timeoutMs: 2_000,
    });
    if (answer.status !== 200)
      throw new Error(`${nodes[node]?.name} ${pathAndQuery}: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
    return answer.json;
  };
  type MetaCluster = { leader?: string; replicas?: { name: string; current: boolean }[] };
  const metaCluster = async (node: number) =>
    ((await monitor(node, '/jsz')) as { meta_cluster?: MetaCluster }).meta_cluster;
  /** JetStream can place a stream on every node: the meta leader sees each other node as a current peer. */
  const allPeersCurrent = async () => {
    for (const [index, node] of nodes.entries()) {
      if (running[index]?.exit !== undefined) continue;
      const meta = await metaCluster(index);
      if (meta?.leader !== node.name) continue;
      const current = new Set(
        (meta.replicas ?? []).filter((replica) => replica.current).map((replica) => replica.name),
      );
      return nodes.every(
        (other, otherIndex) => other === node || running[otherIndex]?.exit !== undefined || current.has(other.name),
      );
    }
    return false;
  };

  const launch = (node: number) => {
    const args = ['-c', configs[node] as string];
    const command = network ? network.inHost(node, server, args) : { command: server, args };
    running[node] = launchNatsServer(command, path.join(dir, 'logs', `${nodes[node]?.name}.log`));
  };
  const logTail = (node: number) => {
    const file = path.join(dir, 'logs', `${nodes[node]?.name}.log`);
    // Routes connect and drop duplicates many times at start: those lines would hide the rest.
    const lines = existsSync(file)
      ? readFileSync(file, 'utf8')
          .trimEnd()
          .split('\n')
          .filter((line) => !/Route connection created|Router connection closed/.test(line))
          .slice(-8)
      : [];
    return `${nodes[node]?.name} ${running[node]?.exit ? 'exited' : 'running'}; the end of its log:\n${lines.join('\n')}`;
  };
  const serving = (node: number, timeoutMs = 30_000) =>
    waitFor(
      async () =>
        (await metaCluster(node))?.leader !== undefined &&
        running[node]?.exit === undefined &&
        (await allPeersCurrent()),
      {
        what: `nats node ${nodes[node]?.name} to join the cluster's JetStream as a current peer`,
        timeoutMs,
        intervalMs: 100,
        // What each node thinks of the JetStream meta group (leader, peers current or not), then its log.
        detail: async () => {
          const views = await Promise.all(
            nodes.map((other, index) =>
              metaCluster(index).then(
                (meta) => `${other.name}: ${JSON.stringify(meta)}`,
                (err: Error) => `${other.name}: ${err.message}`,
              ),
            ),
          );
          return [...views, ...nodes.map((_, index) => logTail(index))].join('\n');
        },
      },
    );

  type StreamDetail = {
    name: string;
    state: { last_seq: number; messages: number };
    cluster?: { leader?: string; replicas?: { name: string; current: boolean; lag?: number }[] };
  };
  const streamDetail = async (node: number, stream: string): Promise<StreamDetail | undefined> => {
    const jsz = (await monitor(node, '/jsz?streams=true')) as {
      account_details?: { stream_detail?: StreamDetail[] }[];
    };
    return jsz.account_details
      ?.flatMap((account) => account.stream_detail ?? [])
      .find((candidate) => candidate.name === stream);
  };
  const streamCopy = async (node: number, stream: string): Promise<StreamCopy> => {
    const detail = await streamDetail(node, stream);
    return {
      last: detail?.state.last_seq ?? 0,
      messages: detail?.state.messages ?? 0,
      leader: detail?.cluster?.leader,
    };
  };

  const cluster: NatsCluster = {
    nodes,
    urls: nodes.map((node) => node.url),
    identities,
    pid: (node) => (running[node]?.exit === undefined ? running[node]?.child.pid : undefined),
    kill: async (node) => {
      const started = running[node];
      if (started) await stopProcess(started, 'SIGKILL');
    },
    start: async (node) => {
      if (cluster.pid(node) !== undefined) throw new Error(`${nodes[node]?.name} is running`);
      launch(node);
      try {
        await serving(node, REJOIN_TIMEOUT_MS);
      } catch (stalled) {
        process.stderr.write(`${describeError(stalled)}\nrestarting ${nodes[node]?.name} once\n`);
        await cluster.stopNode(node);
        launch(node);
        await serving(node);
      }
    },
    monitor,
    streamCopy,
    streamLeader: async (stream) => {
      // A leader cut off from the others goes on naming itself for a while: the majority's word counts.
      const named = await Promise.all(
        nodes.map((_, index) =>
          cluster.pid(index) === undefined
            ? Promise.resolve(undefined)
            : streamCopy(index, stream).then(
                ({ leader }) => leader,
                () => undefined,
              ),
        ),
      );
      const majority = Math.floor(nodes.length / 2) + 1;
      const agreed = nodes.findIndex((node) => named.filter((leader) => leader === node.name).length >= majority);
      if (agreed === -1)
        throw new Error(
          `no majority of the nodes names one leader of stream ${stream} (${named.map((leader, index) => `${nodes[index]?.name}: ${leader ?? '?'}`).join(', ')})`,
        );
      return agreed;
    },
    violations: () =>
      nodes.flatMap((node) => {
        const file = path.join(dir, 'logs', `${node.name}.log`);
        return existsSync(file)
          ? readFileSync(file, 'utf8')
              .split('\n')
              .filter((line) => / Violation - /.test(line))
          : [];
      }),
    streamCopyCurrent: async (node, stream) => {
      const leader = await cluster.streamLeader(stream);
      if (leader === node) return true;
      const detail = await streamDetail(leader, stream);
      return (
        detail?.cluster?.replicas?.some((replica) => replica.name === nodes[node]?.name && replica.current) ?? false
      );
    },
    streamViews: async (stream) => {
      const views = await Promise.all(
        nodes.map((node, index) =>
          cluster.pid(index) === undefined
            ? Promise.resolve(`${node.name}: not running`)
            : streamDetail(index, stream).then(
                (detail) => `${node.name}: last ${detail?.state.last_seq}, cluster ${JSON.stringify(detail?.cluster)}`,
                (err: Error) => `${node.name}: ${err.message}`,
              ),
        ),
      );
      return views.join('\n');
    },
    stopNode: async (node) => {
      const started = running[node];
      if (started) await stopProcess(started, 'SIGTERM', 10_000);
    },
    stop: async () => {
      await Promise.all(
        running.filter((started) => started !== undefined).map((started) => stopProcess(started, 'SIGTERM', 5_000)),
      );
      rmSync(path.join(dir, 'store'), { recursive: true, force: true });
    },
  };
  // Started at the same moment, the servers now and then bootstrap the JetStream meta group with two of
  // the three (`cluster_size` 2 on every node) and leave the third out for good; it forms in well under a
  // second otherwise. Such a cluster is stopped and started again from empty stores.
  const failures: string[] = [];
  for (let attempt = 1; attempt <= FORMING_ATTEMPTS; attempt++) {
    try {
      nodes.forEach((_, node) => launch(node));
      await Promise.all(nodes.map((_, node) => serving(node, FORMING_TIMEOUT_MS)));
      return cluster;
    } catch (err) {
      failures.push(`attempt ${attempt}: ${describeError(err)}`);
      await cluster.stop();
    }
  }
  throw new Error(`the NATS cluster did not form in ${FORMING_ATTEMPTS} attempts:\n${failures.join('\n')}`);
}

async function nodesOnLoopback(size: number): Promise<NatsNode[]> {
  const ports = await freePorts(size * 3);
  return Array.from({ length: size }, (_, i) => ({
    name: `n${i + 1}`,
    host: '127.0.0.1',
    clientPort: ports[i * 3] as number,
    clusterPort: ports[i * 3 + 1] as number,
    monitorPort: ports[i * 3 + 2] as number,
    url: `nats://127.0.0.1:${ports[i * 3]}`,
  }));
}

function nodesOnNetwork(network: PrivateNetwork, size: number): NatsNode[] {
  if (network.addresses.length < size)
    throw new Error(`the private network has ${network.addresses.length} hosts, not ${size}`);
  return network.addresses.slice(0, size).map((host, i) => ({
    name: `n${i + 1}`,
    host,
    clientPort: 4222,
    clusterPort: 6222,
    monitorPort: 8222,
    url: `nats://${host}:4222`,
  }));
}

export interface NatsServer {
  readonly url: string;
  readonly identities: NatsIdentities;
  readonly pid: number | undefined;
  /** SIGTERM, then deletes its store; its log stays in the folder. */
  stop(): Promise<void>;
}

/**
 * One nats-server with JetStream and no cluster, on 127.0.0.1, for a long history written before anything
 * is measured (the bench's catch-up): it fsyncs on the server's default interval, not for each message.
 */
export async function startNatsServer({ dir, stream }: { dir: string; stream?: string }): Promise<NatsServer> {
  const server = findNatsServer();
  const [clientPort, monitorPort] = (await freePorts(2)) as [number, number];
  const store = path.join(dir, 'store');
  mkdirSync(store, { recursive: true });
  const config = path.join(dir, 'nats.conf');
  const identities = newNatsIdentities(stream);
  writeFileSync(
    config,
    [
      `listen: "127.0.0.1:${clientPort}"`,
      `http: "127.0.0.1:${monitorPort}"`,
      `jetstream { store_dir: "${store}" }`,
      natsAccountsConfig(identities),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const started = launchNatsServer({ command: server, args: ['-c', config] }, path.join(dir, 'nats.log'));
  const stop = async () => {
    await stopProcess(started, 'SIGTERM', 10_000);
    rmSync(store, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () =>
        started.exit === undefined &&
        (await http(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`, { timeoutMs: 1_000 })).status ===
          200,
      {
        what: `nats-server with JetStream on port ${clientPort}`,
        timeoutMs: 20_000,
      },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `nats://127.0.0.1:${clientPort}`, identities, pid: started.child.pid, stop };
}

/** nats-server (maybe inside a network namespace), its output appended to `logFile`. */
function launchNatsServer({ command, args }: { command: string; args: string[] }, logFile: string): StartedProcess {
  const log = openSync(logFile, 'a');
  try {
    return startProcess(command, args, { env: process.env, cwd: ROOT, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
}

/** A nats-server on a configuration of the test's own (a rogue server, say): its log, and a stop. */
export interface NatsProcess {
  log(): string;
  stop(): Promise<void>;
}

export function startNatsProcess({ dir, name, config }: { dir: string; name: string; config: string }): NatsProcess {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.conf`);
  const logFile = path.join(dir, `${name}.log`);
  writeFileSync(file, config);
  const started = launchNatsServer({ command: findNatsServer(), args: ['-c', file] }, logFile);
  return {
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    stop: () => stopProcess(started, 'SIGTERM', 5_000).then(() => undefined),
  };
}
