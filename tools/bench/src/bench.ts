/**
 * The benchmark as a function: starts (or takes) a stack, runs the chosen phases in order and returns the
 * report. The CLI and the smoke test both call this.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { delay } from '@blog/testkit';
import { describeMachine, type MachineInfo } from './machine';
import { runCatchupPhase, type CatchupDetails } from './phases/catchup';
import { runStoresPhase, type StoresDetails } from './phases/stores';
import type { PhaseContext } from './phases/context';
import { keyedRateAtGoal, runCreatesPhase, type CreatesDetails } from './phases/creates';
import { memoryOutcome, sampleRss, type MemoryDetails, type RssSample } from './phases/memory';
import { runModerationPhase, type ModerationDetails } from './phases/moderation';
import { runPropagationPhase, type PropagationDetails } from './phases/propagation';
import { runJetStreamPhase, type JetStreamDetails } from './phases/jetstream';
import { runStoragePhase, type StorageDetails } from './phases/storage';
import type { Profile } from './profile';
import { meetsGoal, type Check, type Metric, type PhaseOutcome } from './report/model';
import { externalTarget, startLocalTarget, waitForQuiet, type Target, type TargetUrls } from './target';

export const PHASES = [
  'creates',
  'propagation',
  'moderation',
  'catchup',
  'stores',
  'memory',
  'storage',
  'jetstream',
] as const;
export type PhaseName = (typeof PHASES)[number];

export interface PhaseDetails {
  creates: CreatesDetails;
  propagation: PropagationDetails;
  moderation: ModerationDetails;
  catchup: CatchupDetails;
  stores: StoresDetails;
  memory: MemoryDetails;
  storage: StorageDetails | null;
  jetstream: JetStreamDetails | null;
}

type Outcomes = { [K in PhaseName]?: PhaseOutcome<PhaseDetails[K]> };

export interface BenchOptions {
  profile: Profile;
  phases: readonly PhaseName[];
  /** A running stack to measure; without it the local production build is started. */
  external?: TargetUrls;
  /** The services' logs go under here. */
  logDir: string;
  progress?: (line: string) => void;
}

export interface ReportedMetric extends Metric {
  met?: boolean;
}

export interface BenchReport {
  startedAt: string;
  durationS: number;
  profile: Profile;
  phases: PhaseName[];
  target: { kind: Target['kind']; urls: TargetUrls };
  machine: MachineInfo;
  /** In phase order: creates, propagation, moderation, catch-up, memory, storage, jetstream. */
  metrics: ReportedMetric[];
  checks: Check[];
  notes: string[];
  details: Partial<PhaseDetails>;
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const { profile, phases, logDir } = options;
  const progress = options.progress ?? (() => undefined);
  const startedAt = new Date();
  const started = performance.now();
  const outcomes: Outcomes = {};
  const failures: Check[] = [];
  const runPhase = async <K extends PhaseName>(name: K, phase: () => Promise<Outcomes[K]>): Promise<void> => {
    progress(`phase ${name}…`);
    try {
      outcomes[name] = await phase();
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      progress(`phase ${name} failed: ${detail}`);
      failures.push({ key: `${name}.completed`, label: `${name}: the phase ran to the end`, ok: false, detail });
    }
  };

  progress(options.external ? 'measuring the stack at the given URLs' : 'starting the local production build');
  const target = options.external
    ? externalTarget(options.external)
    : await startLocalTarget(path.join(logDir, 'stack'));
  const context: PhaseContext = {
    target,
    profile,
    marker: `bench-${randomBytes(4).toString('hex')}`,
    logDir,
    progress,
  };
  const loadPhases = {
    creates: () => runCreatesPhase(context),
    propagation: () => runPropagationPhase(context),
    moderation: () => runModerationPhase(context),
  };
  const loadRan = phases.some((name) => name in loadPhases);
  let idle: RssSample | null = null;
  let afterLoad: RssSample | null = null;
  try {
    if (phases.includes('memory')) {
      await delay(profile.memory.idleSettleMs);
      idle = sampleRss(target);
    }
    for (const name of ['creates', 'propagation', 'moderation'] as const) {
      if (!phases.includes(name)) continue;
      await runPhase(name, loadPhases[name]);
      await waitForQuiet(target, profile.quietTimeoutMs);
    }
    if (phases.includes('memory') && loadRan) afterLoad = sampleRss(target);
    // Before the stack stops: the phase reads the bus's log, which stopping deletes.
    if (phases.includes('storage')) await runPhase('storage', () => runStoragePhase(target, loadRan));
  } finally {
    await target.close();
  }
  if (phases.includes('memory')) outcomes.memory = memoryOutcome(idle, afterLoad, loadRan);
  // After the stack is stopped: catch-up starts processes of its own and needs the machine to itself.
  if (phases.includes('catchup')) await runPhase('catchup', () => runCatchupPhase(context));
  if (phases.includes('stores')) await runPhase('stores', () => runStoresPhase(context));
  // Last, alone on the machine: the same phases on a NATS JetStream cluster, compared with the file log's.
  if (phases.includes('jetstream')) {
    const fileRate = outcomes.creates && keyedRateAtGoal(outcomes.creates.details.levels);
    await runPhase('jetstream', () => runJetStreamPhase(context, fileRate));
  }

  const ordered: PhaseOutcome[] = PHASES.flatMap((name) => outcomes[name] ?? []);
  return {
    startedAt: startedAt.toISOString(),
    durationS: (performance.now() - started) / 1000,
    profile,
    phases: [...phases],
    target: { kind: target.kind, urls: target.urls },
    machine: describeMachine(),
    metrics: ordered.flatMap(({ metrics }) => metrics.map(withVerdict)),
    checks: [...ordered.flatMap(({ checks }) => checks), ...failures],
    notes: ordered.flatMap(({ notes }) => notes),
    details: detailsOf(outcomes),
  };
}

function detailsOf({
  creates,
  propagation,
  moderation,
  catchup,
  stores,
  memory,
  storage,
  jetstream,
}: Outcomes): Partial<PhaseDetails> {
  return {
    ...(creates && { creates: creates.details }),
    ...(propagation && { propagation: propagation.details }),
    ...(moderation && { moderation: moderation.details }),
    ...(catchup && { catchup: catchup.details }),
    ...(stores && { stores: stores.details }),
    ...(memory && { memory: memory.details }),
    ...(storage && { storage: storage.details }),
    ...(jetstream && { jetstream: jetstream.details }),
  };
}

function withVerdict(metric: Metric): ReportedMetric {
  const met = meetsGoal(metric);
  return met === undefined ? metric : { ...metric, met };
}
