/**
 * Phase 4 (local stack only): a long history, and what it costs the services, on the file log and on
 * JetStream: a fresh query replica from a snapshot, a restarted one, the first page, and every stateful
 * service's memory within its pod's limit. How each size is measured: tools/bench/src/catchup/run.ts.
 */
import path from 'node:path';
import { compactCount } from '../format';
import {
  catchUpOnce,
  BUS_LIMIT_BYTES,
  SERVICE_LIMIT_BYTES,
  type Baseline,
  type CatchupRun,
  type LogRun,
} from '../catchup/run';
import { atMost, exactly, notMeasured, type Check, type Metric, type PhaseOutcome } from '../report/model';
import type { PhaseContext } from './context';

/** The sizes the ready-time goals apply to (a fresh replica must not pay for the whole history). */
const FRESH_GOAL_FROM = 1_000_000;
const FRESH_READY_GOAL_S = 10;
const RESTART_READY_GOAL_S = 2;
const GET_POSTS_P99_RATIO_GOAL = 1.1;
const MiB = 2 ** 20;

export interface CatchupDetails {
  runs: CatchupRun[];
}

export async function runCatchupPhase({
  target,
  profile,
  logDir,
  progress,
}: PhaseContext): Promise<PhaseOutcome<CatchupDetails>> {
  const { sizes, logs, getPostsRequests } = profile.catchup;
  if (target.kind !== 'local') {
    return {
      metrics: sizes.map((size) => ({
        ...notMeasured(readyKey(size, 'file'), readyLabel(size, 'file'), 's', 'not measured (external stack)'),
        ...freshGoalOf(size),
      })),
      checks: [],
      notes: ['Catch-up: not measured (external stack): it starts processes of the local build.'],
      details: { runs: [] },
    };
  }
  const runs: CatchupRun[] = [];
  // The smallest size's restarted query runs on to the end, timed in turns with each larger size's.
  let baseline: Baseline | undefined;
  try {
    for (const size of [...sizes].sort((a, b) => a - b)) {
      const measured = await catchUpOnce(size, {
        logs,
        getPostsRequests,
        logDir: path.join(logDir, `catchup-${compactCount(size)}`),
        progress: (line) => progress(`catch-up on ${compactCount(size)} events: ${line}`),
        baseline,
      });
      runs.push(measured.run);
      if (baseline) await measured.baseline.release();
      else baseline = measured.baseline;
    }
  } finally {
    await baseline?.release();
  }
  const cgroupNote = runs.find((run) => run.cgroupNote)?.cgroupNote;
  const jetstreamNote = runs.find((run) => run.jetstreamNote)?.jetstreamNote;
  return {
    metrics: [...runs.flatMap(metricsOf), ...ratioMetrics(runs)],
    checks: runs.flatMap(checksOf),
    notes: [
      'Catch-up: a synthetic history (per post a PostCreated, then 0–5 comments, each CommentCreated → CommentModerated → CommentUpdated, one in five rejected) ' +
        'is written in the bus log format to a temporary folder (deleted afterwards); a bus alone is started on it. A first query replica builds its state from event 1 ' +
        '(SNAPSHOT_EVERY_EVENTS set so that it makes a snapshot once caught up), the bus keeps that snapshot, the replica is restarted on its own state, GET /posts is ' +
        `sent ${getPostsRequests} times one after another, then a fresh replica with an empty STATE_DIR starts from the snapshot. Each start runs from the harness spawning ` +
        "the process to the first 200 from its /readyz, polled every 10 ms (so it includes Node starting). The fresh replica's whole view (every page, and older comments) " +
        'must show every post and comment of the history with its final status. Last, posts, comments and moderation build their own states from event 1, side by side, ' +
        'and each makes its snapshot.',
      `GET /posts: from the second size on, each request to the size's query takes turns with one to the smallest size's query (kept running), so that the p99 ratio ` +
        "compares the two at the same moments of the machine; the smallest size's own figures are timed alone.",
      logs.includes('jetstream')
        ? 'JetStream: the same history is published into the stream of one nats-server (JetStream, default fsync interval: the history is written before anything is timed), ' +
          'a bus with EVENT_LOG=jetstream (NATS_REPLICAS=1) is started on it, and the restart, GET /posts and fresh replica steps run again on that bus. The restarted ' +
          "replica starts on a copy of the state the file log's first replica built (the same events, ids and seqs: it checks the event at its position against the log), " +
          'and makes the snapshot, kept in the object store, that the fresh replica starts from. Building from event 1 is measured on the file log only.' +
          (jetstreamNote ? ` Here: ${jetstreamNote}.` : '')
        : 'JetStream: not measured in this profile.',
      `Memory: every query replica that builds or restores a state, posts, comments and moderation each run in a cgroup v1 memory cgroup limited to ${SERVICE_LIMIT_BYTES / MiB} MiB ` +
        `and each bus in one of ${BUS_LIMIT_BYTES / MiB} MiB, the limits of their pods in infra/k8s. "Peak in cgroup" is memory.max_usage_in_bytes: what the process and ` +
        "the page cache it caused were charged (pages of Node's binary already cached elsewhere on this machine are not, where a new pod would pay for them); " +
        '"peak RSS" is the process\'s VmHWM, shared pages included; an OOM kill counts as a failure of the start.' +
        (cgroupNote ? ` Not in cgroups here: ${cgroupNote}.` : ''),
    ],
    details: { runs },
  };
}

const LOG_NAME = { file: 'file log', jetstream: 'JetStream' } as const;
/** File-log keys keep their first names (`catchup.1M.ready`); JetStream's say so (`catchup.1M.jetstream.ready`). */
const keyOf = (size: number, log: LogRun['log'], name: string) =>
  `catchup.${compactCount(size)}.${log === 'file' ? '' : 'jetstream.'}${name}`;
const labelOf = (size: number, log: LogRun['log'], text: string) =>
  `${text} on ${compactCount(size)} events${log === 'file' ? '' : ` (${LOG_NAME[log]})`}`;
const readyKey = (size: number, log: LogRun['log']) => keyOf(size, log, 'ready');
const readyLabel = (size: number, log: LogRun['log']) => labelOf(size, log, 'fresh query ready (from the snapshot)');
const freshGoalOf = (size: number) => (size >= FRESH_GOAL_FROM ? { goal: atMost(FRESH_READY_GOAL_S) } : {});
const cgroupPeak = (memory: { peakBytes: number } | null) => (memory ? memory.peakBytes / MiB : null);

function metricsOf(run: CatchupRun): Metric[] {
  const size = run.history.events;
  const logRuns = [run.file, ...(run.jetstream ? [run.jetstream] : [])];
  return [
    ...logRuns.flatMap((logRun) => logMetrics(size, logRun)),
    ...run.services.flatMap(({ service, readyMs, snapshotMs, peakRssMiB, cgroup }): Metric[] => [
      {
        key: `catchup.${compactCount(size)}.${service}-rebuild-ready`,
        label: `${service} built from event 1 on ${compactCount(size)} events`,
        value: readyMs / 1000,
        unit: 's',
      },
      {
        key: `catchup.${compactCount(size)}.${service}-snapshot`,
        label: `snapshot of ${service} on ${compactCount(size)} events made and kept by the bus`,
        value: snapshotMs / 1000,
        unit: 's',
      },
      ...memoryMetrics(
        `catchup.${compactCount(size)}.${service}`,
        `${service} from event 1 and its snapshot on ${compactCount(size)} events`,
        { peakRssMiB, cgroup },
        SERVICE_LIMIT_BYTES,
      ),
    ]),
  ];
}

function logMetrics(size: number, run: LogRun): Metric[] {
  const key = (name: string) => keyOf(size, run.log, name);
  const label = (text: string) => labelOf(size, run.log, text);
  return [
    {
      key: readyKey(size, run.log),
      label: readyLabel(size, run.log),
      value: run.fresh.readyMs / 1000,
      unit: 's',
      ...freshGoalOf(size),
    },
    {
      key: key('restart-ready'),
      label: label('restarted query ready (its own state)'),
      value: run.restart.readyMs / 1000,
      unit: 's',
      goal: atMost(RESTART_READY_GOAL_S),
    },
    ...(run.rebuild
      ? [
          {
            key: key('rebuild-ready'),
            label: label('query built from event 1'),
            value: run.rebuild.readyMs / 1000,
            unit: 's' as const,
          },
        ]
      : []),
    ...(run.publishMs !== null
      ? [
          {
            key: key('publish'),
            label: label('history published into the stream'),
            value: run.publishMs / 1000,
            unit: 's' as const,
          },
        ]
      : []),
    {
      key: key('snapshot'),
      label: label('snapshot of query made and kept by the bus'),
      value: run.snapshotMs / 1000,
      unit: 's',
    },
    {
      key: key('snapshot-size'),
      label: label('size of the snapshot of query'),
      value: run.snapshotBytes / MiB,
      unit: 'MB',
    },
    { key: key('bus-open'), label: label('bus start (log read)'), value: run.busOpenMs / 1000, unit: 's' },
    { key: key('get-posts-p50'), label: label('GET /posts p50'), value: run.getPostsMs.p50, unit: 'ms' },
    { key: key('get-posts-p99'), label: label('GET /posts p99'), value: run.getPostsMs.p99, unit: 'ms' },
    ...(run.rebuild
      ? memoryMetrics(key('rebuild'), label('query from event 1 and its snapshot'), run.rebuild, SERVICE_LIMIT_BYTES)
      : []),
    ...memoryMetrics(key('query'), label('fresh query'), run.fresh, SERVICE_LIMIT_BYTES),
    ...memoryMetrics(key('bus'), label('bus'), run.bus, BUS_LIMIT_BYTES),
  ];
}

/** Peak in cgroup, peak RSS and OOM kills (the last two only when it ran in a cgroup). */
function memoryMetrics(
  prefix: string,
  label: string,
  memory: { peakRssMiB: number | null; cgroup: { peakBytes: number; oomKills: number } | null },
  limitBytes: number,
): Metric[] {
  return [
    {
      key: `${prefix}-cgroup-peak`,
      label: `${label}, peak in cgroup`,
      value: cgroupPeak(memory.cgroup),
      unit: 'MB',
      goal: atMost(limitBytes / MiB),
    },
    {
      key: `${prefix}-rss`,
      label: `${label}, peak RSS`,
      value: memory.peakRssMiB,
      unit: 'MB',
      goal: atMost(limitBytes / MiB),
    },
    ...(memory.cgroup
      ? [
          {
            key: `${prefix}-oom-kills`,
            label: `${label}, OOM kills`,
            value: memory.cgroup.oomKills,
            unit: 'count' as const,
            goal: exactly(0),
          },
        ]
      : []),
  ];
}

/** The largest size's GET /posts p99 over the smallest's, from requests taken in turns. */
function ratioMetrics(runs: readonly CatchupRun[]): Metric[] {
  const smallest = runs[0];
  const largest = runs.at(-1);
  if (!smallest || !largest || runs.length < 2) return [];
  const logs = [largest.file, ...(largest.jetstream ? [largest.jetstream] : [])];
  return logs.map((run) => {
    const own = run.getPostsMs.p99;
    const theirs = run.baselineGetPostsMs?.p99;
    return {
      key: run.log === 'file' ? 'catchup.get-posts-p99-ratio' : 'catchup.jetstream.get-posts-p99-ratio',
      label: `GET /posts p99 on ${compactCount(largest.history.events)} ÷ on ${compactCount(smallest.history.events)} events, in turns${run.log === 'file' ? '' : ` (${LOG_NAME[run.log]})`}`,
      value: own !== null && theirs ? own / theirs : null,
      unit: 'ratio' as const,
      goal: atMost(GET_POSTS_P99_RATIO_GOAL),
    };
  });
}

function checksOf(run: CatchupRun): Check[] {
  const { history } = run;
  const failed: Check[] =
    run.jetstreamError === undefined
      ? []
      : [
          {
            key: `catchup.${compactCount(history.events)}.jetstream.complete`,
            label: `catch-up on ${compactCount(history.events)} events (JetStream): measured`,
            ok: false,
            detail: run.jetstreamError,
          },
        ];
  return [
    ...failed,
    ...[run.file, ...(run.jetstream ? [run.jetstream] : [])].map((logRun) => ({
      key: `catchup.${compactCount(history.events)}.${logRun.log === 'file' ? '' : 'jetstream.'}complete`,
      label: `catch-up on ${compactCount(history.events)} events${logRun.log === 'file' ? '' : ` (${LOG_NAME[logRun.log]})`}: the fresh query shows the whole history once ready`,
      ok: logRun.complete,
      detail:
        `history: ${history.posts} posts, ${history.comments} comments (${history.approved} approved, ${history.rejected} rejected, ${history.pending} pending); ` +
        `shown: ${logRun.shown.posts} posts, ${logRun.shown.comments} comments (${logRun.shown.approved}/${logRun.shown.rejected}/${logRun.shown.pending})`,
    })),
  ];
}
