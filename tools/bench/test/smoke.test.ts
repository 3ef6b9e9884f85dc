/**
 * A short run of the whole benchmark against the local production build (a few hundred events, catch-up on
 * 2k): it must keep working and stay correct. Speed is never asserted here.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PHASES, runBench, type BenchReport } from '../src/bench';
import { SMOKE_PROFILE } from '../src/profile';
import { writeResults } from '../src/report/write';

const EXPECTED_METRICS = [
  ...[1, 20, 50].flatMap((c) => [`creates.c${c}.rate`, `creates.c${c}.p50`, `creates.c${c}.p99`]),
  'propagation.p50',
  'propagation.p95',
  'propagation.p99',
  'moderation.p50',
  'moderation.p99',
  'moderation.never-settled',
  'moderation.wrong-status',
  'catchup.2k.ready',
  'catchup.2k.bus-open',
  'catchup.2k.restart-ready',
  'catchup.2k.rebuild-ready',
  'catchup.2k.snapshot',
  'catchup.2k.get-posts-p99',
  'catchup.2k.query-cgroup-peak',
  'catchup.2k.bus-cgroup-peak',
  'catchup.2k.rebuild-cgroup-peak',
  ...['posts', 'comments', 'moderation'].flatMap((service) => [
    `catchup.2k.${service}-rebuild-ready`,
    `catchup.2k.${service}-cgroup-peak`,
    `catchup.2k.${service}-oom-kills`,
  ]),
  ...['sqlite', 'lmdb'].flatMap((engine) => [`stores.${engine}.apply-rate`, `stores.${engine}.page-p99`]),
  ...['event-bus', 'posts', 'comments', 'query', 'moderation'].flatMap((service) => [
    `memory.${service}.idle`,
    `memory.${service}.after-load`,
  ]),
  ...[
    'event',
    'PostCreated',
    'CommentCreated',
    'CommentModerated',
    'CommentUpdated',
    'events-per-gib',
    'posts-per-gib',
    'comments-per-gib',
  ].map((key) => `storage.${key}`),
];

describe('bench smoke run on the local stack', () => {
  let dir: string;
  let report: BenchReport;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bench-smoke-'));
    // The JetStream phase needs a nats-server: its smoke run is in `npm run test:cluster` (test/cluster/).
    report = await runBench({
      profile: SMOKE_PROFILE,
      phases: PHASES.filter((phase) => phase !== 'jetstream'),
      logDir: path.join(dir, 'logs'),
    });
  }, 110_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('passes every correctness check', () => {
    expect(report.checks.filter((check) => !check.ok)).toEqual([]);
    expect(report.checks.length).toBeGreaterThanOrEqual(13);
  });

  it('sees every acknowledged post and comment, loses nothing and settles every comment with the right status', () => {
    const { creates, propagation, moderation, catchup } = report.details;
    expect(creates?.verification).toMatchObject({ missing: 0, duplicated: 0, unacknowledged: 0 });
    expect(creates?.verification.acknowledged).toBeGreaterThan(50);
    expect(propagation?.verification).toMatchObject({ missing: 0, duplicated: 0, unacknowledged: 0 });
    expect(propagation?.notSeen).toBe(0);
    expect(propagation?.visibleMs.count).toBeGreaterThan(50);
    expect(moderation?.verification).toMatchObject({
      missing: 0,
      duplicated: 0,
      misplaced: 0,
      unsettled: 0,
      wrongStatus: 0,
      unacknowledged: 0,
    });
    expect(moderation?.verification.acknowledged).toBeGreaterThan(50);
    expect(moderation?.neverSettled).toBe(0);
    expect(moderation?.wrongStatus).toBe(0);
    expect(
      catchup?.runs.map((run) => [
        run.history.events,
        run.file.complete,
        run.file.fresh.cgroup?.oomKills,
        run.jetstream,
      ]),
    ).toEqual([[2_000, true, 0, null]]);
    expect(catchup?.runs[0]?.services.map(({ service, cgroup }) => [service, cgroup?.oomKills])).toEqual([
      ['posts', 0],
      ['comments', 0],
      ['moderation', 0],
    ]);
  });

  it("measures the log's bytes from the bus's own file: every event of the run, each type's bytes adding up to the whole", () => {
    const storage = report.details.storage;
    if (!storage) throw new Error('no storage details');
    const types = Object.values(storage.byType);
    expect(types.reduce((sum, type) => sum + type.bytes, 0)).toBe(storage.total.bytes);
    expect(types.reduce((sum, type) => sum + type.events, 0)).toBe(storage.total.events);
    const acknowledged =
      (report.details.creates?.verification.acknowledged ?? 0) +
      (report.details.moderation?.verification.acknowledged ?? 0);
    expect(storage.total.events).toBeGreaterThanOrEqual(acknowledged);
  });

  it('watches the local query through its live feed', () => {
    expect(report.details.propagation?.resolution.method).toBe('stream');
    expect(report.details.moderation?.resolution.method).toBe('stream');
  });

  it('writes a JSON report with a value for each metric, and the Markdown summary', async () => {
    const written = await writeResults(report, dir, 'jest smoke');
    const json = JSON.parse(await readFile(written.json, 'utf8')) as {
      command: string;
      metrics: { key: string; value: number | null }[];
    };
    expect(json.command).toBe('jest smoke');
    const values = new Map(json.metrics.map(({ key, value }) => [key, value]));
    for (const key of EXPECTED_METRICS) expect([key, typeof values.get(key)]).toEqual([key, 'number']);
    expect(path.basename(written.markdown)).toBe('latest-smoke.md');
    const markdown = await readFile(written.markdown, 'utf8');
    expect(markdown).toContain('| Metric');
    expect(markdown).toContain('nearest-rank');
  });
});
