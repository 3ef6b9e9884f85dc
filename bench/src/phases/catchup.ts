/**
 * Phase 4 (local stack only): how long a fresh query service takes to be ready on a long history. A
 * synthetic history is written straight into a bus log in a temporary folder, a bus is started on it
 * (alone), then a query process is started and its /readyz polled every 10 ms until it answers 200.
 * The query's view is then compared with what the history holds, so the time is that of a full catch-up.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePorts, startStack, type Stack, delay } from '@blog/testkit';
import { compactCount } from '../format';
import { writeSyntheticHistory, type HistorySummary } from '../history';
import { JsonClient } from '../http';
import { atMost, notMeasured, type Check, type Metric, type PhaseOutcome } from '../report/model';
import { residentMiB } from '../rss';
import { readWholeView } from '../whole-view';
import { stopAndForgetHistory } from '../target';
import type { PhaseContext } from './context';

const GOAL_SIZE = 1_000_000;
const GOAL_READY_S = 10;
const READY_POLL_MS = 10;
/** Generous: a slow implementation should still finish, but never hang the bench. */
const START_TIMEOUT_MS = 120_000;

export interface CatchupRun {
  history: HistorySummary;
  writeMs: number;
  /** Spawning the bus alone (reading the log) → first 200 from its /readyz, polled every 10 ms. */
  busOpenMs: number;
  /** Spawning query → first 200 from its /readyz, polled every 10 ms. */
  queryReadyMs: number;
  queryRssMiB: number | null;
  busRssMiB: number | null;
  /** What GET /posts showed once ready. */
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
      metrics: sizes.map((size) => ({ ...notMeasured(readyKey(size), readyLabel(size), 's', 'not measured (external stack)'), ...goalOf(size) })),
      checks: [],
      notes: ['Catch-up: not measured (external stack): it starts processes of the local build.'],
      details: { runs: [] },
    };
  }
  const runs: CatchupRun[] = [];
  for (const size of sizes) {
    const run = await catchUpOnce(size, path.join(logDir, `catchup-${compactCount(size)}`));
    runs.push(run);
    progress(
      `catch-up on ${compactCount(size)} events: query ready in ${(run.queryReadyMs / 1000).toFixed(2)} s ` +
        `(bus opened the log in ${(run.busOpenMs / 1000).toFixed(2)} s; query RSS ${run.queryRssMiB?.toFixed(0) ?? '?'} MB)`,
    );
  }
  const metrics: Metric[] = runs.flatMap((run) => [
    { key: readyKey(run.history.events), label: readyLabel(run.history.events), value: run.queryReadyMs / 1000, unit: 's', ...goalOf(run.history.events) },
    {
      key: `catchup.${compactCount(run.history.events)}.bus-open`,
      label: `bus start on ${compactCount(run.history.events)} events (log read)`,
      value: run.busOpenMs / 1000,
      unit: 's',
    },
    {
      key: `catchup.${compactCount(run.history.events)}.query-rss`,
      label: `query RSS after catching up on ${compactCount(run.history.events)} events`,
      value: run.queryRssMiB,
      unit: 'MB',
    },
  ]);
  const checks: Check[] = runs.map((run) => ({
    key: `catchup.${compactCount(run.history.events)}.complete`,
    label: `catch-up on ${compactCount(run.history.events)} events: query shows the whole history once ready`,
    ok: run.complete,
    detail:
      `history: ${run.history.posts} posts, ${run.history.comments} comments (${run.history.approved} approved, ${run.history.rejected} rejected, ${run.history.pending} pending); ` +
      `shown: ${run.shown.posts} posts, ${run.shown.comments} comments (${run.shown.approved}/${run.shown.rejected}/${run.shown.pending})`,
  }));
  return {
    metrics,
    checks,
    notes: [
      'Catch-up: a synthetic history (per post a PostCreated, then 0–5 comments, each CommentCreated → CommentModerated → CommentUpdated, one in five rejected) ' +
        'is written in the bus log format to a temporary folder (deleted afterwards); a bus alone is started on it, then a fresh query process; ' +
        'each time runs from the harness spawning the process to the first 200 from its /readyz, polled every 10 ms (so it includes Node starting, ~0.1–0.2 s). ' +
        'GET /posts, sent as soon as /readyz says 200, must show every post and comment of the history with its final status.',
    ],
    details: { runs },
  };
}

async function catchUpOnce(size: number, logDir: string): Promise<CatchupRun> {
  const historyDir = await mkdtemp(path.join(os.tmpdir(), 'blog-bench-history-'));
  try {
    const writeStarted = performance.now();
    const history = await writeSyntheticHistory(path.join(historyDir, 'events.jsonl'), size);
    const writeMs = performance.now() - writeStarted;

    // Both ports fixed, so that /readyz can be polled here from the moment each process is spawned.
    const [busPort, queryPort] = (await freePorts(2)) as [number, number];
    const busStarted = performance.now();
    const startingBus = startStack({
      services: ['event-bus'],
      logDir,
      logLevel: 'warn',
      ports: { 'event-bus': busPort, query: queryPort },
      env: { 'event-bus': { EVENT_LOG_DIR: historyDir, EVENT_SUBSCRIBERS: `http://127.0.0.1:${queryPort}` } },
      readyTimeoutMs: START_TIMEOUT_MS,
    });
    const busOpenMs = (await firstReady(`http://127.0.0.1:${busPort}`, startingBus)) - busStarted;
    const stack = await startingBus;
    try {
      const queryStarted = performance.now();
      const startingQuery = stack.start('query');
      const queryReadyMs = (await firstReady(stack.url('query'), startingQuery)) - queryStarted;
      // Read the view at once, so that it shows what readiness promised, not what live delivery added since.
      const shown = await countView(stack.url('query'), stack.url('comments'));
      await startingQuery;
      const queryRssMiB = rssOf(stack, 'query');
      const busRssMiB = rssOf(stack, 'event-bus');
      const complete =
        shown.posts === history.posts &&
        shown.comments === history.comments &&
        shown.approved === history.approved &&
        shown.rejected === history.rejected &&
        shown.pending === history.pending;
      return { history, writeMs, busOpenMs, queryReadyMs, queryRssMiB, busRssMiB, shown, complete };
    } finally {
      await stopAndForgetHistory(stack);
    }
  } finally {
    await rm(historyDir, { recursive: true, force: true });
  }
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

function rssOf(stack: Stack, service: 'query' | 'event-bus'): number | null {
  const pid = stack.pid(service);
  return pid === undefined ? null : (residentMiB(pid) ?? null);
}

async function countView(queryUrl: string, commentsUrl: string): Promise<CatchupRun['shown']> {
  const query = new JsonClient(queryUrl, { connections: 1, timeoutMs: 60_000 });
  const commentsClient = new JsonClient(commentsUrl, { connections: 1, timeoutMs: 60_000 });
  try {
    const shown = { posts: 0, comments: 0, approved: 0, rejected: 0, pending: 0 };
    for (const post of Object.values(await readWholeView(query, commentsClient))) {
      shown.posts++;
      for (const comment of post.comments) {
        shown.comments++;
        shown[comment.status]++;
      }
    }
    return shown;
  } finally {
    await Promise.all([query.close(), commentsClient.close()]);
  }
}

const readyKey = (size: number) => `catchup.${compactCount(size)}.ready`;
const readyLabel = (size: number) => `fresh query ready on ${compactCount(size)} events`;
const goalOf = (size: number) => (size === GOAL_SIZE ? { goal: atMost(GOAL_READY_S) } : {});
