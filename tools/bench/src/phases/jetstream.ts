/**
 * The JetStream log beside the file log, in the same run: a 3-node NATS JetStream cluster on 127.0.0.1
 * (`sync_interval: always`), one bus on it and one replica of each service reading the log itself, measured
 * with the same creates (c=50) and propagation phases as the file log; then the longest create latency
 * across a kill -9 of the stream's leader. Skipped, with the reason, where no nats-server ≥ 2.10.23 is found.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  delay,
  findNatsServer,
  startNatsCluster,
  startReplicatedStack,
  summarize,
  type NatsCluster,
  type ReplicatedStack,
  type Summary,
} from '@blog/testkit';
import { JsonClient } from '../http';
import { latencyMs, runClosedLoop } from '../load';
import { atLeast, type Metric, type PhaseOutcome } from '../report/model';
import type { PhaseContext } from './context';
import { runCreatesPhase, type CreatesDetails } from './creates';
import { acknowledgedId, answers } from './outcomes';
import { runPropagationPhase, type PropagationDetails } from './propagation';

const STREAM = 'BLOG_EVENTS';
/** The aim: the replicated log keeps at least a third of the file log's create rate. */
const GOAL_RATIO = 1 / 3;
const LEADER_KILL = { concurrency: 16, durationMs: 8_000, killAtMs: 1_000, downMs: 2_000 };

export interface LeaderKillDetails {
  requests: number;
  acknowledged: number;
  answers: Record<string, number>;
  latencyMs: Summary;
  maxMs: number | undefined;
}

export interface JetStreamDetails {
  natsServer: string;
  creates: CreatesDetails;
  propagation: PropagationDetails;
  leaderKill: LeaderKillDetails;
}

/** `fileRate`: the file log's creates/s at c=50 measured earlier in this run, for the ratio. */
export async function runJetStreamPhase(
  context: PhaseContext,
  fileRate: number | undefined,
): Promise<PhaseOutcome<JetStreamDetails | null>> {
  let natsServer: string;
  try {
    natsServer = findNatsServer();
  } catch (err) {
    const reason = (err as Error).message;
    context.progress(`jetstream: skipped (${reason})`);
    return { metrics: [], checks: [], notes: [`JetStream: not measured: ${reason}.`], details: null };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-nats-'));
  let nats: NatsCluster | undefined;
  let stack: ReplicatedStack | undefined;
  try {
    nats = await startNatsCluster({ dir, stream: STREAM });
    stack = await startReplicatedStack({
      nats,
      logDir: path.join(context.logDir, 'jetstream'),
      replicas: 1,
      logLevel: 'warn',
    });
    const target = {
      kind: 'local' as const,
      urls: { posts: stack.url('posts', 0), comments: stack.url('comments', 0), query: stack.url('query', 0) },
      close: () => Promise.resolve(),
    };
    const jetstreamContext: PhaseContext = {
      ...context,
      target,
      marker: `${context.marker}-js`,
      profile: { ...context.profile, creates: { ...context.profile.creates, concurrencies: [50] } },
      progress: (line) => context.progress(`jetstream: ${line}`),
    };
    const creates = await runCreatesPhase(jetstreamContext, { compare: false });
    const propagation = await runPropagationPhase(jetstreamContext);
    const leaderKill = await measureLeaderKill(stack, nats, context);
    const rate = creates.details.levels[0]?.createsPerSecond;
    const metrics: Metric[] = [
      ...renamed(creates.metrics.filter((metric) => metric.key.startsWith('creates.c50.'))),
      ...renamed(propagation.metrics.filter((metric) => ['propagation.p50', 'propagation.p99'].includes(metric.key))),
      {
        key: 'jetstream.creates.ratio',
        label: 'JetStream ÷ file log creates/s, c=50',
        value: rate !== undefined && fileRate ? rate / fileRate : null,
        unit: 'ratio',
        goal: atLeast(GOAL_RATIO),
        ...(fileRate ? {} : { note: 'the creates phase did not run: no file-log figure to compare with' }),
      },
      {
        key: 'jetstream.leader-kill.max',
        label: `JetStream: longest create across a kill -9 of the stream leader (c=${LEADER_KILL.concurrency})`,
        value: leaderKill.maxMs ?? null,
        unit: 'ms',
      },
      {
        key: 'jetstream.leader-kill.failed',
        label: 'JetStream: creates not acknowledged across the leader kill',
        value: leaderKill.requests - leaderKill.acknowledged,
        unit: 'count',
      },
    ];
    return {
      metrics,
      checks: [...creates.checks, ...propagation.checks].map((check) => ({
        ...check,
        key: `jetstream.${check.key}`,
        label: `JetStream: ${check.label}`,
      })),
      notes: [
        `JetStream: ${path.basename(natsServer)} (${natsServer}), 3 nodes on 127.0.0.1 with sync_interval: always, stream R3; one bus (EVENT_LOG=jetstream) and one replica of each service ` +
          'reading the log itself (EVENTS_FOLLOW), on the same machine as the file-log figures above. The same creates (c=50) and propagation phases; ' +
          `then a closed loop at c=${LEADER_KILL.concurrency} for ${LEADER_KILL.durationMs / 1000} s with the stream leader killed (kill -9) after ${LEADER_KILL.killAtMs / 1000} s and started again ${LEADER_KILL.downMs / 1000} s later. ` +
          'What bounds the rate: each create waits for a quorum of the three servers to store it, each server fsyncing every message (sync_interval: always), where the file log fsyncs once per group of concurrent appends.',
      ],
      details: { natsServer, creates: creates.details, propagation: propagation.details, leaderKill },
    };
  } finally {
    await stack?.stopAll();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function renamed(metrics: readonly Metric[]): Metric[] {
  // The file log's goals are its own; the JetStream figures are compared through the ratio.
  return metrics.map(({ goal: _goal, ...metric }) => ({
    ...metric,
    key: `jetstream.${metric.key}`,
    label: `JetStream: ${metric.label}`,
  }));
}

async function measureLeaderKill(
  stack: ReplicatedStack,
  nats: NatsCluster,
  { marker, progress }: PhaseContext,
): Promise<LeaderKillDetails> {
  const client = new JsonClient(stack.url('posts', 0), { connections: LEADER_KILL.concurrency });
  const fault = (async () => {
    await delay(LEADER_KILL.killAtMs);
    const leader = await nats.streamLeader(STREAM);
    await nats.kill(leader);
    await delay(LEADER_KILL.downMs);
    await nats.start(leader);
  })();
  try {
    const run = await runClosedLoop({
      concurrency: LEADER_KILL.concurrency,
      durationMs: LEADER_KILL.durationMs,
      maxRequests: 1_000_000,
      send: (index) => client.post('/posts/create', { title: `${marker} leader kill #${index}` }),
    });
    await fault;
    const acknowledged = run.attempts.filter((attempt) => acknowledgedId(attempt) !== undefined);
    const latencies = acknowledged.map(latencyMs);
    const details: LeaderKillDetails = {
      requests: run.attempts.length,
      acknowledged: acknowledged.length,
      answers: answers(run.attempts),
      latencyMs: summarize(latencies),
      maxMs: latencies.length > 0 ? Math.max(...latencies) : undefined,
    };
    progress(
      `jetstream: leader kill: ${details.acknowledged}/${details.requests} acknowledged, longest ${details.maxMs?.toFixed(0)} ms`,
    );
    return details;
  } finally {
    await client.close();
  }
}
