/**
 * One history size of the catch-up phase. A synthetic history is written in the bus log format to a
 * temporary folder and a bus alone is started on it. Each start below is timed from spawning the process to
 * its first 200 from /readyz, and each process that matters to memory runs in a memory cgroup with its pod's
 * limit (infra/k8s):
 *
 * File log:
 * 1. a first query replica builds its state from event 1 and makes a snapshot, which the bus keeps;
 * 2. the same replica, restarted, resumes from its own state;
 * 3. `GET /posts` is timed on it, in turns with the smallest size's query (the baseline);
 * 4. a fresh replica (no state of its own) starts from the snapshot; its whole view is then compared with
 *    what the history holds.
 * JetStream log (when asked for and a nats-server is found): the history is published into the stream of a
 * single nats-server, a bus on JetStream is started on it, and steps 2–4 run again on that bus, step 2 on a
 * copy of the state step 1 built (the same events, ids and seqs), which then makes the snapshot the fresh
 * replica starts from (in the object store).
 * Last, posts, comments and moderation build their states from event 1 on the file log, side by side, each
 * in its own cgroup, and each makes its snapshot.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  freePorts,
  MemoryCgroup,
  natsBusEnv,
  startNatsServer,
  startStack,
  type CgroupMemory,
  type NatsServer,
  type ServiceName,
  type Stack,
  type StackOptions,
} from '@blog/testkit';
import { compactCount } from '../format';
import { writeSyntheticHistory, type HistorySummary } from '../history';
import { publishHistory } from './jetstream-history';
import { countView, firstReady, peakRssMiB, snapshotKept, timeGetPosts, type Percentiles, type Shown } from './measure';

export type CatchupLog = 'file' | 'jetstream';
export type StatefulService = 'posts' | 'comments' | 'moderation' | 'query';
const OTHER_SERVICES = ['posts', 'comments', 'moderation'] as const;

/** The pods' limits in infra/k8s: every stateful service's, and the bus's. */
export const SERVICE_LIMIT_BYTES = 256 * 2 ** 20;
export const BUS_LIMIT_BYTES = 512 * 2 ** 20;
/** Snapshots are kept per service and schema version; these are the services' current ones. */
const SCHEMAS: Record<StatefulService, string> = {
  posts: 'posts@1',
  comments: 'comments@2',
  moderation: 'moderation@2',
  query: 'query@1',
};
const STREAM = 'BENCH_HISTORY';
/** Generous: a slow implementation should still finish, but never hang the bench. */
const START_TIMEOUT_MS = 30 * 60_000;
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;

export interface Memory {
  /** Of the process, from /proc/<pid>/status while it ran. */
  peakRssMiB: number | null;
  /** Of its memory cgroup, when it ran in one. */
  cgroup: CgroupMemory | null;
}

export interface ReplicaRun extends Memory {
  readyMs: number;
}

export interface LogRun {
  log: CatchupLog;
  /** JetStream: publishing the history into the stream, before anything is timed. */
  publishMs: number | null;
  /** Spawning the bus on the history → its first 200 from /readyz. */
  busOpenMs: number;
  /** The first replica, from event 1, memory until its snapshot was kept (file log only). */
  rebuild: ReplicaRun | null;
  /** From the replica that makes it being ready to the bus keeping its snapshot of the whole history. */
  snapshotMs: number;
  snapshotBytes: number;
  restart: ReplicaRun;
  fresh: ReplicaRun;
  /** Sequential GET /posts (the first page) on the restarted replica. */
  getPostsMs: Percentiles;
  /** The baseline's, timed in turns with this replica; null on the baseline's own size. */
  baselineGetPostsMs: Percentiles | null;
  bus: Memory;
  /** What the fresh replica's whole view showed once ready. */
  shown: Shown;
  complete: boolean;
}

export interface ServiceRun extends ReplicaRun {
  service: StatefulService;
  /** From ready to the bus keeping its snapshot. */
  snapshotMs: number;
}

export interface CatchupRun {
  history: HistorySummary;
  writeMs: number;
  file: LogRun;
  /** null when not asked for, when it could not run (jetstreamNote: no nats-server) or when it failed (jetstreamError). */
  jetstream: LogRun | null;
  jetstreamNote: string | undefined;
  jetstreamError: string | undefined;
  services: ServiceRun[];
  /** Why memory was not measured in cgroups, if it was not. */
  cgroupNote: string | undefined;
}

/** The restarted query of a size kept running for the later sizes to be timed against; release() stops it. */
export interface Baseline {
  queryUrl: string;
  release(): Promise<void>;
}

export interface CatchupOptions {
  logs: readonly CatchupLog[];
  getPostsRequests: number;
  logDir: string;
  progress: (line: string) => void;
  baseline: Baseline | undefined;
}

/** What a size started, stopped and deleted in reverse once it is done (or kept as the baseline until then). */
class Resources {
  private readonly releases: (() => Promise<void> | void)[] = [];

  add(release: () => Promise<void> | void): void {
    this.releases.push(release);
  }

  async release(): Promise<void> {
    for (const release of this.releases.splice(0).reverse()) {
      try {
        await release();
      } catch {
        // The rest is released all the same.
      }
    }
  }
}

export async function catchUpOnce(
  size: number,
  options: CatchupOptions,
): Promise<{ run: CatchupRun; baseline: Baseline }> {
  const resources = new Resources();
  try {
    const run = await measureSize(size, options, resources);
    return { run: run.run, baseline: { queryUrl: run.baselineUrl, release: () => resources.release() } };
  } catch (err) {
    await resources.release();
    throw err;
  }
}

async function measureSize(
  size: number,
  { logs, getPostsRequests, logDir, progress, baseline }: CatchupOptions,
  resources: Resources,
) {
  const historyDir = await mkdtemp(path.join(os.tmpdir(), 'blog-bench-history-'));
  resources.add(() => rm(historyDir, { recursive: true, force: true }));
  let cgroupNote: string | undefined;
  const cgroup = (name: string, limit: number): MemoryCgroup | undefined => {
    const made = MemoryCgroup.create(`blog-bench-${process.pid}-${name}-${compactCount(size)}`, limit);
    if (typeof made === 'string') {
      cgroupNote = made;
      return undefined;
    }
    resources.add(() => made.remove());
    return made;
  };
  /** Starts a stack and times each of `timed` from spawn to ready, giving up if the bus `onBus` exits meanwhile. */
  const timedStart = async (
    stackOptions: StackOptions,
    timed: readonly ServiceName[],
    groups: Partial<Record<ServiceName, MemoryCgroup>> = {},
    onBus?: Stack,
  ) => {
    const started = performance.now();
    const spawned: number[] = [];
    const starting = startStack({
      logLevel: 'warn',
      readyTimeoutMs: START_TIMEOUT_MS,
      ...stackOptions,
      onSpawn: (name, pid) => {
        spawned.push(pid);
        groups[name]?.add(pid);
      },
    });
    starting.then(
      (stack) => resources.add(() => stack.stopAll()),
      () => undefined,
    );
    const busGone = () =>
      onBus && !onBus.isRunning('event-bus')
        ? `its event bus exited (${onBus.logFile('event-bus')}; killed for memory if its cgroup says so)`
        : undefined;
    let ready: number[];
    try {
      ready = await Promise.all(
        timed.map((name) => firstReady(`http://127.0.0.1:${stackOptions.ports?.[name]}`, starting, busGone)),
      );
    } catch (err) {
      // Given up before the stack was ready: its processes would otherwise run on, unowned.
      for (const pid of spawned) killQuietly(pid);
      await starting.catch(() => undefined);
      throw err;
    }
    const stack = await starting;
    return { stack, readyMs: ready.map((at) => at - started) };
  };
  const every = String(Math.max(1, Math.min(100_000, Math.floor(size / 2))));
  const state = (name: string) => path.join(historyDir, `state-${name}`);

  const writeStarted = performance.now();
  const history = await writeSyntheticHistory(path.join(historyDir, 'events.jsonl'), size);
  const writeMs = performance.now() - writeStarted;
  progress(`history written in ${seconds(writeMs)} s`);

  const ports = (await freePorts(9)) as [number, number, number, number, number, number, number, number, number];
  const [busPort, seedPort, freshPort, jsBusPort, jsPort, jsFreshPort] = ports;
  const busCgroup = cgroup('bus', BUS_LIMIT_BYTES);
  const {
    stack: bus,
    readyMs: [busOpenMs = 0],
  } = await timedStart(
    {
      services: ['event-bus'],
      logDir,
      ports: { 'event-bus': busPort },
      env: { 'event-bus': { EVENT_LOG_DIR: historyDir, EVENT_SUBSCRIBERS: 'none' } },
    },
    ['event-bus'],
    { 'event-bus': busCgroup },
  );

  /** A query replica with its own state folder on a bus, timed from spawn to ready. */
  const startQuery = async (
    onBus: Stack,
    name: string,
    port: number,
    env: Record<string, string>,
    group?: MemoryCgroup,
  ) => {
    const {
      stack,
      readyMs: [readyMs = 0],
    } = await timedStart(
      {
        services: ['query'],
        logDir: path.join(logDir, name),
        ports: { 'event-bus': onBus.ports['event-bus'], query: port },
        ...(onBus.credentials ? { credentials: onBus.credentials } : { eventsToken: false as const }),
        env: { query: { STATE_DIR: state(name), ...env } },
      },
      ['query'],
      { query: group },
      onBus,
    );
    return { stack, readyMs };
  };
  const freshFromSnapshot = async (
    onBus: Stack,
    name: string,
    port: number,
  ): Promise<{ fresh: ReplicaRun; shown: Shown }> => {
    const group = cgroup(`query-${name}`, SERVICE_LIMIT_BYTES);
    const started = await startQuery(onBus, name, port, { SNAPSHOT_EVERY_EVENTS: '0' }, group);
    const shown = await countView(`http://127.0.0.1:${port}`);
    const fresh = {
      readyMs: started.readyMs,
      peakRssMiB: peakRssMiB(started.stack, 'query'),
      cgroup: group?.memory() ?? null,
    };
    await started.stack.stopAll();
    return { fresh, shown };
  };
  const completeness = (shown: Shown) =>
    (['posts', 'comments', 'approved', 'rejected', 'pending'] as const).every((key) => shown[key] === history[key]);
  const timeAgainstBaseline = async (queryUrl: string) => {
    const [own, theirs] = await timeGetPosts(baseline ? [queryUrl, baseline.queryUrl] : [queryUrl], getPostsRequests);
    return { getPostsMs: own as Percentiles, baselineGetPostsMs: theirs ?? null };
  };

  // File log. 1. From event 1, then its snapshot.
  const seedCgroup = cgroup('query-seed', SERVICE_LIMIT_BYTES);
  const seed = await startQuery(bus, 'seed', seedPort, { SNAPSHOT_EVERY_EVENTS: every }, seedCgroup);
  progress(`file log: query built from event 1 in ${seconds(seed.readyMs)} s; waiting for its snapshot`);
  const snapshotStarted = performance.now();
  const snapshot = await snapshotKept(bus, 'query', SCHEMAS.query, size, SNAPSHOT_TIMEOUT_MS);
  const snapshotMs = performance.now() - snapshotStarted;
  const rebuild: ReplicaRun = {
    readyMs: seed.readyMs,
    peakRssMiB: peakRssMiB(seed.stack, 'query'),
    cgroup: seedCgroup?.memory() ?? null,
  };

  // 2. Restarted on its own state (a copy of which the JetStream log's replica starts on).
  await seed.stack.stop('query');
  if (logs.includes('jetstream')) await cp(state('seed'), state('js'), { recursive: true });
  const restartStarted = performance.now();
  const restarting = seed.stack.start('query');
  const restartReadyMs = (await firstReady(`http://127.0.0.1:${seedPort}`, restarting)) - restartStarted;
  await restarting;
  const restart: ReplicaRun = { readyMs: restartReadyMs, peakRssMiB: peakRssMiB(seed.stack, 'query'), cgroup: null };

  // 3. The first page, again and again.
  const seedUrl = `http://127.0.0.1:${seedPort}`;
  const filePages = await timeAgainstBaseline(seedUrl);
  if (baseline) await seed.stack.stopAll();

  // 4. A fresh replica, within the pod's limit, from the snapshot.
  const fileFresh = await freshFromSnapshot(bus, 'fresh', freshPort);
  const file: LogRun = {
    log: 'file',
    publishMs: null,
    busOpenMs,
    rebuild,
    snapshotMs,
    snapshotBytes: snapshot.bytes,
    restart,
    ...fileFresh,
    ...filePages,
    bus: { peakRssMiB: peakRssMiB(bus, 'event-bus'), cgroup: busCgroup?.memory() ?? null },
    complete: completeness(fileFresh.shown),
  };
  progress(`file log: ${describeLogRun(file)}`);

  let jetstream: LogRun | null = null;
  let jetstreamNote: string | undefined;
  let jetstreamError: string | undefined;
  if (logs.includes('jetstream')) {
    let nats: NatsServer | undefined;
    try {
      nats = await startNatsServer({ dir: path.join(historyDir, 'nats'), stream: STREAM });
    } catch (err) {
      jetstreamNote = `not measured: ${err instanceof Error ? err.message : String(err)}`;
      progress(`JetStream log: ${jetstreamNote}`);
    }
    if (nats) {
      const server = nats;
      resources.add(() => server.stop());
      try {
        jetstream = await onJetStream(server);
        progress(`JetStream log: ${describeLogRun(jetstream)}`);
      } catch (err) {
        // The file log's figures stand; the failure is a failed check of the report.
        jetstreamError = err instanceof Error ? err.message : String(err);
        progress(`JetStream log: failed: ${jetstreamError}`);
      }
    }
  }

  async function onJetStream(nats: NatsServer): Promise<LogRun> {
    const busOptions: StackOptions = {
      services: ['event-bus'],
      logDir: path.join(logDir, 'jetstream'),
      ports: { 'event-bus': jsBusPort },
      env: {
        'event-bus': { ...natsBusEnv([nats.url], nats.identities), NATS_REPLICAS: '1', EVENT_SUBSCRIBERS: 'none' },
      },
    };
    // The bus creates its stream; the history goes in while no bus runs.
    const creating = await startStack({ ...busOptions, logLevel: 'warn' });
    await creating.stopAll();
    const publishStarted = performance.now();
    await publishHistory({
      natsUrl: nats.url,
      login: nats.identities.admin,
      stream: STREAM,
      file: path.join(historyDir, 'events.jsonl'),
    });
    const publishMs = performance.now() - publishStarted;
    progress(`JetStream log: history published in ${seconds(publishMs)} s`);
    const jsBusCgroup = cgroup('bus-js', BUS_LIMIT_BYTES);
    const {
      stack: jsBus,
      readyMs: [jsBusOpenMs = 0],
    } = await timedStart(busOptions, ['event-bus'], { 'event-bus': jsBusCgroup });

    const restarted = await startQuery(jsBus, 'js', jsPort, { SNAPSHOT_EVERY_EVENTS: every });
    const jsRestart: ReplicaRun = {
      readyMs: restarted.readyMs,
      peakRssMiB: peakRssMiB(restarted.stack, 'query'),
      cgroup: null,
    };
    const jsSnapshotStarted = performance.now();
    const jsSnapshot = await snapshotKept(jsBus, 'query', SCHEMAS.query, size, SNAPSHOT_TIMEOUT_MS);
    const jsSnapshotMs = performance.now() - jsSnapshotStarted;
    const pages = await timeAgainstBaseline(`http://127.0.0.1:${jsPort}`);
    await restarted.stack.stopAll();

    const jsFresh = await freshFromSnapshot(jsBus, 'js-fresh', jsFreshPort);
    const run: LogRun = {
      log: 'jetstream',
      publishMs,
      busOpenMs: jsBusOpenMs,
      rebuild: null,
      snapshotMs: jsSnapshotMs,
      snapshotBytes: jsSnapshot.bytes,
      restart: jsRestart,
      ...jsFresh,
      ...pages,
      bus: { peakRssMiB: peakRssMiB(jsBus, 'event-bus'), cgroup: jsBusCgroup?.memory() ?? null },
      complete: completeness(jsFresh.shown),
    };
    await jsBus.stopAll();
    await nats.stop();
    return run;
  }

  // The other services, from event 1 on the file log, side by side (last: moderation and comments react
  // to what the history left pending, which adds events to it).
  const services = await otherServices(size);

  async function otherServices(atSize: number): Promise<ServiceRun[]> {
    const [postsPort, commentsPort, moderationPort] = ports.slice(6) as [number, number, number];
    const groups = Object.fromEntries(OTHER_SERVICES.map((service) => [service, cgroup(service, SERVICE_LIMIT_BYTES)]));
    const { stack, readyMs } = await timedStart(
      {
        services: OTHER_SERVICES,
        logDir: path.join(logDir, 'services'),
        ports: { 'event-bus': busPort, posts: postsPort, comments: commentsPort, moderation: moderationPort },
        ...(bus.credentials ? { credentials: bus.credentials } : { eventsToken: false as const }),
        env: Object.fromEntries(
          OTHER_SERVICES.map((service) => [service, { STATE_DIR: state(service), SNAPSHOT_EVERY_EVENTS: every }]),
        ),
      },
      OTHER_SERVICES,
      groups,
      bus,
    );
    progress(
      `posts, comments and moderation built from event 1 in ${readyMs.map((ms) => seconds(ms)).join(', ')} s; waiting for their snapshots`,
    );
    const runs = await Promise.all(
      OTHER_SERVICES.map(async (service, index): Promise<ServiceRun> => {
        const ready = performance.now();
        await snapshotKept(bus, service, SCHEMAS[service], atSize, SNAPSHOT_TIMEOUT_MS);
        return {
          service,
          readyMs: readyMs[index] ?? 0,
          snapshotMs: performance.now() - ready,
          peakRssMiB: peakRssMiB(stack, service),
          cgroup: groups[service]?.memory() ?? null,
        };
      }),
    );
    await stack.stopAll();
    return runs;
  }

  return {
    run: {
      history,
      writeMs,
      file,
      jetstream,
      jetstreamNote,
      jetstreamError,
      services,
      cgroupNote,
    } satisfies CatchupRun,
    baselineUrl: seedUrl,
  };
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Exited already.
  }
}

function describeLogRun(run: LogRun): string {
  return (
    `fresh query ready in ${seconds(run.fresh.readyMs)} s from the snapshot, restarted in ${seconds(run.restart.readyMs)} s` +
    (run.rebuild ? `, rebuilt from event 1 in ${seconds(run.rebuild.readyMs)} s` : '') +
    `; GET /posts p99 ${run.getPostsMs.p99?.toFixed(1) ?? '?'} ms` +
    (run.baselineGetPostsMs ? ` (the baseline's in turns: ${run.baselineGetPostsMs.p99?.toFixed(1) ?? '?'} ms)` : '')
  );
}

export const seconds = (ms: number) => (ms / 1000).toFixed(2);
