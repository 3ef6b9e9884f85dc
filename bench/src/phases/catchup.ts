/**
 * Phase 4 (local stack only): a long history, and what it costs the services. For each size, a synthetic
 * history is written straight into a bus log in a temporary folder and a bus is started on it, alone.
 * Then, each timed from spawning the process to the first 200 from its /readyz (polled every 10 ms):
 *
 * 1. a first query replica builds its state from event 1 and makes a snapshot, which the bus keeps;
 * 2. the same replica, restarted, resumes from its own state;
 * 3. `GET /posts` is timed on it, one request after another;
 * 4. a fresh replica (no state of its own), inside a memory cgroup with query's pod limit, starts from the
 *    snapshot; its whole view is then compared with what the history holds.
 *
 * The bus runs inside a memory cgroup with its own pod limit throughout.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { delay, freePorts, MemoryCgroup, peakResidentBytes, percentile, startStack, type CgroupMemory, type Stack } from '@blog/testkit';
import { compactCount } from '../format';
import { writeSyntheticHistory, type HistorySummary } from '../history';
import { JsonClient } from '../http';
import { atMost, notMeasured, type Check, type Metric, type PhaseOutcome } from '../report/model';
import { readWholeView } from '../whole-view';
import type { PhaseContext } from './context';

/** The sizes the ready-time goals apply to (a fresh replica must not pay for the whole history). */
const FRESH_GOAL_FROM = 1_000_000;
const FRESH_READY_GOAL_S = 10;
const RESTART_READY_GOAL_S = 2;
/** The pods' limits in infra/k8s (query-depl, event-bus). */
const QUERY_LIMIT_BYTES = 256 * 2 ** 20;
const BUS_LIMIT_BYTES = 512 * 2 ** 20;
const MiB = 2 ** 20;
const READY_POLL_MS = 10;
/** Generous: a slow implementation should still finish, but never hang the bench. */
const START_TIMEOUT_MS = 30 * 60_000;
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;

export interface ReplicaRun {
  readyMs: number;
  /** Of the process, from /proc/<pid>/status when it was ready and checked. */
  peakRssMiB: number | null;
  /** Of its memory cgroup, when it ran in one. */
  cgroup: CgroupMemory | null;
}

export interface CatchupRun {
  history: HistorySummary;
  writeMs: number;
  /** Spawning the bus alone (reading the log) → first 200 from its /readyz. */
  busOpenMs: number;
  /** The first replica, from event 1. */
  rebuild: ReplicaRun;
  /** From that replica being ready to the bus keeping its snapshot of the whole history. */
  snapshotMs: number;
  snapshotBytes: number;
  restart: ReplicaRun;
  fresh: ReplicaRun;
  /** Sequential GET /posts (the first page) on the restarted replica. */
  getPostsMs: { p50: number | null; p99: number | null };
  bus: { peakRssMiB: number | null; cgroup: CgroupMemory | null };
  /** Why memory was not measured in cgroups, if it was not. */
  cgroupNote: string | undefined;
  /** What the fresh replica's whole view showed once ready. */
  shown: { posts: number; comments: number; approved: number; rejected: number; pending: number };
  complete: boolean;
}

export interface CatchupDetails {
  runs: CatchupRun[];
}

export async function runCatchupPhase({ target, profile, logDir, progress }: PhaseContext): Promise<PhaseOutcome<CatchupDetails>> {
  const sizes = profile.catchup.sizes;
  if (target.kind !== 'local') {
    return {
      metrics: sizes.map((size) => ({ ...notMeasured(readyKey(size), readyLabel(size), 's', 'not measured (external stack)'), ...freshGoalOf(size) })),
      checks: [],
      notes: ['Catch-up: not measured (external stack): it starts processes of the local build.'],
      details: { runs: [] },
    };
  }
  const runs: CatchupRun[] = [];
  for (const size of sizes) {
    const run = await catchUpOnce(size, profile.catchup.getPostsRequests, path.join(logDir, `catchup-${compactCount(size)}`), (line) => progress(`catch-up on ${compactCount(size)} events: ${line}`));
    runs.push(run);
    progress(
      `catch-up on ${compactCount(size)} events: fresh query ready in ${seconds(run.fresh.readyMs)} s from the snapshot, restarted in ${seconds(run.restart.readyMs)} s, ` +
        `rebuilt from event 1 in ${seconds(run.rebuild.readyMs)} s; GET /posts p99 ${run.getPostsMs.p99?.toFixed(1) ?? '?'} ms`,
    );
  }
  const smallest = runs[0];
  const largest = runs.at(-1);
  const ratio =
    smallest && largest && runs.length > 1 && smallest.getPostsMs.p99 && largest.getPostsMs.p99 !== null ? largest.getPostsMs.p99 / smallest.getPostsMs.p99 : null;
  return {
    metrics: [
      ...runs.flatMap(metricsOf),
      ...(runs.length > 1 && smallest && largest
        ? [
            {
              key: 'catchup.get-posts-p99-ratio',
              label: `GET /posts p99 on ${compactCount(largest.history.events)} ÷ on ${compactCount(smallest.history.events)} events`,
              value: ratio,
              unit: 'ratio' as const,
              goal: atMost(1.1),
            },
          ]
        : []),
    ],
    checks: runs.map((run) => ({
      key: `catchup.${compactCount(run.history.events)}.complete`,
      label: `catch-up on ${compactCount(run.history.events)} events: the fresh query shows the whole history once ready`,
      ok: run.complete,
      detail:
        `history: ${run.history.posts} posts, ${run.history.comments} comments (${run.history.approved} approved, ${run.history.rejected} rejected, ${run.history.pending} pending); ` +
        `shown: ${run.shown.posts} posts, ${run.shown.comments} comments (${run.shown.approved}/${run.shown.rejected}/${run.shown.pending})`,
    })),
    notes: [
      'Catch-up: a synthetic history (per post a PostCreated, then 0–5 comments, each CommentCreated → CommentModerated → CommentUpdated, one in five rejected) ' +
        'is written in the bus log format to a temporary folder (deleted afterwards); a bus alone is started on it. A first query replica builds its state from event 1 ' +
        '(SNAPSHOT_EVERY_EVENTS set so that it makes a snapshot once caught up), the bus keeps that snapshot, the replica is restarted on its own state, GET /posts is ' +
        `sent ${profile.catchup.getPostsRequests} times one after another, then a fresh replica with an empty STATE_DIR starts from the snapshot. Each start runs from the harness spawning ` +
        'the process to the first 200 from its /readyz, polled every 10 ms (so it includes Node starting). The fresh replica\'s whole view (every page, and older comments) ' +
        'must show every post and comment of the history with its final status.',
      `Memory: the fresh query runs in a cgroup v1 memory cgroup limited to ${QUERY_LIMIT_BYTES / MiB} MiB and the bus in one of ${BUS_LIMIT_BYTES / MiB} MiB, the limits of their pods ` +
        'in infra/k8s. "Peak in cgroup" is memory.max_usage_in_bytes: what the process and the page cache it caused were charged (pages of Node\'s binary already cached ' +
        'elsewhere on this machine are not, where a new pod would pay for them); "peak RSS" is the process\'s VmHWM, shared pages included, the stricter of the two; ' +
        'an OOM kill counts as a failure of the start.' +
        (runs.find((run) => run.cgroupNote)?.cgroupNote ? ` Not in cgroups here: ${runs.find((run) => run.cgroupNote)?.cgroupNote}.` : ''),
    ],
    details: { runs },
  };
}

function metricsOf(run: CatchupRun): Metric[] {
  const size = run.history.events;
  const at = compactCount(size);
  const cgroupPeak = (memory: CgroupMemory | null) => (memory ? memory.peakBytes / MiB : null);
  return [
    { key: readyKey(size), label: readyLabel(size), value: run.fresh.readyMs / 1000, unit: 's', ...freshGoalOf(size) },
    { key: `catchup.${at}.restart-ready`, label: `restarted query ready on ${at} events (its own state)`, value: run.restart.readyMs / 1000, unit: 's', goal: atMost(RESTART_READY_GOAL_S) },
    { key: `catchup.${at}.rebuild-ready`, label: `query built from event 1 on ${at} events`, value: run.rebuild.readyMs / 1000, unit: 's' },
    { key: `catchup.${at}.snapshot`, label: `snapshot of query on ${at} events made and kept by the bus`, value: run.snapshotMs / 1000, unit: 's' },
    { key: `catchup.${at}.snapshot-size`, label: `snapshot of query on ${at} events, size`, value: run.snapshotBytes / MiB, unit: 'MB' },
    { key: `catchup.${at}.bus-open`, label: `bus start on ${at} events (log read)`, value: run.busOpenMs / 1000, unit: 's' },
    { key: `catchup.${at}.get-posts-p50`, label: `GET /posts p50 on ${at} events`, value: run.getPostsMs.p50, unit: 'ms' },
    { key: `catchup.${at}.get-posts-p99`, label: `GET /posts p99 on ${at} events`, value: run.getPostsMs.p99, unit: 'ms' },
    { key: `catchup.${at}.query-cgroup-peak`, label: `fresh query, peak in cgroup on ${at} events`, value: cgroupPeak(run.fresh.cgroup), unit: 'MB', goal: atMost(QUERY_LIMIT_BYTES / MiB) },
    { key: `catchup.${at}.query-rss`, label: `fresh query, peak RSS on ${at} events`, value: run.fresh.peakRssMiB, unit: 'MB', goal: atMost(QUERY_LIMIT_BYTES / MiB) },
    { key: `catchup.${at}.query-oom-kills`, label: `fresh query, OOM kills on ${at} events`, value: run.fresh.cgroup?.oomKills ?? null, unit: 'count', goal: { comparison: '=', value: 0 } },
    { key: `catchup.${at}.bus-cgroup-peak`, label: `bus, peak in cgroup on ${at} events`, value: cgroupPeak(run.bus.cgroup), unit: 'MB', goal: atMost(BUS_LIMIT_BYTES / MiB) },
    { key: `catchup.${at}.bus-rss`, label: `bus, peak RSS on ${at} events`, value: run.bus.peakRssMiB, unit: 'MB', goal: atMost(BUS_LIMIT_BYTES / MiB) },
  ];
}

async function catchUpOnce(size: number, getPostsRequests: number, logDir: string, progress: (line: string) => void): Promise<CatchupRun> {
  const historyDir = await mkdtemp(path.join(os.tmpdir(), 'blog-bench-history-'));
  const cgroups: MemoryCgroup[] = [];
  let cgroupNote: string | undefined;
  const cgroup = (name: string, limit: number): MemoryCgroup | undefined => {
    const made = MemoryCgroup.create(`blog-bench-${process.pid}-${name}-${compactCount(size)}`, limit);
    if (typeof made === 'string') {
      cgroupNote = made;
      return undefined;
    }
    cgroups.push(made);
    return made;
  };
  const stacks: Stack[] = [];
  try {
    const writeStarted = performance.now();
    const history = await writeSyntheticHistory(path.join(historyDir, 'events.jsonl'), size);
    const writeMs = performance.now() - writeStarted;
    progress(`history written in ${seconds(writeMs)} s`);

    const [busPort, seedPort, freshPort] = (await freePorts(3)) as [number, number, number];
    const busCgroup = cgroup('bus', BUS_LIMIT_BYTES);
    const busStarted = performance.now();
    const startingBus = startStack({
      services: ['event-bus'],
      logDir,
      logLevel: 'warn',
      ports: { 'event-bus': busPort },
      env: { 'event-bus': { EVENT_LOG_DIR: historyDir, EVENT_SUBSCRIBERS: 'none' } },
      readyTimeoutMs: START_TIMEOUT_MS,
      onSpawn: (_name, pid) => busCgroup?.add(pid),
    });
    const busOpenMs = (await firstReady(`http://127.0.0.1:${busPort}`, startingBus)) - busStarted;
    const bus = await startingBus;
    stacks.push(bus);

    /** A query replica with its own state folder, on the bus above; timed from spawn to ready. */
    const replica = async (name: string, port: number, env: Record<string, string>, group?: MemoryCgroup) => {
      const started = performance.now();
      const starting = startStack({
        services: ['query'],
        logDir: path.join(logDir, name),
        logLevel: 'warn',
        ports: { 'event-bus': busPort, query: port },
        eventsToken: bus.eventsToken ?? false,
        env: { query: { STATE_DIR: path.join(historyDir, `state-${name}`), ...env } },
        readyTimeoutMs: START_TIMEOUT_MS,
        onSpawn: (_service, pid) => group?.add(pid),
      });
      const readyMs = (await firstReady(`http://127.0.0.1:${port}`, starting)) - started;
      const stack = await starting;
      stacks.push(stack);
      return { stack, readyMs };
    };
    const memoryOf = (stack: Stack): ReplicaRun['peakRssMiB'] => {
      const pid = stack.pid('query');
      const peak = pid === undefined ? undefined : peakResidentBytes(pid);
      return peak === undefined ? null : peak / MiB;
    };

    // 1. From event 1, then its snapshot.
    const every = String(Math.max(1, Math.min(100_000, Math.floor(size / 2))));
    const seed = await replica('seed', seedPort, { SNAPSHOT_EVERY_EVENTS: every });
    progress(`built from event 1 in ${seconds(seed.readyMs)} s; waiting for its snapshot`);
    const rebuild: ReplicaRun = { readyMs: seed.readyMs, peakRssMiB: memoryOf(seed.stack), cgroup: null };
    const snapshotStarted = performance.now();
    const snapshot = await snapshotKept(bus, size);
    const snapshotMs = performance.now() - snapshotStarted;

    // 2. Restarted on its own state.
    await seed.stack.stop('query');
    const restartStarted = performance.now();
    const restarting = seed.stack.start('query');
    const restartReadyMs = (await firstReady(`http://127.0.0.1:${seedPort}`, restarting)) - restartStarted;
    await restarting;
    const restart: ReplicaRun = { readyMs: restartReadyMs, peakRssMiB: memoryOf(seed.stack), cgroup: null };

    // 3. The first page, again and again.
    const getPostsMs = await timeGetPosts(`http://127.0.0.1:${seedPort}`, getPostsRequests);
    await seed.stack.stopAll();

    // 4. A fresh replica, within the pod's limit, from the snapshot.
    const freshCgroup = cgroup('query', QUERY_LIMIT_BYTES);
    const fresh = await replica('fresh', freshPort, { SNAPSHOT_EVERY_EVENTS: '0' }, freshCgroup);
    const shown = await countView(`http://127.0.0.1:${freshPort}`);
    const freshRun: ReplicaRun = { readyMs: fresh.readyMs, peakRssMiB: memoryOf(fresh.stack), cgroup: freshCgroup?.memory() ?? null };
    await fresh.stack.stopAll();

    const busPid = bus.pid('event-bus');
    const busPeak = busPid === undefined ? undefined : peakResidentBytes(busPid);
    const complete =
      shown.posts === history.posts &&
      shown.comments === history.comments &&
      shown.approved === history.approved &&
      shown.rejected === history.rejected &&
      shown.pending === history.pending;
    return {
      history,
      writeMs,
      busOpenMs,
      rebuild,
      snapshotMs,
      snapshotBytes: snapshot.bytes,
      restart,
      fresh: freshRun,
      getPostsMs,
      bus: { peakRssMiB: busPeak === undefined ? null : busPeak / MiB, cgroup: busCgroup?.memory() ?? null },
      cgroupNote,
      shown,
      complete,
    };
  } finally {
    await Promise.allSettled(stacks.map((stack) => stack.stopAll()));
    for (const group of cgroups) group.remove();
    await rm(historyDir, { recursive: true, force: true });
  }
}

/** Waits until the bus keeps a snapshot of query holding the whole history. */
async function snapshotKept(bus: Stack, size: number): Promise<{ seq: number; bytes: number }> {
  const client = new JsonClient(bus.url('event-bus'), { connections: 1, timeoutMs: 10_000 });
  const deadline = performance.now() + SNAPSHOT_TIMEOUT_MS;
  try {
    for (;;) {
      const { status, body } = await client.get('/snapshots/query/query@1', bus.eventHeaders());
      const kept = status === 200 ? (body as { seq: number; bytes: number }) : undefined;
      if (kept && kept.seq >= size) return kept;
      if (performance.now() > deadline) throw new Error(`the bus kept no snapshot of query at seq ${size} within ${SNAPSHOT_TIMEOUT_MS / 1000} s`);
      await delay(50);
    }
  } finally {
    await client.close();
  }
}

async function timeGetPosts(queryUrl: string, requests: number): Promise<CatchupRun['getPostsMs']> {
  const client = new JsonClient(queryUrl, { connections: 1, timeoutMs: 30_000 });
  const times: number[] = [];
  try {
    for (let i = 0; i < requests; i++) {
      const started = performance.now();
      const { status } = await client.get('/posts');
      if (status !== 200) throw new Error(`GET /posts answered ${status}`);
      times.push(performance.now() - started);
    }
  } finally {
    await client.close();
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** performance.now() of the first 200 from /readyz; gives up when the start itself fails. */
async function firstReady(serviceUrl: string, starting: Promise<unknown>): Promise<number> {
  let startFailed: unknown;
  starting.catch((err: unknown) => {
    startFailed = err ?? new Error('the service did not start');
  });
  const client = new JsonClient(serviceUrl, { connections: 1, timeoutMs: 1_000 });
  try {
    for (;;) {
      if (startFailed !== undefined) throw startFailed;
      try {
        const { status } = await client.get('/readyz');
        if (status === 200) return performance.now();
      } catch {
        // not listening yet
      }
      await delay(READY_POLL_MS);
    }
  } finally {
    await client.close();
  }
}

async function countView(queryUrl: string): Promise<CatchupRun['shown']> {
  const query = new JsonClient(queryUrl, { connections: 1, timeoutMs: 60_000 });
  try {
    const shown = { posts: 0, comments: 0, approved: 0, rejected: 0, pending: 0 };
    // Comments of a post fit in its page here (at most 5 a post): no comments service is needed.
    for (const post of Object.values(await readWholeView(query, query))) {
      shown.posts++;
      for (const comment of post.comments) {
        shown.comments++;
        shown[comment.status]++;
      }
    }
    return shown;
  } finally {
    await query.close();
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(2);
const readyKey = (size: number) => `catchup.${compactCount(size)}.ready`;
const readyLabel = (size: number) => `fresh query ready on ${compactCount(size)} events (from the snapshot)`;
const freshGoalOf = (size: number) => (size >= FRESH_GOAL_FROM ? { goal: atMost(FRESH_READY_GOAL_S) } : {});
