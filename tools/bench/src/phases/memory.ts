/**
 * Phase 5 (local stack only): resident memory (VmRSS) of each service, idle (after start and a short
 * settle, before any load) and again after the load phases.
 */
import type { ServiceName, Stack } from '@blog/testkit';
import { atMost, notMeasured, type Metric, type PhaseOutcome } from '../report/model';
import { residentMiB } from '../rss';
import { BENCH_SERVICES, type Target } from '../target';

const GOAL_IDLE_MIB = 70;

export type RssSample = Partial<Record<ServiceName, number>>;

export interface MemoryDetails {
  idleMiB: RssSample | null;
  afterLoadMiB: RssSample | null;
}

export function sampleRss(target: Target): RssSample | null {
  if (!target.stack) return null;
  const stack: Stack = target.stack;
  const sample: RssSample = {};
  for (const service of BENCH_SERVICES) {
    const pid = stack.pid(service);
    const mib = pid === undefined ? undefined : residentMiB(pid);
    if (mib !== undefined) sample[service] = mib;
  }
  return sample;
}

export function memoryOutcome(
  idle: RssSample | null,
  afterLoad: RssSample | null,
  loadRan: boolean,
): PhaseOutcome<MemoryDetails> {
  const metrics: Metric[] = [];
  for (const service of BENCH_SERVICES) {
    const idleKey = `memory.${service}.idle`;
    const idleLabel = `idle RSS, ${service}`;
    metrics.push(
      idle === null
        ? { ...notMeasured(idleKey, idleLabel, 'MB', 'not measured (external stack)'), goal: atMost(GOAL_IDLE_MIB) }
        : { key: idleKey, label: idleLabel, value: idle[service] ?? null, unit: 'MB', goal: atMost(GOAL_IDLE_MIB) },
    );
  }
  for (const service of BENCH_SERVICES) {
    const key = `memory.${service}.after-load`;
    const label = `RSS after load, ${service}`;
    if (afterLoad === null)
      metrics.push(notMeasured(key, label, 'MB', loadRan ? 'not measured (external stack)' : 'no load phase ran'));
    else metrics.push({ key, label, value: afterLoad[service] ?? null, unit: 'MB' });
  }
  return {
    metrics,
    checks: [],
    notes: [
      'Memory: VmRSS from /proc/<pid>/status of each service process (MB = MiB), idle after start and a short settle, and after the load phases ' +
        '(before catch-up, which runs its own processes). The client server is not started: it is on no measured path.',
    ],
    details: { idleMiB: idle, afterLoadMiB: afterLoad },
  };
}
