/**
 * Fault injection: the whole stack as real processes under a steady load of post and comment creates,
 * while services are killed, stopped and restarted, the bus goes away, and subscribers get duplicates.
 * After each scenario the load stops and the state must converge — within 10 s of every service being ready
 * again — to exactly what was acknowledged: every 201 there once with the right moderation status, nothing
 * from a 503 or a refused connection, posts/comments/query agreeing, and one CommentModerated and one
 * CommentUpdated per comment in the bus log. Then a seeded fuzz of malformed requests at every endpoint.
 *
 * Scenarios share one stack, so state accumulates: each verification covers everything acknowledged since
 * the start. A problem found in one scenario is reported there and not counted again by later ones.
 *
 * Environment: FAULT_RATE (requests/s, default 120), FAULT_WARMUP_MS (load before each fault, default 1000),
 * FAULT_SEED (load seed, default 1), FUZZ_SEED (default 7), FUZZ_COUNT (default 1200), FAULT_DEBUG=1 (print
 * every verification while waiting for recovery).
 */
import http from 'node:http';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { delay, http as request, Random, SERVICES, startStack, type ServiceName, type Stack } from '@blog/testkit';
import {
  emptyCounts,
  Ledger,
  OUTCOMES,
  startLoad,
  type LoadReport,
  type LoadRun,
  type Outcome,
} from '../../src/faults/load';
import {
  generateFuzz,
  sendRaw,
  SUBSCRIBERS,
  type FuzzContext,
  type FuzzRequest,
  type Subscriber,
} from '../../src/faults/fuzz';
import { errorCodeOf, isApiError, type SubscriberStatus } from '@blog/common/api';
import {
  HistoryReader,
  summarize,
  verifyOnce,
  verifyUntilPassing,
  type Anomaly,
  type BusEvent,
  type Verification,
} from '../../src/faults/verify';

const ARTIFACTS = path.join(__dirname, '..', '..', 'artifacts');
/** Well below what the stack absorbs on a shared 2-core machine: recovery then measures the fault, not a backlog. */
const RATE = Number(process.env.FAULT_RATE ?? 120);
const LOAD_SEED = Number(process.env.FAULT_SEED ?? 1);
const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 7);
const FUZZ_COUNT = Number(process.env.FUZZ_COUNT ?? 1200);
/** Load before the fault, during the first seconds of an outage, and after every service is back. */
const WARMUP_MS = Number(process.env.FAULT_WARMUP_MS ?? 1_000);
const LOAD_DURING_OUTAGE_MS = 3_000;
const AFTER_READY_MS = 1_000;
const DEBUG = process.env.FAULT_DEBUG === '1';
/** The state must be right this long after every service is ready again. */
const RECOVERY_BOUND_MS = 10_000;
/** Markers are unique per run and never contain "orange". */
const RUN_ID = `r${Date.now().toString(36)}`;

let stack: Stack;
const ledger = new Ledger();
const history = new HistoryReader(() => stack);
/** Anomaly keys already reported by an earlier scenario. */
const known = new Set<string>();

interface Row {
  scenario: string;
  report: LoadReport;
  lost: number;
  duplicated: number;
  phantom: number;
  other: number;
  restartMs: number | undefined;
  recoveryMs: number | undefined;
  passed: boolean;
}
const rows: Row[] = [];
/** Distinct answers of rejected requests (an HTTP error other than 503), per scenario. */
const rejectedReasons = new Map<string, string[]>();
let fuzzSummary = '';

beforeAll(async () => {
  stack = await startStack({ logDir: path.join(ARTIFACTS, 'logs', 'faults') });
}, 60_000);

afterAll(async () => {
  await stack?.stopAll({ timeoutMs: 5_000 });
  if (rows.length === 0 && fuzzSummary === '') return;
  const table = renderTable();
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(path.join(ARTIFACTS, 'faults.md'), table);
  process.stdout.write(`\n${table}\n`);
}, 30_000);

// ---- Scenarios -----------------------------------------------------------------------------------

interface FaultTimes {
  /** performance.now() when the fault ended: the restart or resume was issued. */
  endedAt: number;
  /** performance.now() when every service was ready again. */
  readyAt: number;
  /** How long the restarted service took to be ready, ms (the last restart when there are several). */
  restartMs?: number;
}

interface Scenario {
  name: string;
  /** Short, for markers. */
  slug: string;
  inject: (load: LoadRun) => Promise<FaultTimes>;
}

/** Starts a service and reports when the start was issued and when it was ready. */
async function restart(name: ServiceName): Promise<FaultTimes> {
  const endedAt = performance.now();
  await stack.start(name);
  const readyAt = performance.now();
  return { endedAt, readyAt, restartMs: readyAt - endedAt };
}

/**
 * Waits out an outage. The load goes on for its first seconds only, then pauses until the restart, so that a
 * long outage does not pile up more work (deferred reactions) than a few seconds of load.
 */
async function outage(load: LoadRun, downMs: number): Promise<void> {
  await delay(Math.min(downMs, LOAD_DURING_OUTAGE_MS));
  if (downMs <= LOAD_DURING_OUTAGE_MS) return;
  load.pause();
  await delay(downMs - LOAD_DURING_OUTAGE_MS);
  load.resume();
}

async function killAndRestart(load: LoadRun, name: ServiceName, downMs: number): Promise<FaultTimes> {
  expect(await stack.kill(name)).toEqual({ code: null, signal: 'SIGKILL' });
  await outage(load, downMs);
  return restart(name);
}

async function stopAndRestart(load: LoadRun, name: ServiceName, downMs: number): Promise<FaultTimes> {
  expect(await stack.stop(name)).toEqual({ code: 0, signal: null });
  await outage(load, downMs);
  return restart(name);
}

async function subscriberStatus(): Promise<SubscriberStatus[]> {
  const answer = await request(`${stack.url('event-bus')}/subscribers`, { headers: stack.eventHeaders() });
  expect(answer.status).toBe(200);
  return answer.json as SubscriberStatus[];
}

function subscriberOf(status: SubscriberStatus): Subscriber {
  const port = Number(new URL(status.url).port);
  const name = SUBSCRIBERS.find((candidate) => stack.ports[candidate] === port);
  if (!name) throw new Error(`unknown subscriber ${status.url}`);
  return name;
}

/** Re-delivers already applied events to every subscriber, shuffled, some tampered; all must be ignored. */
async function deliverDuplicates(): Promise<FaultTimes> {
  const random = new Random(LOAD_SEED * 31 + 5);
  const events = await history.read();
  const problems: string[] = [];
  let sent = 0;
  for (const status of await subscriberStatus()) {
    const name = subscriberOf(status);
    const applied = events.filter((event) => event.seq <= status.delivered);
    expect(applied.length).toBeGreaterThan(50);
    const picks = random.shuffle([
      ...applied.slice(0, 10),
      ...random.shuffle(applied).slice(0, 30),
      ...applied.slice(-10),
    ]);
    const duplicates: BusEvent[] = picks.map((event, index) => (index % 4 === 0 ? tamper(event) : event));
    await Promise.all(
      duplicates.map(async (event) => {
        const body = JSON.stringify(event);
        const answer = await request(`${stack.url(name)}/events`, { body, headers: stack.deliveryHeaders(body) });
        sent++;
        const position = (answer.json as { position?: unknown } | undefined)?.position;
        if (answer.status !== 200 || typeof position !== 'number' || position < event.seq) {
          problems.push(`${name} seq ${event.seq} ${event.type}: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
        }
      }),
    );
  }
  expect({ sent: sent > 0, problems }).toEqual({ sent: true, problems: [] });
  const now = performance.now();
  return { endedAt: now, readyAt: now };
}

/** The same event (same seq and id) with its payload changed: were it applied, a view would show it. */
function tamper(event: BusEvent): BusEvent {
  const data = typeof event.data === 'object' && event.data !== null ? (event.data as Record<string, unknown>) : {};
  if (event.type === 'PostCreated') return { ...event, data: { ...data, title: `${String(data.title)} (tampered)` } };
  const status = data.status === 'approved' ? 'rejected' : 'approved';
  return { ...event, data: { ...data, status, content: `${String(data.content)} (tampered)` } };
}

const scenarios: Scenario[] = [
  {
    name: 'kill -9 event-bus, restart after 1 s',
    slug: 'kill-bus',
    inject: (load) => killAndRestart(load, 'event-bus', 1_000),
  },
  {
    name: 'kill -9 posts, restart after 1 s',
    slug: 'kill-posts',
    inject: (load) => killAndRestart(load, 'posts', 1_000),
  },
  {
    name: 'kill -9 comments, restart after 1 s',
    slug: 'kill-comments',
    inject: (load) => killAndRestart(load, 'comments', 1_000),
  },
  {
    name: 'kill -9 query, restart after 1 s',
    slug: 'kill-query',
    inject: (load) => killAndRestart(load, 'query', 1_000),
  },
  {
    name: 'kill -9 moderation, restart after 1 s',
    slug: 'kill-moderation',
    inject: (load) => killAndRestart(load, 'moderation', 1_000),
  },
  {
    name: 'event-bus stopped (SIGTERM) for 5 s',
    slug: 'stop-bus',
    inject: (load) => stopAndRestart(load, 'event-bus', 5_000),
  },
  {
    name: 'moderation stopped (SIGTERM) for 10 s',
    slug: 'stop-moderation',
    inject: (load) => stopAndRestart(load, 'moderation', 10_000),
  },
  { name: 'duplicate and tampered re-deliveries, out of order', slug: 'duplicates', inject: deliverDuplicates },
  {
    name: 'event-bus killed twice in a row (kill, start, kill, start)',
    slug: 'kill-bus-twice',
    inject: async (load) => {
      await killAndRestart(load, 'event-bus', 300);
      return killAndRestart(load, 'event-bus', 300);
    },
  },
];

describe('faults', () => {
  test.each(scenarios.map((scenario, index) => [scenario.name, scenario, index] as const))(
    'under load: %s — nothing acknowledged is lost or duplicated, nothing refused appears',
    async (_name, scenario, index) => {
      const load = startLoad({
        postsUrl: stack.url('posts'),
        commentsUrl: stack.url('comments'),
        ledger,
        scenario: scenario.slug,
        runId: RUN_ID,
        ratePerSecond: RATE,
        seed: LOAD_SEED * 1_000 + index,
        maxDurationMs: 40_000,
      });
      let report: LoadReport | undefined;
      let times: FaultTimes;
      try {
        await delay(WARMUP_MS);
        times = await scenario.inject(load);
        await delay(AFTER_READY_MS);
      } finally {
        report = await load.stop();
      }
      for (const name of SERVICES) expect([name, stack.isRunning(name)]).toEqual([name, true]);

      const result = await verifyUntilPassing({
        stack,
        ledger,
        runId: RUN_ID,
        history,
        known,
        deadline: times.readyAt + RECOVERY_BOUND_MS,
        onCheck: DEBUG ? (fresh, last) => debugCheck(scenario.slug, times, fresh, last) : undefined,
      });
      const count = (kind: Anomaly['kind']) => result.fresh.filter((anomaly) => anomaly.kind === kind).length;
      rows.push({
        scenario: scenario.name,
        report,
        lost: count('lost'),
        duplicated: count('duplicated'),
        phantom: count('phantom'),
        other: result.fresh.length - count('lost') - count('duplicated') - count('phantom'),
        restartMs: times.restartMs,
        recoveryMs: result.passedAt === undefined ? undefined : result.passedAt - times.endedAt,
        passed: result.passed,
      });
      for (const anomaly of result.fresh) known.add(anomaly.key);
      const rejected = new Map<string, number>();
      for (const record of ledger.ofScenario(scenario.slug)) {
        if (record.outcome !== 'rejected') continue;
        const reason = `${record.kind} ${record.httpStatus}: ${(record.error ?? '').replace(/[0-9a-f-]{36}/g, '<id>').slice(0, 120)}`;
        rejected.set(reason, (rejected.get(reason) ?? 0) + 1);
      }
      rejectedReasons.set(
        scenario.name,
        [...rejected].map(([reason, n]) => `${n}× ${reason}`),
      );

      expect(report.posts.acknowledged + report.comments.acknowledged).toBeGreaterThan(0);
      if (!result.passed) {
        throw new Error(
          `${scenario.name}: the state was not right within ${RECOVERY_BOUND_MS / 1000} s of every service being ready ` +
            `(${result.polls} checks; load: ${JSON.stringify({ posts: report.posts, comments: report.comments })}):\n${summarize(result.fresh)}`,
        );
      }
    },
    60_000,
  );

  test('fuzz: malformed requests at every endpoint crash nothing, get a JSON 4xx, and change nothing', async () => {
    // Start from a settled state, so that positions and the history can be compared afterwards.
    const before = await verifyUntilPassing({
      stack,
      ledger,
      runId: RUN_ID,
      history,
      known,
      deadline: performance.now() + RECOVERY_BOUND_MS,
    });
    expect(summarize(before.fresh)).toBe('no anomalies');
    const events = await history.read();
    const statuses = await subscriberStatus();
    const delivered = {} as Record<Subscriber, number>;
    for (const status of statuses) delivered[subscriberOf(status)] = status.delivered;
    const context: FuzzContext = {
      delivered,
      history: events,
      postIds: ledger.postIds.slice(0, 20),
      eventHeaders: stack.eventHeaders(),
      deliveryHeaders: (body) => stack.deliveryHeaders(body ?? ''),
    };
    const logSizes = Object.fromEntries(SERVICES.map((name) => [name, statSync(stack.logFile(name)).size]));

    const requests = generateFuzz(FUZZ_SEED, FUZZ_COUNT, context);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const problems: string[] = [];
    const byStatus = new Map<number, number>();
    const started = performance.now();
    try {
      let next = 0;
      const worker = async () => {
        while (next < requests.length) {
          const fuzz = requests[next++] as FuzzRequest;
          const problem = await check(fuzz, agent);
          if (problem.status !== undefined) byStatus.set(problem.status, (byStatus.get(problem.status) ?? 0) + 1);
          if (problem.message) problems.push(problem.message);
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
    } finally {
      agent.destroy();
    }
    const fuzzMs = performance.now() - started;
    const statusList = [...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([status, n]) => `${status}×${n}`)
      .join(', ');
    fuzzSummary = `${requests.length} requests (seed ${FUZZ_SEED}) in ${(fuzzMs / 1000).toFixed(1)} s: ${statusList}; ${problems.length} problems`;
    expect(problems.slice(0, 30)).toEqual([]);

    // Nothing crashed, nothing logged an error, nothing reached the log, every position is where it was.
    for (const name of SERVICES) {
      expect([name, stack.isRunning(name)]).toEqual([name, true]);
      expect([name, (await request(`${stack.url(name)}/healthz`)).status]).toEqual([name, 200]);
    }
    const errors = SERVICES.flatMap((name) =>
      readFileSync(stack.logFile(name))
        .subarray(logSizes[name])
        .toString('utf8')
        .split('\n')
        .filter((line) => /"level":(5|6)\d/.test(line))
        .map((line) => `${name}: ${line.slice(0, 300)}`),
    );
    expect(errors).toEqual([]);
    expect((await history.read()).length).toBe(events.length);
    for (const status of await subscriberStatus())
      expect([status.url, status.delivered, status.lag]).toEqual([status.url, delivered[subscriberOf(status)], 0]);
    const after = await verifyOnce({ stack, ledger, runId: RUN_ID, history });
    expect(summarize(after.anomalies.filter((anomaly) => !known.has(anomaly.key)))).toBe('no anomalies');
  }, 90_000);
});

let checkStarted = performance.now();

function debugCheck(slug: string, times: FaultTimes, fresh: readonly Anomaly[], last: Verification): void {
  const kinds = new Map<string, number>();
  for (const anomaly of fresh) kinds.set(anomaly.kind, (kinds.get(anomaly.kind) ?? 0) + 1);
  const lags = last.subscribers.map((subscriber) => subscriber.lag).join('/');
  process.stderr.write(
    `[faults] ${slug} +${((performance.now() - times.endedAt) / 1000).toFixed(1)} s (check took ${(performance.now() - checkStarted).toFixed(0)} ms): ${JSON.stringify(Object.fromEntries(kinds))} lags ${lags} ` +
      `events ${last.checked.events}\n`,
  );
  checkStarted = performance.now();
}

async function check(fuzz: FuzzRequest, agent: http.Agent): Promise<{ status?: number; message?: string }> {
  const where = `${fuzz.what} [${fuzz.method} ${fuzz.service} ${fuzz.path.slice(0, 80)}]`;
  let answer;
  try {
    answer = await sendRaw(stack.ports[fuzz.service], fuzz, agent);
  } catch (err) {
    return { message: `${where}: no answer (${err instanceof Error ? err.message : String(err)})` };
  }
  const { status, contentType, text } = answer;
  const fail = (why: string) => ({
    status,
    message: `${where}: ${why}: HTTP ${status} ${contentType} ${text.slice(0, 200)}`,
  });
  if (status >= 500) return fail('server error');
  if (fuzz.expectStatus !== undefined && status !== fuzz.expectStatus) return fail(`expected ${fuzz.expectStatus}`);
  if (fuzz.mustFail && status < 400) return fail('garbage was accepted');
  if (status >= 400 && fuzz.method !== 'HEAD') {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!contentType.includes('application/json') || !isApiError(body) || errorCodeOf(body) === undefined)
      return fail('not a JSON {error, code}');
  }
  return { status };
}

// ---- The report ------------------------------------------------------------------------------------

function renderTable(): string {
  const seconds = (ms: number | undefined) => (ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`);
  const sum = (counts: Record<Outcome, number>, other: Record<Outcome, number>, outcome: Outcome) =>
    counts[outcome] + other[outcome];
  const lines = [
    `Fault injection, ${new Date().toISOString()}: load ${RATE} requests/s (1 in 5 a post, 1 in 5 comments with "orange"), seed ${LOAD_SEED}.`,
    '',
    '| Scenario | Sent | Acknowledged | 503 nothing changed | 503 unconfirmed | Connection refused | Other 4xx | Connection broken | Lost | Duplicated | Phantom | Other problems | Restart → ready | Recovery |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const totals = emptyCounts();
  for (const row of rows) {
    const { posts, comments } = row.report;
    for (const outcome of OUTCOMES) totals[outcome] += sum(posts, comments, outcome);
    lines.push(
      `| ${row.scenario} | ${row.report.sent} | ${sum(posts, comments, 'acknowledged')} (${posts.acknowledged} posts) | ${sum(posts, comments, 'refused')} | ${sum(posts, comments, 'unconfirmed')} | ${sum(posts, comments, 'unreached')} | ` +
        `${sum(posts, comments, 'rejected')} | ${sum(posts, comments, 'ambiguous')} | ${row.lost} | ${row.duplicated} | ${row.phantom} | ${row.other} | ${seconds(row.restartMs)} | ` +
        `${row.passed ? seconds(row.recoveryMs) : `not within ${RECOVERY_BOUND_MS / 1000} s`} |`,
    );
  }
  const recoveries = rows.flatMap((row) => (row.recoveryMs === undefined ? [] : [row.recoveryMs]));
  const p99 = Math.max(0, ...rows.map((row) => row.report.p99Ms));
  lines.push(
    '',
    `Acknowledged in all: ${totals.acknowledged}; max recovery ${seconds(recoveries.length > 0 ? Math.max(...recoveries) : undefined)}; ` +
      `p99 latency of acknowledged creates ≤ ${p99} ms per scenario; requests shed by the generator: ${rows.reduce((n, row) => n + row.report.shed, 0)}.`,
  );
  if (fuzzSummary) lines.push(`Fuzz: ${fuzzSummary}.`);
  for (const [scenario, reasons] of rejectedReasons)
    if (reasons.length > 0) lines.push(`Other 4xx in "${scenario}": ${reasons.join('; ')}.`);
  return `${lines.join('\n')}\n`;
}
