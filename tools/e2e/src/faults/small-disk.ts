/**
 * A small filesystem of its own for a fault test: a tmpfs mounted on a new temporary folder (root only),
 * filled up on purpose with a ballast file and freed again. Unmounted by `remove()`, and at the latest
 * when the test process exits.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SmallDisk {
  readonly dir: string;
  /** Fills every free byte with a ballast file; returns how many bytes that took. */
  fill(): number;
  /** Deletes the ballast: the space is back. */
  free(): void;
  /** Unmounts and deletes the folder; safe to call more than once. */
  remove(): void;
}

/** Why a small disk cannot be mounted here, or undefined when it can: tries one and removes it at once. */
export function smallDiskUnavailable(): string | undefined {
  try {
    mountSmallDisk(64 * 1024).remove();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Mounts a tmpfs of `bytes`; throws with the reason when this machine does not allow it. */
export function mountSmallDisk(bytes: number): SmallDisk {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmdirSync(dir);
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`cannot mount a tmpfs on ${dir}: ${stderr || (err as Error).message}`);
  }
  const ballast = path.join(dir, 'ballast');
  let mounted = true;
  const remove = () => {
    if (!mounted) return;
    mounted = false;
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      // Still busy (a process kept a file open): detach it now, the kernel frees it when the last one closes.
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
    rmdirSync(dir);
  };
  process.once('exit', remove);
  return {
    dir,
    fill: () => fillWith(ballast),
    free: () => rmSync(ballast, { force: true }),
    remove,
  };
}

/** Appends to `file` until the filesystem refuses: big chunks first, then single bytes for the rest. */
function fillWith(file: string): number {
  const fd = openSync(file, 'a');
  let total = 0;
  try {
    for (const size of [1 << 16, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size, 0x2e);
      for (;;) {
        let written: number;
        try {
          written = writeSync(fd, chunk);
        } catch (err) {
          if ((err as { code?: unknown }).code === 'ENOSPC') break;
          throw err;
        }
        total += written;
        if (written < size) break;
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}
