/**
 * Fault injection on the scaled-out blog (`npm run test:cluster`): a 3-node NATS JetStream cluster, 2 bus
 * replicas, 2 replicas of every service, and a course-style subscriber the bus pushes to (it answers `{}`
 * and takes no batches). Under a steady load of post and comment creates spread over the replicas, one
 * fault at a time:
 *
 * - kill -9 of the stream's leader, of a follower, of the bus replica holding the delivery lease, of one
 *   that does not, of a query replica; a NATS node stopped and started again, whose own copy of the stream
 *   must catch up (read from that node, not from the leader).
 * - Partitions, with each NATS node on its own address in a network namespace (as root; otherwise the
 *   suite says why and runs the rest): the stream's leader cut off with a bus replica on it; the lease and
 *   positions buckets' leaders cut off with the delivering bus on them; a one-way cut; a flapping link.
 *
 * After each, the state must converge, within 45 s of everything running again, to exactly what was
 * acknowledged, as each replica of each service shows it: every 201 there once with the right moderation
 * status, nothing from a refused request, one CommentModerated and one CommentUpdated per comment, seqs
 * contiguous; every query replica with the same read model; the course-style subscriber sent every event,
 * in order, and never an event older than the last it was sent (one deliverer at a time, each taking over
 * where the last stopped: at most the event in flight again). No answer but 201 and the documented 503s.
 * The table is printed and written to tools/e2e/results/cluster-faults.md.
 *
 * Environment: CLUSTER_FAULT_RATE (requests/s, default 40), FAULT_SEED (default 1).
 */
import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { natsStorageNames } from '@blog/common/nats';
import {
  createPrivateNetwork,
  delay,
  findNatsServer,
  http,
  privateNetworkUnavailable,
  startNatsCluster,
  startReplicatedStack,
  waitFor,
  type NatsCluster,
  type PrivateNetwork,
  type ReplicatedService,
  type ReplicatedStack,
  type ServiceName,
} from '@blog/testkit';
import { Ledger, startLoad, type LoadReport } from '../../src/faults/load';
import { moveLeader, moveLeaderAway, natsNodeOfBus } from '../../src/faults/partitions';
import { HistoryReader, summarize, verifyUntilPassing, type Anomaly } from '../../src/faults/verify';

const ARTIFACTS = path.join(__dirname, '..', '..', 'artifacts');
const LOG_DIR = path.join(ARTIFACTS, 'logs', 'cluster-faults');
/** The table of the last run is committed: the docs point at it instead of quoting figures. */
const RESULTS = path.join(__dirname, '..', '..', 'results');
const RATE = Number(process.env.CLUSTER_FAULT_RATE ?? 40);
const LOAD_SEED = Number(process.env.FAULT_SEED ?? 1);
const STREAM = 'BLOG_EVENTS';
const WARMUP_MS = 1_000;
const AFTER_READY_MS = 1_000;
/**
 * After a NATS leader change a bus replica's ordered consumer can take well over 10 s to follow again
 * (its own recovery and this log's watchdog), and the positions bucket refuses writes meanwhile: the
 * table shows how long each fault took.
 */
const RECOVERY_BOUND_MS = 45_000;
const RUN_ID = `c${Date.now().toString(36)}`;

let dir: string;
/** Why the partition scenarios cannot run here, or undefined: they run, each NATS node on a host of `network`. */
const noNetwork = privateNetworkUnavailable();
let network: PrivateNetwork | undefined;
let nats: NatsCluster;
let stack: ReplicatedStack;
const ledger = new Ledger();
const known = new Set<string>();

/** A course-style subscriber: POST /events only, answers `{}`; records every seq it is sent. */
const received: number[] = [];
let subscriber: Server;
let subscriberUrl: string;

/** Each replica index as a stack of its own, for the verification: bus i, posts i, comments i, query i. */
function replicaView(replica: number) {
  return {
    url: (name: ServiceName) => stack.url(name as ReplicatedService, replica),
    eventHeaders: () => stack.eventHeaders(),
  };
}
const histories = [0, 1].map((replica) => new HistoryReader(() => replicaView(replica)));

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'blog-cluster-faults-'));
  subscriber = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/events') return void res.writeHead(404).end();
      received.push((JSON.parse(body) as { seq: number }).seq);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => subscriber.listen(0, '127.0.0.1', resolve));
  const address = subscriber.address();
  subscriberUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  if (noNetwork) process.stdout.write(`The partition scenarios do not run here: ${noNetwork}.\n`);
  else network = createPrivateNetwork({ hosts: 3 });
  nats = await startNatsCluster({ dir: path.join(dir, 'nats'), stream: STREAM, network });
  rmSync(path.join(LOG_DIR, 'nats'), { recursive: true, force: true });
  stack = await startReplicatedStack({ nats, logDir: LOG_DIR, subscribers: [subscriberUrl] });
}, 120_000);

afterAll(async () => {
  try {
    await stack?.stopAll();
    await nats?.stop();
  } finally {
    network?.remove();
    subscriber?.close();
    // The NATS servers' logs go beside the services' (elections, route losses, lagging copies).
    const natsLogs = path.join(dir, 'nats', 'logs');
    if (existsSync(natsLogs)) cpSync(natsLogs, path.join(LOG_DIR, 'nats'), { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
  if (rows.length === 0) return;
  const table = renderTable() + (noNetwork ? `\nThe partition scenarios did not run: ${noNetwork}.\n` : '');
  const natsServer = execFileSync(findNatsServer(), ['--version'], { encoding: 'utf8' }).trim();
  const heading = `# The cluster fault suite\n\nRun of ${new Date().toISOString()} (${os.cpus().length} cores, ${natsServer}), written by \`npm run test:cluster\`.\n\n`;
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, 'cluster-faults.md'), heading + table);
  process.stdout.write(`\n${table}\n`);
}, 60_000);

interface Row {
  scenario: string;
  report: LoadReport;
  anomalies: number;
  recoveryMs: number | undefined;
  catchUpMs: number | undefined;
  redelivered: number;
}
const rows: Row[] = [];

/** Which bus replica holds the delivery lease, from its metrics. */
async function deliveringBus(): Promise<number> {
  return waitFor(
    async () => {
      for (let replica = 0; replica < stack.replicas; replica++) {
        if (stack.pid('event-bus', replica) === undefined) continue;
        const { text } = await http(`${stack.url('event-bus', replica)}/metrics`);
        if (/^event_bus_delivering 1$/m.test(text)) return replica + 1;
      }
      return undefined;
    },
    { what: 'a bus replica to hold the delivery lease', timeoutMs: 15_000 },
  ).then((oneBased) => oneBased - 1);
}

/**
 * How long a restarted node's copy of the stream may take to be current again, as the stream's leader
 * reports it: it replays its own store, then fetches what was written while it was down (a few hundred
 * events at this rate) while the load goes on. Seconds here; the bound leaves room for a slow machine and
 * for the node's own restart once when its meta catch-up stalls (the test kit's REJOIN_TIMEOUT_MS).
 */
const COPY_CURRENT_TIMEOUT_MS = 45_000;

/**
 * How long a restarted node's stream catch-up may take before it is restarted once more: nats-server 2.10
 * now and then leaves a restarted node's catch-up of a stream stalled (seen here: no "Catchup … complete"
 * in its log for over a minute, its copy thousands of events behind) until its next restart. The tests are
 * about the bus, not that; the row's time includes the second start.
 */
const CATCH_UP_STALLED_MS = 20_000;

async function restartAndCatchUp(node: number): Promise<number> {
  const started = performance.now();
  await nats.start(node);
  try {
    await copyCurrentSince(node, started, CATCH_UP_STALLED_MS);
  } catch (stalled) {
    process.stderr.write(
      `${(stalled as Error).message}\nrestarting ${nats.nodes[node]?.name} once: its catch-up stalled\n`,
    );
    await nats.stopNode(node);
    await nats.start(node);
    await copyCurrentSince(node, started);
  }
  return performance.now() - started;
}

/** Waits until the stream's leader reports the node's own copy current; the time since `since`. */
async function copyCurrentSince(node: number, since: number, timeoutMs = COPY_CURRENT_TIMEOUT_MS): Promise<number> {
  await waitFor(() => nats.streamCopyCurrent(node, STREAM).catch(() => false), {
    what: `the stream's leader to report node ${node + 1}'s own copy current`,
    timeoutMs,
    intervalMs: 100,
    detail: () => nats.streamViews(STREAM),
  });
  return performance.now() - since;
}

interface Fault {
  name: string;
  slug: string;
  /** Partitions need each NATS node on its own address. */
  needsNetwork?: boolean;
  /** How long the load may run (60 s unless the fault takes longer). */
  loadMs?: number;
  /** Sets the scene before the load starts (moves a leader, say). */
  prepare?: () => Promise<void>;
  /** Injects the fault and undoes it; resolves with how long the node's own copy took to catch up, if asked. */
  inject: () => Promise<number | undefined>;
}

const killNatsNode = async (which: 'leader' | 'follower') => {
  const leader = await nats.streamLeader(STREAM);
  const node = which === 'leader' ? leader : (leader + 1) % nats.nodes.length;
  await nats.kill(node);
  await delay(2_000);
  return restartAndCatchUp(node);
};

const killService = async (service: ReplicatedService, replica: number) => {
  await stack.kill(service, replica);
  await delay(1_000);
  await stack.start(service, replica);
  return undefined;
};

/** How long a partition lasts: past NATS's election timeouts, so the majority side elects new leaders. */
const CUT_MS = 10_000;
const FLAP_MS = 3_000;
const FLAPPING_FOR_MS = 60_000;
const names = natsStorageNames(STREAM);

function privateNetwork(): PrivateNetwork {
  if (!network) throw new Error(`no private network: ${noNetwork}`);
  return network;
}

/** The node the scenario cuts off: the node of a bus replica, where `prepare` moved the leaders that matter. */
let cutNode = 0;
/** The bus replica on it. */
let cutBus = 0;
const busNode = async (replica: number) => natsNodeOfBus(nats, stack.pid('event-bus', replica) as number);

/** Who leads the stream, the buckets and the meta group, for the record of a partition scenario. */
async function leaders(): Promise<string> {
  const leaderOf = (stream: string) =>
    nats.streamLeader(stream).then(
      (node) => nats.nodes[node]?.name,
      (err: Error) => err.message,
    );
  const meta = ((await nats.monitor(0, '/jsz')) as { meta_cluster?: { leader?: string } }).meta_cluster?.leader;
  return `leaders: stream ${await leaderOf(STREAM)}, lease ${await leaderOf(`KV_${names.lease}`)}, positions ${await leaderOf(`KV_${names.positions}`)}, meta ${meta}`;
}

/** Fails unless the scene `prepare` set is still there: the bus replica on the node, leading what it must. */
async function expectScene(leading: string[]): Promise<void> {
  expect(await busNode(cutBus)).toBe(cutNode);
  for (const stream of leading) expect([stream, await nats.streamLeader(stream)]).toEqual([stream, cutNode]);
}

/**
 * How long the test waits, the cut in place, for what the bus must do while cut off (leave its server, stop
 * delivering): bounded by its own bounds (10 s without a quorum, the lease's 8 s) with room for a slow machine.
 */
const WHILE_CUT_TIMEOUT_MS = 30_000;

/**
 * Cuts the node off as `cut` says, for at least CUT_MS and until `until` holds, heals, and waits until the
 * node's own copy is current: the time from the heal.
 */
async function cutThenHeal(cut: () => void, until?: { what: string; check: () => Promise<boolean> }): Promise<number> {
  try {
    cut();
    await Promise.all([
      delay(CUT_MS),
      until && waitFor(until.check, { what: until.what, timeoutMs: WHILE_CUT_TIMEOUT_MS, intervalMs: 200 }),
    ]);
  } finally {
    privateNetwork().heal();
  }
  return copyCurrentSince(cutNode, performance.now());
}

/** The bus replica on the cut-off node has moved to another node. */
const busLeft = () => ({
  what: `bus replica ${cutBus + 1} to leave the cut-off node`,
  check: async () => (await busNode(cutBus).catch(() => cutNode)) !== cutNode,
});

/** The scene of the stream's partitions: the stream's leader moved onto the node of bus replica `replica`. */
async function streamLeaderWithBus(replica: number): Promise<void> {
  cutBus = replica;
  cutNode = await busNode(replica);
  await moveLeader(nats, STREAM, cutNode);
}

const partitions: Fault[] = [
  {
    name: "the stream's leader cut off from the other NATS nodes for 10 s, a bus replica on it",
    slug: 'cut-stream-leader',
    prepare: () => streamLeaderWithBus(0),
    inject: async () => {
      await expectScene([STREAM]);
      return cutThenHeal(() => privateNetwork().isolate(cutNode), busLeft());
    },
  },
  {
    name: "the lease and positions buckets' leaders cut off for 10 s (the stream's leader elsewhere), the delivering bus on their node",
    slug: 'cut-bucket-leaders',
    prepare: async () => {
      cutBus = await deliveringBus();
      cutNode = await busNode(cutBus);
      await moveLeader(nats, `KV_${names.lease}`, cutNode);
      await moveLeader(nats, `KV_${names.positions}`, cutNode);
      // The events' stream led elsewhere: this cut is about the lease and the positions only.
      await moveLeaderAway(nats, STREAM, cutNode);
    },
    inject: async () => {
      await expectScene([`KV_${names.lease}`, `KV_${names.positions}`]);
      // The holder cut off stops delivering; the check of the receipts below sees one deliverer at a time.
      return cutThenHeal(() => privateNetwork().isolate(cutNode), {
        what: `bus replica ${cutBus + 1}, cut off, to stop delivering`,
        check: async () =>
          /^event_bus_delivering 0$/m.test((await http(`${stack.url('event-bus', cutBus)}/metrics`)).text),
      });
    },
  },
  {
    name: "one-way cut for 10 s: the stream leader's packets to the other nodes dropped, theirs to it delivered",
    slug: 'one-way-cut',
    prepare: () => streamLeaderWithBus(1),
    inject: async () => {
      await expectScene([STREAM]);
      return cutThenHeal(() => {
        for (const other of nats.nodes.keys())
          if (other !== cutNode) privateNetwork().cut(cutNode, other, { oneWay: true });
      }, busLeft());
    },
  },
  {
    name: 'a flapping link: the stream leader cut off and healed every 3 s for 60 s, a bus replica on it',
    slug: 'flapping-link',
    loadMs: FLAPPING_FOR_MS + 30_000,
    prepare: () => streamLeaderWithBus(0),
    inject: async () => {
      await expectScene([STREAM]);
      const until = performance.now() + FLAPPING_FOR_MS;
      while (performance.now() + 2 * FLAP_MS < until) {
        try {
          privateNetwork().isolate(cutNode);
          await delay(FLAP_MS);
        } finally {
          privateNetwork().heal();
        }
        await delay(FLAP_MS);
      }
      return copyCurrentSince(cutNode, performance.now());
    },
  },
].map((fault) => ({ ...fault, needsNetwork: true }));

const faults: Fault[] = [
  {
    name: "kill -9 the stream's leader (NATS), restart after 2 s",
    slug: 'kill-leader',
    inject: () => killNatsNode('leader'),
  },
  {
    name: 'kill -9 a stream follower (NATS), restart after 2 s',
    slug: 'kill-follower',
    inject: () => killNatsNode('follower'),
  },
  {
    name: 'kill -9 the bus replica holding deliveries, restart after 1 s',
    slug: 'kill-delivering-bus',
    inject: async () => killService('event-bus', await deliveringBus()),
  },
  {
    name: 'kill -9 a bus replica not delivering, restart after 1 s',
    slug: 'kill-standby-bus',
    inject: async () => killService('event-bus', 1 - (await deliveringBus())),
  },
  { name: 'kill -9 a query replica, restart after 1 s', slug: 'kill-query', inject: () => killService('query', 0) },
  {
    name: 'a NATS node stopped and started again; its own copy catches up',
    slug: 'restart-node',
    inject: async () => {
      const node = (await nats.streamLeader(STREAM)) === 2 ? 1 : 2;
      await nats.stopNode(node);
      await delay(2_000);
      return restartAndCatchUp(node);
    },
  },
  ...partitions,
];
const runnable = faults.filter((fault) => !fault.needsNetwork || !noNetwork);

test.each(runnable.map((fault) => [fault.name, fault, faults.indexOf(fault)] as const))(
  'under load: %s — each replica shows exactly what was acknowledged',
  async (_name, fault, index) => {
    await fault.prepare?.();
    if (fault.needsNetwork)
      process.stdout.write(`${fault.slug}: cutting ${nats.nodes[cutNode]?.name}; ${await leaders()}\n`);
    const receivedBefore = received.length;
    const distinctBefore = new Set(received).size;
    const load = startLoad({
      postsUrl: stack.urls('posts'),
      commentsUrl: stack.urls('comments'),
      ledger,
      scenario: fault.slug,
      runId: RUN_ID,
      ratePerSecond: RATE,
      seed: LOAD_SEED * 1_000 + index,
      // Longer than a service's wait for the bus (EVENT_BUS_CONFIRM_MS 20 s) while a leader is elected.
      requestTimeoutMs: 25_000,
      maxDurationMs: fault.loadMs ?? 60_000,
    });
    let report: LoadReport;
    let catchUpMs: number | undefined;
    let readyAt: number;
    try {
      await delay(WARMUP_MS);
      catchUpMs = await fault.inject();
      readyAt = performance.now();
      await delay(AFTER_READY_MS);
    } finally {
      report = await load.stop();
    }

    const fresh: Anomaly[] = [];
    let allPassed = true;
    let passedAt = 0;
    for (const replica of [0, 1]) {
      const result = await verifyUntilPassing({
        stack: replicaView(replica),
        ledger,
        runId: RUN_ID,
        history: histories[replica] as HistoryReader,
        known,
        deadline: readyAt + RECOVERY_BOUND_MS,
      });
      fresh.push(
        ...result.fresh.map((anomaly) => ({ ...anomaly, detail: `replica ${replica + 1}: ${anomaly.detail}` })),
      );
      allPassed &&= result.passed;
      passedAt = Math.max(passedAt, result.passedAt ?? 0);
    }
    for (const anomaly of fresh) known.add(anomaly.key);
    const [first, second] = await Promise.all(
      [0, 1].map(async (replica) => (await http(`${stack.url('query', replica)}/posts`)).text),
    );
    const history = await (histories[0] as HistoryReader).read();
    // The course-style subscriber: every seq, in order of first receipt; again only what was in flight.
    const firstReceipts = [...new Set(received)];
    const redelivered = received.length - receivedBefore - (firstReceipts.length - distinctBefore);
    rows.push({
      scenario: fault.name,
      report,
      anomalies: fresh.length,
      recoveryMs: allPassed ? passedAt - readyAt : undefined,
      catchUpMs,
      redelivered,
    });

    expect(summarize(fresh)).toBe('no anomalies');
    expect(second).toBe(first);
    expect(firstReceipts).toEqual(history.map(({ seq }) => seq));
    // One deliverer at a time: an event older than the last one sent means two replicas delivering at once,
    // or a takeover from a position stored behind what was delivered (re-sending the event in flight is fine;
    // the table's last column counts every re-send, which two replicas in step would show).
    expect(sentAgainBeyondTheLast(receivedBefore)).toEqual([]);
    // No answer but 201 and the documented 503s ("nothing was changed" and "may or may not have been made").
    const otherAnswers = ledger
      .ofScenario(fault.slug)
      .filter((record) => record.outcome === 'rejected' || record.outcome === 'ambiguous')
      .map((record) => `${record.kind} ${record.httpStatus ?? 'no answer'}: ${(record.error ?? '').slice(0, 160)}`);
    expect(otherAnswers).toEqual([]);
    expect(report.posts.acknowledged + report.comments.acknowledged).toBeGreaterThan(0);
    // The bus's least-privilege NATS user did all this (deliveries, positions, the lease) within its permissions.
    expect(nats.violations()).toEqual([]);
  },
  300_000,
);

/** Receipts (from `from` on) of a seq older than the newest sent before them: each as "seq after newest". */
function sentAgainBeyondTheLast(from: number): string[] {
  const found: string[] = [];
  let newest = received.slice(0, from).reduce((max, seq) => Math.max(max, seq), 0);
  for (const seq of received.slice(from)) {
    if (seq < newest) found.push(`${seq} after ${newest}`);
    newest = Math.max(newest, seq);
  }
  return found;
}

function renderTable(): string {
  const seconds = (ms: number | undefined) => (ms === undefined ? '—' : (ms / 1000).toFixed(1));
  const lines = [
    `Cluster faults: 3 NATS nodes, 2 bus replicas, 2 replicas of each service; ${RATE} creates/s spread over the replicas (seed ${LOAD_SEED}).`,
    '',
    '| Fault | Sent | 201 | 503 nothing changed | 503 may or may not | Other answers | Anomalies | Slowest 201 (s) | Right again after (s) | Node back (started or healed), its own copy caught up in (s) | Re-sent to the course subscriber |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const { scenario, report, anomalies, recoveryMs, catchUpMs, redelivered } of rows) {
    const sum = (outcome: keyof LoadReport['posts']) => report.posts[outcome] + report.comments[outcome];
    lines.push(
      `| ${scenario} | ${report.sent} | ${sum('acknowledged')} | ${sum('refused')} | ${sum('unconfirmed')} | ${sum('rejected') + sum('ambiguous') + sum('unreached')} | ${anomalies} | ${seconds(report.maxMs)} | ${seconds(recoveryMs)} | ${seconds(catchUpMs)} | ${redelivered} |`,
    );
  }
  return `${lines.join('\n')}\n`;
}
