/**
 * A short run of the bench's catch-up phase on both logs (`npm run test:cluster`, which has a nats-server):
 * the JetStream half must keep working and stay correct. Speed is never asserted here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runBench, type BenchReport } from '../../src/bench';
import { SMOKE_PROFILE } from '../../src/profile';

describe('bench smoke run of the catch-up phase on the file log and on JetStream', () => {
  let dir: string;
  let report: BenchReport;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bench-catchup-js-'));
    const profile = {
      ...SMOKE_PROFILE,
      catchup: { ...SMOKE_PROFILE.catchup, logs: ['file' as const, 'jetstream' as const] },
    };
    report = await runBench({ profile, phases: ['catchup'], logDir: path.join(dir, 'logs') });
  }, 170_000);
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('shows the whole history on a fresh replica from the object store, and passes every check', () => {
    expect(report.checks.filter((check) => !check.ok)).toEqual([]);
    const [run] = report.details.catchup?.runs ?? [];
    expect(run?.jetstreamNote).toBeUndefined();
    expect(run?.jetstream).toMatchObject({ log: 'jetstream', complete: true, rebuild: null });
    expect(run?.jetstream?.shown).toEqual(run?.file.shown);
    expect(run?.jetstream?.snapshotBytes).toBeGreaterThan(0);
  });

  it('measures the JetStream figures beside the file log ones', () => {
    const value = (key: string) => report.metrics.find((metric) => metric.key === key)?.value;
    for (const key of [
      'catchup.2k.ready',
      'catchup.2k.jetstream.ready',
      'catchup.2k.jetstream.restart-ready',
      'catchup.2k.jetstream.publish',
      'catchup.2k.jetstream.bus-open',
      'catchup.2k.jetstream.get-posts-p99',
    ]) {
      expect([key, typeof value(key)]).toEqual([key, 'number']);
    }
  });
});
