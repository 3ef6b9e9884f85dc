import { readFileSync, unlinkSync } from 'node:fs';
import { mkdir, readlink, rm, stat, symlink, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostname } from 'node:os';
import path from 'node:path';

/** Who holds a folder: the host, the process and when that process started (so a reused pid is told apart). */
interface Holder {
  host: string;
  pid: number;
  /** The process's start time in clock ticks since boot (Linux), absent where /proc is not. */
  started?: string;
}

/** A second process on a folder one process owns: the message names the folder and the holder. */
export class FolderLockedError extends Error {
  override name = 'FolderLockedError';
}

const LOCK_FILE = 'owner.lock';

/** The lock files this process holds: a second open of one of them here is refused too. */
const heldHere = new Set<string>();

/**
 * The exclusive ownership of a folder by this process: two processes appending to one log would each
 * number events from what it read, and overwrite the other's acknowledged events. Taken at open, given up
 * at close and at exit; one left by a process that is gone (killed, crashed) is taken over at once. A lock
 * held from another host (a shared volume) cannot be checked from here and is never taken over.
 */
export class FolderLock {
  private released = false;
  private readonly releaseAtExit = () => this.releaseNow();

  private constructor(readonly file: string) {
    heldHere.add(file);
    process.once('exit', this.releaseAtExit);
  }

  static async take(dir: string): Promise<FolderLock> {
    const file = path.join(dir, LOCK_FILE);
    const me: Holder = { host: hostname(), pid: process.pid, started: startTimeOf(process.pid) };
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        // A symbolic link whose target names the holder: made whole or not at all, and it needs no data
        // block, so a bus still starts on a full disk.
        await symlink(JSON.stringify(me), file);
        return new FolderLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const found = await readlink(file).catch(() => undefined);
      const holder = parseHolder(found);
      if (holder && (heldHere.has(file) || !isGone(holder))) {
        const where = holder.host === me.host ? '' : ` on host ${holder.host}`;
        const check = holder.host === me.host ? '' : `; if that process is gone, delete ${file}`;
        throw new FolderLockedError(
          `${dir} belongs to another process (pid ${holder.pid}${where}): one process at a time may keep a log in a folder${check}`,
        );
      }
      if (found !== undefined) await removeIfStill(file, found);
      await sleep(10 * (attempt + 1));
    }
    throw new FolderLockedError(`could not take ${file}: other processes keep taking it`);
  }

  /** Gives the folder up (idempotent). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.file);
    process.off('exit', this.releaseAtExit);
    await unlink(this.file).catch(() => undefined);
  }

  private releaseNow(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.file);
    try {
      unlinkSync(this.file);
    } catch {
      // Already gone.
    }
  }
}

function parseHolder(text: string | undefined): Holder | undefined {
  if (text === undefined) return undefined;
  try {
    const holder = JSON.parse(text) as Partial<Holder>;
    return typeof holder.host === 'string' && typeof holder.pid === 'number'
      ? { host: holder.host, pid: holder.pid, started: holder.started }
      : undefined;
  } catch {
    // Not a lock this code made: nobody's.
    return undefined;
  }
}

/** A takeover guard older than this was left by a process killed in the middle of one. */
const ABANDONED_GUARD_MS = 5_000;

/**
 * Removes the lock left by a process that is gone, only if it is still that one: takeovers go one at a
 * time (an exclusive folder beside the lock), so that of two processes taking over at once, the second
 * never removes the lock the first has just made.
 */
async function removeIfStill(file: string, stale: string): Promise<void> {
  const guard = `${file}.takeover`;
  try {
    await mkdir(guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const since = await stat(guard).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    if (since > ABANDONED_GUARD_MS) await rm(guard, { recursive: true, force: true });
    return;
  }
  try {
    if ((await readlink(file).catch(() => undefined)) === stale) await unlink(file);
  } finally {
    await rm(guard, { recursive: true, force: true });
  }
}

/** Whether the holder's process no longer runs: on this host, its pid is free or now another process's. */
function isGone(holder: Holder): boolean {
  if (holder.host !== hostname()) return false;
  // This pid, but not held here: left by an earlier process with the same pid (a container's pid 1).
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const started = startTimeOf(holder.pid);
  return holder.started !== undefined && started !== undefined && started !== holder.started;
}

/** Field 22 of /proc/<pid>/stat: the process's start time, which a later process with the same pid differs in. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}
