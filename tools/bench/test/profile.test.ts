/** The pure parts of `npm run profile`: reading a CPU profile, CPU time from /proc, the report's arithmetic. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cpuSecondsOf } from '../src/profile/cpu-time';
import { renderProfileMarkdown, type MeasuredLoad } from '../src/profile/report';
import { summarizeProfile } from '../src/profile/self-time';

const ROOT = '/repo';

function profileFile(dir: string): string {
  const frame = (id: number, functionName: string, url: string) => ({ id, callFrame: { functionName, url } });
  const profile = {
    nodes: [
      frame(1, '(idle)', ''),
      frame(2, 'handle', 'file:///repo/node_modules/express/lib/application.js'),
      frame(3, 'writeHead', 'node:_http_server'),
      frame(4, 'createPost', 'file:///repo/posts/dist/app.js'),
      frame(5, '(garbage collector)', ''),
      frame(6, 'next', 'file:///repo/node_modules/@scope/router/index.js'),
    ],
    samples: [1, 2, 2, 3, 4, 5, 6, 1, 2, 2],
    timeDeltas: [500, 100, 100, 100, 100, 100, 100, 500, 100, 100],
  };
  const file = path.join(dir, 'test.cpuprofile');
  writeFileSync(file, JSON.stringify(profile));
  return file;
}

describe('profile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bench-profile-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('sums self time by package, Node module and workspace, as a share of the busy samples', () => {
    const summary = summarizeProfile(profileFile(dir), { workspaceRoot: ROOT });
    expect(summary.idleMs).toBeCloseTo(1);
    expect(summary.busyMs).toBeCloseTo(0.8);
    expect(summary.top).toEqual([
      { where: 'express', share: 0.5 },
      { where: 'node:_http_server', share: 0.125 },
      { where: 'posts (the blog)', share: 0.125 },
      { where: '(garbage collector)', share: 0.125 },
      { where: '@scope/router', share: 0.125 },
    ]);
    expect(summarizeProfile(profileFile(dir), { workspaceRoot: ROOT, top: 1 }).top).toHaveLength(1);
  });

  it('reads the CPU time of a process from /proc (nothing where there is none), and nothing for one that does not exist', () => {
    const spent = cpuSecondsOf(process.pid);
    if (process.platform === 'linux') expect(spent).toBeGreaterThan(0);
    else expect(spent).toBeUndefined();
    expect(cpuSecondsOf(2 ** 31 - 1)).toBeUndefined();
  });

  it('reports the CPU per create of each process, and the rate the CPU alone allows against the baseline', () => {
    const load = (created: number, costs: [string, number | undefined][]): MeasuredLoad => ({
      requests: created,
      created,
      elapsedMs: 1_000,
      costs: costs.map(([name, cpuSeconds]) => ({ name, cpuSeconds })),
    });
    const markdown = renderProfileMarkdown({
      command: 'npm run profile',
      startedAt: new Date('2026-12-05T00:00:00Z'),
      machine: { cpuModel: 'cpu', cpus: 2, totalMemoryGiB: 1, node: 'v20', os: 'Linux' },
      concurrency: 50,
      warmupMs: 1_000,
      durationMs: 6_000,
      blog: load(1_000, [
        ['posts', 0.3],
        ['event-bus', 0.1],
      ]),
      bare: load(4_000, [['bare-express', 0.4]]),
      summaries: new Map(),
      pictures: [{ name: 'posts', file: '../../docs/img/flame-posts.png' }],
    });
    expect(markdown).toContain('| posts                    | 300 µs         | 75.0 % |');
    expect(markdown).toContain('| all of them              | 400 µs         | 100 %  |');
    expect(markdown).toContain('100 µs ÷ 400 µs = 0.25×');
    expect(markdown).toContain('the blog 1000/s (1000 of 1000 created), the baseline 4000/s (4000 of 4000): 0.25×');
    expect(markdown).toContain('![posts](../../docs/img/flame-posts.png)');
  });
});
