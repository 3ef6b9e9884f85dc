/**
 * A memory cgroup (v1, /sys/fs/cgroup/memory) with a limit, the way a pod's memory limit applies to its
 * container: a process put in it is OOM-killed past the limit (page cache is reclaimed first). For the
 * bench and the tests that measure memory the way Kubernetes enforces it, not from RSS alone. Root only.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = '/sys/fs/cgroup/memory';

export interface CgroupMemory {
  limitBytes: number;
  /** The highest usage the cgroup reached (its processes' memory and the page cache they caused). */
  peakBytes: number;
  /** Processes the kernel killed for going past the limit. */
  oomKills: number;
}

export class MemoryCgroup {
  private constructor(
    readonly dir: string,
    readonly limitBytes: number,
  ) {}

  /** A new cgroup under the memory hierarchy, or undefined (with why) where there is none to write to. */
  static create(name: string, limitBytes: number): MemoryCgroup | string {
    if (!existsSync(path.join(ROOT, 'cgroup.procs'))) return `no cgroup v1 memory controller at ${ROOT}`;
    const dir = path.join(ROOT, name);
    try {
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes));
      // What a process charged before it was moved in goes with it.
      try {
        writeFileSync(path.join(dir, 'memory.move_charge_at_immigrate'), '3');
      } catch {
        // Newer kernels may refuse it; the process is moved in right after it is spawned anyway.
      }
      return new MemoryCgroup(dir, limitBytes);
    } catch (err) {
      return `cannot make a memory cgroup (${err instanceof Error ? err.message : String(err)}): run as root`;
    }
  }

  add(pid: number): void {
    writeFileSync(path.join(this.dir, 'cgroup.procs'), String(pid));
  }

  memory(): CgroupMemory {
    const oomKills = /^oom_kill (\d+)$/m.exec(this.read('memory.oom_control'))?.[1];
    return {
      limitBytes: this.limitBytes,
      peakBytes: Number(this.read('memory.max_usage_in_bytes')),
      oomKills: Number(oomKills ?? 0),
    };
  }

  /** Removes the cgroup; its processes must have exited (those left are moved to the root first). */
  remove(): void {
    if (!existsSync(this.dir)) return;
    for (const pid of this.read('cgroup.procs').split('\n').filter(Boolean)) {
      try {
        writeFileSync(path.join(ROOT, 'cgroup.procs'), pid);
      } catch {
        // exited meanwhile
      }
    }
    rmdirSync(this.dir);
  }

  private read(file: string): string {
    return readFileSync(path.join(this.dir, file), 'utf8');
  }
}

/** The peak resident set of a running process (VmHWM), in bytes; undefined once it has exited. */
export function peakResidentBytes(pid: number): number | undefined {
  try {
    const kib = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}
