/** How much load each phase applies: the full benchmark, or the smoke run CI uses to keep it working. */
import type { CatchupLog } from './catchup/run';

export interface OpenLoopSettings {
  ratePerSecond: number;
  /** Sent at the same rate before the measured part; verified but left out of the latency figures. */
  warmupMs: number;
  durationMs: number;
  /** Sends that fall due with this many requests outstanding are skipped (and counted). */
  maxInFlight: number;
  /** After the last answer, how long to wait for the rest to become visible (or settle) before counting them as missing. */
  settleMs: number;
}

export interface Profile {
  name: 'full' | 'smoke';
  creates: {
    concurrencies: number[];
    /** Keyed creates, creates without a key and the bare baseline take turns this many times. */
    rounds: number;
    warmupMs: number;
    warmupMaxRequests: number;
    durationMs: number;
    maxRequests: number;
  };
  propagation: OpenLoopSettings;
  moderation: OpenLoopSettings & {
    /** Posts the comments go to, round robin. */
    posts: number;
  };
  /** History sizes, how many GET /posts are timed on each, and the logs measured (JetStream needs a nats-server). */
  catchup: { sizes: number[]; getPostsRequests: number; logs: CatchupLog[] };
  /** The store comparison: events of its history, and rounds of the two engines taking turns. */
  stores: { events: number; rounds: number };
  memory: {
    /** Quiet time after the stack is ready before reading idle RSS. */
    idleSettleMs: number;
  };
  /** How long correctness checks wait for stragglers before calling them lost. */
  verifyTimeoutMs: number;
  /** Bound on waiting for the bus to have delivered everything between phases. */
  quietTimeoutMs: number;
}

export const FULL_PROFILE: Profile = {
  name: 'full',
  creates: {
    concurrencies: [1, 20, 50],
    rounds: 3,
    warmupMs: 500,
    warmupMaxRequests: 2_000,
    durationMs: 4_500,
    maxRequests: 45_000,
  },
  propagation: { ratePerSecond: 1_000, warmupMs: 3_000, durationMs: 5_000, maxInFlight: 200, settleMs: 10_000 },
  moderation: { ratePerSecond: 500, warmupMs: 2_000, durationMs: 5_000, maxInFlight: 200, settleMs: 10_000, posts: 20 },
  catchup: { sizes: [10_000, 1_000_000, 10_000_000], getPostsRequests: 1_000, logs: ['file', 'jetstream'] },
  stores: { events: 1_000_000, rounds: 2 },
  memory: { idleSettleMs: 2_000 },
  verifyTimeoutMs: 60_000,
  quietTimeoutMs: 60_000,
};

export const SMOKE_PROFILE: Profile = {
  name: 'smoke',
  creates: {
    concurrencies: [1, 20, 50],
    rounds: 1,
    warmupMs: 200,
    warmupMaxRequests: 5,
    durationMs: 2_000,
    maxRequests: 30,
  },
  propagation: { ratePerSecond: 100, warmupMs: 200, durationMs: 1_000, maxInFlight: 50, settleMs: 10_000 },
  moderation: { ratePerSecond: 100, warmupMs: 200, durationMs: 1_000, maxInFlight: 50, settleMs: 10_000, posts: 4 },
  catchup: { sizes: [2_000], getPostsRequests: 50, logs: ['file'] },
  stores: { events: 20_000, rounds: 1 },
  memory: { idleSettleMs: 300 },
  verifyTimeoutMs: 20_000,
  quietTimeoutMs: 20_000,
};
