import { readFileSync } from 'node:fs';

/** Resident set size of a process in MiB, from VmRSS in /proc/<pid>/status (Linux); undefined if unreadable. */
export function residentMiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
