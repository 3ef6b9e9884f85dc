/**
 * A short run of the bench's JetStream phase beside the file log's creates (`npm run test:cluster`): it
 * must keep working and stay correct. Speed is never asserted here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runBench, type BenchReport } from '../../src/bench';
import { SMOKE_PROFILE } from '../../src/profile';

describe('bench smoke run of the JetStream phase', () => {
  let dir: string;
  let report: BenchReport;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bench-jetstream-'));
    report = await runBench({
      profile: SMOKE_PROFILE,
      phases: ['creates', 'jetstream'],
      logDir: path.join(dir, 'logs'),
    });
  }, 170_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('passes every correctness check of both logs, with the JetStream checks among them', () => {
    expect(report.checks.filter((check) => !check.ok)).toEqual([]);
    expect(report.checks.filter((check) => check.key.startsWith('jetstream.')).length).toBeGreaterThanOrEqual(4);
  });

  it('measures both side by side: creates at c=50, create→visible, the ratio, and the leader kill', () => {
    const value = (key: string) => report.metrics.find((metric) => metric.key === key)?.value;
    for (const key of [
      'creates.c50.rate',
      'jetstream.creates.c50.rate',
      'jetstream.propagation.p50',
      'jetstream.propagation.p99',
      'jetstream.leader-kill.max',
    ]) {
      expect([key, typeof value(key)]).toEqual([key, 'number']);
    }
    expect(value('jetstream.creates.ratio')).toBeCloseTo(
      (value('jetstream.creates.c50.rate') as number) / (value('creates.c50.rate') as number),
    );
    const { jetstream } = report.details;
    expect(jetstream?.creates.verification).toMatchObject({ missing: 0, duplicated: 0, unacknowledged: 0 });
    expect(jetstream?.leaderKill.acknowledged).toBeGreaterThan(0);
  });
});
