#!/usr/bin/env node
/**
 * `npm run profile`: what one create costs, process by process. Starts the production build with every
 * service under `node --cpu-prof`, sends keyed creates (a new Idempotency-Key each, as the page) in a
 * closed loop at c=50, then the same load to the bare Express 5 baseline, also profiled. Writes
 * tools/bench/results/profile.md (CPU time per create of each process, where each spends it) and the flame
 * graphs of posts, the bus and the baseline to docs/img/. Traffic goes to 127.0.0.1 only.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startStack } from '@blog/testkit';
import { launchChromium } from '@blog/testkit/chromium';
import { startBareExpress } from '../baseline/launch';
import { JsonClient } from '../http';
import { runClosedLoop } from '../load';
import { describeMachine } from '../machine';
import { acknowledgedId } from '../phases/outcomes';
import { BENCH_SERVICES, stopAndForgetHistory } from '../target';
import { cpuSecondsOf, ownCpuSeconds } from './cpu-time';
import { renderFlameGraph } from './flame-graph';
import { renderProfileMarkdown, type MeasuredLoad, type ProcessCost } from './report';
import { summarizeProfile } from './self-time';

/** The repository root (this file runs from tools/bench/dist/profile). */
const ROOT = path.join(__dirname, '..', '..', '..', '..');
const RESULTS = path.join(__dirname, '..', '..', 'results');
const PICTURES = path.join(ROOT, 'docs', 'img');
const CONCURRENCY = 50;
const WARMUP_MS = 1_000;
/** The flame graphs the docs show. */
const PICTURED = ['posts', 'event-bus', 'bare-express'];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '6' }, help: { type: 'boolean', default: false } },
  });
  if (values.help) {
    process.stdout.write(
      'npm run profile [-- --seconds N]   CPU profile of keyed creates at c=50 (N seconds, default 6), and of the bare Express baseline\n',
    );
    return 0;
  }
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 60) {
    process.stderr.write(`profile: --seconds must be a number from 1 to 60, not "${values.seconds}"\n`);
    return 2;
  }
  const durationMs = seconds * 1_000;
  const dir = path.join(RESULTS, 'profile');
  await rm(dir, { recursive: true, force: true });
  const profileDir = (name: string) => path.join(dir, name);
  const progress = (line: string) => process.stderr.write(`[profile] ${line}\n`);
  const startedAt = new Date();

  progress('starting the production build, every service under --cpu-prof');
  const stack = await startStack({
    logDir: path.join(dir, 'logs'),
    logLevel: 'warn',
    services: BENCH_SERVICES,
    nodeArgs: Object.fromEntries(
      BENCH_SERVICES.map((name) => [name, ['--cpu-prof', `--cpu-prof-dir=${profileDir(name)}`]]),
    ),
  });
  let blog: MeasuredLoad;
  try {
    const pids = new Map(BENCH_SERVICES.map((name) => [name, stack.pid(name)]));
    blog = await measure(stack.url('posts'), true, pids, durationMs, progress);
  } finally {
    // Each service writes its profile as it exits.
    await stopAndForgetHistory(stack);
  }

  progress('the same load on the bare Express 5 baseline, under --cpu-prof');
  const baseline = await startBareExpress({ nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir('bare-express')}`] });
  let bare: MeasuredLoad;
  try {
    bare = await measure(baseline.url, false, new Map([['bare-express', baseline.pid]]), durationMs, progress);
  } finally {
    await baseline.stop();
  }

  const summaries = new Map<string, ReturnType<typeof summarizeProfile>>();
  const profiles = new Map<string, string>();
  for (const name of [...BENCH_SERVICES, 'bare-express']) {
    const [file] = (await readdir(profileDir(name))).filter((entry) => entry.endsWith('.cpuprofile'));
    if (!file) throw new Error(`${name} wrote no CPU profile in ${profileDir(name)}`);
    profiles.set(name, path.join(profileDir(name), file));
    summaries.set(name, summarizeProfile(path.join(profileDir(name), file), { workspaceRoot: ROOT }));
  }

  progress('drawing the flame graphs (speedscope, headless Chromium)');
  await mkdir(PICTURES, { recursive: true });
  const browser = await launchChromium();
  try {
    for (const name of PICTURED)
      await renderFlameGraph(browser, profiles.get(name) as string, name, path.join(PICTURES, `flame-${name}.png`));
  } finally {
    await browser.close();
  }

  const markdown = path.join(RESULTS, 'profile.md');
  await writeFile(
    markdown,
    renderProfileMarkdown({
      command: `npm run profile${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      startedAt,
      machine: describeMachine(),
      concurrency: CONCURRENCY,
      warmupMs: WARMUP_MS,
      durationMs,
      blog,
      bare,
      summaries,
      pictures: PICTURED.map((name) => ({
        name,
        file: path.relative(path.dirname(markdown), path.join(PICTURES, `flame-${name}.png`)),
      })),
    }),
  );
  progress(
    `wrote ${path.relative(process.cwd(), markdown)}, the flame graphs in ${path.relative(process.cwd(), PICTURES)} and the profiles in ${path.relative(process.cwd(), dir)}`,
  );
  return 0;
}

/** A warm-up, then a measured closed loop of creates; the CPU time each process and this one used meanwhile. */
async function measure(
  url: string,
  keyed: boolean,
  pids: Map<string, number | undefined>,
  durationMs: number,
  progress: (line: string) => void,
): Promise<MeasuredLoad> {
  const client = new JsonClient(url, { connections: CONCURRENCY });
  const send = (index: number) =>
    client.post(
      '/posts/create',
      { title: `profiled create #${index}` },
      keyed ? { 'Idempotency-Key': `profile-${Date.now()}-${index}` } : {},
    );
  try {
    const warmup = await runClosedLoop({ concurrency: CONCURRENCY, durationMs: WARMUP_MS, maxRequests: 100_000, send });
    const before = new Map([...pids].map(([name, pid]) => [name, pid === undefined ? undefined : cpuSecondsOf(pid)]));
    const ownBefore = ownCpuSeconds();
    const run = await runClosedLoop({
      concurrency: CONCURRENCY,
      durationMs,
      maxRequests: 1_000_000,
      firstIndex: warmup.attempts.length,
      send,
    });
    const ownSeconds = ownCpuSeconds() - ownBefore;
    const created = run.attempts.filter((attempt) => acknowledgedId(attempt) !== undefined).length;
    const costs: ProcessCost[] = [...pids].map(([name, pid]) => {
      const start = before.get(name);
      const end = pid === undefined ? undefined : cpuSecondsOf(pid);
      return { name, cpuSeconds: start === undefined || end === undefined ? undefined : end - start };
    });
    costs.push({ name: 'load generator (this process)', cpuSeconds: ownSeconds });
    const rate = (created * 1_000) / run.elapsedMs;
    progress(`${created} of ${run.attempts.length} created, ${rate.toFixed(0)}/s`);
    return { requests: run.attempts.length, created, elapsedMs: run.elapsedMs, costs };
  } finally {
    await client.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`profile failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
