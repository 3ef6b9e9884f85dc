/**
 * Phase `stores`: the embedded store the services keep their state in, chosen on this. SQLite (which the
 * services use) and LMDB take turns doing query's work on the same synthetic history, each engine in a
 * process of its own: apply every event in transactions of 10,000 (the write rate of a catch-up), then
 * read the view's first page 200 times. Needs no running stack.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { percentile } from '@blog/testkit';
import { compactCount } from '../format';
import { writeSyntheticHistory } from '../history';
import type { Check, Metric, PhaseOutcome } from '../report/model';
import { ENGINES, type EngineName } from '../stores/engines';
import type { EngineResult } from '../stores/run-engine';
import type { PhaseContext } from './context';

/** The compiled runner, from the sources (jest) as from dist. */
const RUNNER = path.join(__dirname, '..', '..', 'dist', 'stores', 'run-engine.js');

export interface StoresDetails {
  events: number;
  runs: EngineResult[];
}

export async function runStoresPhase({ profile, progress }: PhaseContext): Promise<PhaseOutcome<StoresDetails>> {
  const { events, rounds } = profile.stores;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'blog-bench-stores-'));
  const runs: EngineResult[] = [];
  try {
    const history = path.join(dir, 'events.jsonl');
    await writeSyntheticHistory(history, events);
    for (let round = 0; round < rounds; round++) {
      // Each round starts with the other engine: neither always runs on the cooler machine.
      for (const engine of round % 2 === 0 ? ENGINES : [...ENGINES].reverse()) {
        const store = path.join(dir, `${engine}-${round}`);
        await mkdir(store);
        const { stdout } = await promisify(execFile)(process.execPath, [RUNNER, engine, history, store], {
          maxBuffer: 16 << 20,
        });
        const result = JSON.parse(stdout) as EngineResult;
        runs.push(result);
        progress(`stores: ${engine} applied ${compactCount(result.events)} events at ${Math.round(rateOf(result))}/s`);
        await rm(store, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { ...outcomeOf(runs, events, rounds), details: { events, runs } };
}

const rateOf = (run: EngineResult) => run.events / (run.applyMs / 1000);
const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

function outcomeOf(runs: EngineResult[], events: number, rounds: number): Omit<PhaseOutcome<StoresDetails>, 'details'> {
  const of = (engine: EngineName) => runs.filter((run) => run.engine === engine);
  const summary = (engine: EngineName) => {
    const mine = of(engine);
    const pageMs = mine.flatMap((run) => run.pageMs).sort((a, b) => a - b);
    return {
      rate: median(mine.map(rateOf)),
      p50: percentile(pageMs, 50),
      p99: percentile(pageMs, 99),
      rss: median(mine.map((run) => run.peakRssMiB)),
      disk: median(mine.map((run) => run.bytesOnDisk / 2 ** 20)),
    };
  };
  const at = compactCount(events);
  const metrics: Metric[] = ENGINES.flatMap((engine) => {
    const { rate, p50, p99, rss, disk } = summary(engine);
    return [
      {
        key: `stores.${engine}.apply-rate`,
        label: `${engine}: events applied/s (${at} events, transactions of 10,000)`,
        value: rate,
        unit: 'events/s',
      },
      { key: `stores.${engine}.page-p50`, label: `${engine}: the view's first page, p50`, value: p50, unit: 'ms' },
      { key: `stores.${engine}.page-p99`, label: `${engine}: the view's first page, p99`, value: p99, unit: 'ms' },
      { key: `stores.${engine}.rss`, label: `${engine}: peak RSS of its process`, value: rss, unit: 'MB' },
      { key: `stores.${engine}.disk`, label: `${engine}: on disk after ${at} events`, value: disk, unit: 'MB' },
    ] satisfies Metric[];
  });
  const sqlite = summary('sqlite');
  const lmdb = summary('lmdb');
  metrics.push({
    key: 'stores.apply-ratio',
    label: 'events applied/s, SQLite ÷ LMDB',
    value: sqlite.rate !== null && lmdb.rate ? sqlite.rate / lmdb.rate : null,
    unit: 'ratio',
  });
  const pages = new Set(runs.map((run) => JSON.stringify(run.page)));
  const checks: Check[] = [
    {
      key: 'stores.same-page',
      label: 'stores: both engines read the same first page',
      ok: pages.size === 1 && runs.every((run) => run.events === events),
      detail: [...pages].join(' vs '),
    },
  ];
  return {
    metrics,
    checks,
    notes: [
      `Stores: the synthetic history of the catch-up phase (${at} events), applied by SQLite (better-sqlite3, WAL, synchronous NORMAL, 16 MiB cache: as the services) and by LMDB ` +
        '(lmdb-js, noSync: a crash may lose the last commits, as with synchronous NORMAL), each in a process of its own, taking turns over ' +
        `${rounds} round(s) (medians): query's writes (a post, a comment, a status), 10,000 events a transaction; then the view's first page (the newest 1,000 posts, each with its ` +
        'newest 100 comments) read 200 times. The engines are written for the comparison (tools/bench/src/stores/engines.ts), not taken from query.',
    ],
  };
}
