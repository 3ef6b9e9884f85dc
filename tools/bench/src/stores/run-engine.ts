/**
 * One engine of the store comparison in a process of its own, so that its memory is its own:
 * `node run-engine.js <sqlite|lmdb> <history.jsonl> <dir>` prints one JSON line of what it measured.
 */
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ENGINES, openEngine, type EngineName, type StoreEvent } from './engines';

const TRANSACTION_EVENTS = 10_000;
const PAGE_READS = 200;

export interface EngineResult {
  engine: EngineName;
  events: number;
  applyMs: number;
  pageMs: number[];
  peakRssMiB: number;
  bytesOnDisk: number;
  page: { posts: number; comments: number };
}

async function main(): Promise<void> {
  const [name, history, dir] = process.argv.slice(2);
  if (!ENGINES.includes(name as EngineName) || !history || !dir)
    throw new Error('usage: run-engine <sqlite|lmdb> <history.jsonl> <dir>');
  const engine = openEngine(name as EngineName, dir);
  let events = 0;
  let applyMs = 0;
  let batch: StoreEvent[] = [];
  const flush = () => {
    const started = performance.now();
    engine.apply(batch);
    applyMs += performance.now() - started;
    events += batch.length;
    batch = [];
  };
  for await (const line of createInterface({ input: createReadStream(history) })) {
    if (line === '') continue;
    batch.push(JSON.parse(line) as StoreEvent);
    if (batch.length === TRANSACTION_EVENTS) flush();
  }
  if (batch.length > 0) flush();
  let page = engine.firstPage();
  const pageMs: number[] = [];
  for (let i = 0; i < PAGE_READS; i++) {
    const started = performance.now();
    page = engine.firstPage();
    pageMs.push(performance.now() - started);
  }
  engine.close();
  const peakRssMiB = Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
  const result: EngineResult = {
    engine: name as EngineName,
    events,
    applyMs,
    pageMs,
    peakRssMiB,
    bytesOnDisk: sizeOf(dir),
    page,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function sizeOf(target: string): number {
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(target).reduce((sum, name) => sum + sizeOf(path.join(target, name)), 0);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
