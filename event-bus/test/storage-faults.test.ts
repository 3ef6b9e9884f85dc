/**
 * The file log under storage faults, injected into a real file: a batch is acknowledged only once every
 * byte of it is written and synced; a refused batch leaves the file as it was; seqs stay contiguous and a
 * seq that was told is never given again; the log recovers by itself once writes succeed.
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '@blog/common';
import { FileEventLog } from '../src/file-storage/file-event-log';
import type { StoredEvent } from '../src/log/event-log';
import { faultyOpener, type WriteFault } from './faulty-file';
import { tempDirs } from './support';

const freshDir = tempDirs('event-log-faults-');

const event = (n: number) => ({
  id: `e${n}`,
  type: 'PostCreated',
  data: { id: `p${n}`, title: `title ${n}` },
  time: '2026-01-01T00:00:00.000Z',
});
const logFile = (dir: string) => path.join(dir, 'events.jsonl');

interface Opened {
  log: FileEventLog;
  dir: string;
  files: ReturnType<typeof faultyOpener>;
  faults: string[];
}

async function openFaulty(dir = freshDir(), writeTimeoutMs = 5_000): Promise<Opened> {
  const files = faultyOpener();
  const faults: string[] = [];
  const log = await FileEventLog.open({
    dir,
    logger: silentLogger(),
    openFile: files.open,
    writeTimeoutMs,
    onWriteFault: (code) => faults.push(code),
  });
  return { log, dir, files, faults };
}

/** What a fresh open of the folder reads: the ids in seq order, after checking that seqs run 1, 2, 3… */
async function reopenedIds(dir: string): Promise<string[]> {
  const log = await FileEventLog.open({ dir, logger: silentLogger() });
  try {
    const events = await log.readAfter(0, 1_000);
    expect(events.map((stored) => stored.seq)).toEqual(events.map((_, i) => i + 1));
    return events.map((stored) => stored.id);
  } finally {
    await log.close();
  }
}

/** Appends events `from..to` together (one batch) and settles each. */
function appendBatch(log: FileEventLog, from: number, to: number): Promise<PromiseSettledResult<StoredEvent>[]> {
  return Promise.allSettled(
    Array.from({ length: to - from + 1 }, async (_, i) => (await log.append(event(from + i))).event),
  );
}

const seqsOf = (results: PromiseSettledResult<StoredEvent>[]) =>
  results.map((result) => (result.status === 'fulfilled' ? result.value.seq : 'refused'));

describe('FileEventLog under storage faults', () => {
  it.each<[string, (length: number) => number]>([
    ['1 byte', () => 1],
    ['half', (length) => Math.floor(length / 2)],
    ['all but one byte', (length) => length - 1],
  ])('a short write (%s) is continued until the whole batch is written', async (_name, bytes) => {
    const { log, dir, files } = await openFaulty();
    await appendBatch(log, 1, 2);
    // Two short writes in a row; the third write takes the rest.
    files.current.next.write.push({ bytes }, { bytes: (length) => Math.max(1, bytes(length)) });
    const writesBefore = files.current.calls.write;
    expect(seqsOf(await appendBatch(log, 3, 6))).toEqual([3, 4, 5, 6]);
    expect(files.current.calls.write - writesBefore).toBeGreaterThan(1);
    expect(log.health()).toEqual({ writable: true });
    await log.close();
    expect(await reopenedIds(dir)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
  });

  it('ENOSPC on the second write of a batch: the batch is refused with 503, its first part is removed, the next append takes its seqs', async () => {
    const { log, dir, files, faults } = await openFaulty();
    await appendBatch(log, 1, 2);
    const sizeBefore = statSync(logFile(dir)).size;
    files.current.next.write.push({ bytes: (length) => Math.floor(length / 2) }, { error: 'ENOSPC' });

    const refused = await appendBatch(log, 3, 5);
    expect(seqsOf(refused)).toEqual(['refused', 'refused', 'refused']);
    expect(refused[0]).toMatchObject({ status: 'rejected', reason: { status: 503, retryAfterSeconds: 1 } });
    const { message } = (refused[0] as PromiseRejectedResult).reason as Error;
    expect(message).toMatch(/no space left.*ENOSPC.*nothing was stored/);
    expect(statSync(logFile(dir)).size).toBe(sizeBefore);
    expect(log.lastSeq).toBe(2);
    expect(log.health()).toMatchObject({ writable: false, reason: expect.stringMatching(/ENOSPC/) });
    expect(faults).toEqual(['ENOSPC']);
    // Reads are unaffected.
    expect((await log.readAfter(0, 10)).map((stored) => stored.id)).toEqual(['e1', 'e2']);

    // Space is back: the next append is stored after the last durable event.
    expect(seqsOf(await appendBatch(log, 6, 7))).toEqual([3, 4]);
    expect(log.health()).toEqual({ writable: true });
    // A refused event sent again is stored now, once.
    expect(await log.append(event(3))).toMatchObject({ event: { seq: 5 }, duplicate: false });
    expect(await log.append(event(3))).toMatchObject({ event: { seq: 5 }, duplicate: true });
    await log.close();
    expect(await reopenedIds(dir)).toEqual(['e1', 'e2', 'e6', 'e7', 'e3']);
  });

  it.each(['EIO', 'EROFS', 'EDQUOT'])('%s on a write refuses the batch and leaves the file as it was', async (code) => {
    const { log, dir, files, faults } = await openFaulty();
    await appendBatch(log, 1, 1);
    files.current.next.write.push({ error: code });
    expect(seqsOf(await appendBatch(log, 2, 3))).toEqual(['refused', 'refused']);
    expect(faults).toEqual([code]);
    expect(seqsOf(await appendBatch(log, 4, 4))).toEqual([2]);
    await log.close();
    expect(await reopenedIds(dir)).toEqual(['e1', 'e4']);
  });

  it('EIO on fsync: the written batch is refused and truncated away, then writes succeed again', async () => {
    const { log, dir, files, faults } = await openFaulty();
    await appendBatch(log, 1, 2);
    const sizeBefore = statSync(logFile(dir)).size;
    files.current.next.datasync.push('EIO');
    const refused = await appendBatch(log, 3, 4);
    expect(seqsOf(refused)).toEqual(['refused', 'refused']);
    expect(((refused[0] as PromiseRejectedResult).reason as Error).message).toMatch(/I\/O error \(EIO\)/);
    expect(statSync(logFile(dir)).size).toBe(sizeBefore);
    expect(faults).toEqual(['EIO']);

    expect(seqsOf(await appendBatch(log, 5, 5))).toEqual([3]);
    await log.close();
    expect(await reopenedIds(dir)).toEqual(['e1', 'e2', 'e5']);
  });

  it('when undoing a failed write fails too, the next append first truncates, and is refused while it cannot', async () => {
    const { log, dir, files } = await openFaulty();
    await appendBatch(log, 1, 1);
    const sizeBefore = statSync(logFile(dir)).size;
    // The batch is written, its fsync fails, and so does the truncate that should remove it.
    files.current.next.datasync.push('EIO');
    files.current.next.truncate.push('EIO');
    expect(seqsOf(await appendBatch(log, 2, 3))).toEqual(['refused', 'refused']);
    expect(statSync(logFile(dir)).size).toBeGreaterThan(sizeBefore);
    // The repair before the next write fails again: refused, nothing written after the doubtful bytes.
    files.current.next.truncate.push('EIO', 'EIO');
    expect(seqsOf(await appendBatch(log, 4, 4))).toEqual(['refused']);
    expect(log.lastSeq).toBe(1);

    expect(seqsOf(await appendBatch(log, 5, 5))).toEqual([2]);
    await log.close();
    expect(await reopenedIds(dir)).toEqual(['e1', 'e5']);
  });

  it('an append that arrives while a batch is failing goes into the next batch, numbered after the last durable event', async () => {
    const { log, dir, files } = await openFaulty();
    let release = () => undefined as void;
    const stall = new Promise<void>((resolve) => (release = resolve));
    const fault: WriteFault = { until: stall, error: 'ENOSPC' };
    files.current.next.write.push(fault);
    const first = appendBatch(log, 1, 2);
    // Let the first batch start its write before the next append arrives.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const second = appendBatch(log, 3, 3);
    release();
    expect(seqsOf(await first)).toEqual(['refused', 'refused']);
    expect(seqsOf(await second)).toEqual([1]);
    await log.close();
    expect(await reopenedIds(dir)).toEqual(['e3']);
  });

  it('a write that hangs is refused after the timeout, never acknowledged late, and its bytes are removed once it settles', async () => {
    const { log, dir, files, faults } = await openFaulty(freshDir(), 50);
    await appendBatch(log, 1, 1);
    let release = () => undefined as void;
    files.current.next.write.push({ until: new Promise<void>((resolve) => (release = resolve)) });

    const hung = await appendBatch(log, 2, 3);
    expect(seqsOf(hung)).toEqual(['refused', 'refused']);
    expect(((hung[0] as PromiseRejectedResult).reason as Error).message).toMatch(/did not finish within 50 ms/);
    // While it hangs, appends are refused at once, without another write.
    const writesSoFar = files.current.calls.write;
    expect(seqsOf(await appendBatch(log, 4, 4))).toEqual(['refused']);
    expect(files.current.calls.write).toBe(writesSoFar);
    expect(faults).toEqual(['TIMEOUT', 'TIMEOUT']);

    // The hung write completes after all: its bytes reach the file, but were never acknowledged.
    release();
    const stored = await appendOnceUnblocked(log, 5);
    expect(stored.seq).toBe(2);
    await log.close();
    expect(await reopenedIds(dir)).toEqual(['e1', 'e5']);
  });

  it('the log file removed while the bus runs: the next append puts the history back at its path and goes on', async () => {
    const { log, dir } = await openFaulty();
    await appendBatch(log, 1, 2);
    rmSync(logFile(dir));
    expect(seqsOf(await appendBatch(log, 3, 3))).toEqual([3]);
    expect(readFileSync(logFile(dir), 'utf8').trimEnd().split('\n')).toHaveLength(3);
    await log.close();
    expect(await reopenedIds(dir)).toEqual(['e1', 'e2', 'e3']);
  });

  it('its folder removed while the bus runs: the folder and the history are put back', async () => {
    const dir = path.join(freshDir(), 'log');
    const { log } = await openFaulty(dir);
    await appendBatch(log, 1, 2);
    rmSync(dir, { recursive: true });
    expect(seqsOf(await appendBatch(log, 3, 4))).toEqual([3, 4]);
    expect((await log.readAfter(0, 10)).map((stored) => stored.id)).toEqual(['e1', 'e2', 'e3', 'e4']);
    await log.close();
    expect(await reopenedIds(dir)).toEqual(['e1', 'e2', 'e3', 'e4']);
  });

  it('a file that cannot be put back refuses appends until it can', async () => {
    const dir = path.join(freshDir(), 'log');
    const { log, faults } = await openFaulty(dir);
    await appendBatch(log, 1, 1);
    rmSync(dir, { recursive: true });
    // A plain file where the folder should be: the folder cannot be made again.
    const blocker = dir;
    writeFileSync(blocker, 'not a folder');
    expect(seqsOf(await appendBatch(log, 2, 2))).toEqual(['refused']);
    expect(log.health().writable).toBe(false);
    expect(faults).toHaveLength(1);
    // Reads go on from the open file.
    expect((await log.readAfter(0, 10)).map((stored) => stored.id)).toEqual(['e1']);

    rmSync(blocker);
    expect(seqsOf(await appendBatch(log, 3, 3))).toEqual([2]);
    await log.close();
    expect(await reopenedIds(dir)).toEqual(['e1', 'e3']);
  });
});

/** Appends one event, retrying while the log still refuses because a timed-out write has not settled. */
async function appendOnceUnblocked(log: FileEventLog, n: number): Promise<StoredEvent> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await log.append(event(n))).event;
    } catch (err) {
      if (attempt >= 200 || !/did not finish/.test((err as Error).message)) throw err;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
