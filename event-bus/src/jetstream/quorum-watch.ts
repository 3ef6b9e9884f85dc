import type { Logger } from '@blog/common';

export interface QuorumWatchOptions {
  /** Resolves when the NATS server the bus is connected to confirms the event stream's quorum; rejects with why not. */
  probe: () => Promise<void>;
  /** Leaves that server: a forced reconnection, to another server of the pool when one answers. */
  leave: () => Promise<void>;
  /** The server the bus is connected to, named in the log. */
  server: () => string;
  logger: Logger;
  /** How often the probe runs. */
  intervalMs?: number;
  /** How long the probe may go without success before the bus leaves the server, and between two leaves. */
  leaveAfterMs?: number;
  /** Whether a failure proves this server cut off from the quorum (not merely waiting for an election). */
  provesCutOff?: (failure: unknown) => boolean;
  /** How long the bus stays on a server whose probes keep proving it cut off. */
  leaveCutOffAfterMs?: number;
}

const DEFAULT_INTERVAL_MS = 1_000;

/**
 * Longer than a normal election of a new stream leader: nats-server's RAFT election timeout is drawn
 * between 4 and 9 s, and while no leader is elected no server confirms a quorum (nor answers within the
 * JetStream API's 5 s request timeout), so leaving sooner would move healthy connections for nothing, and
 * each move makes the bus follow the stream again. Shorter than the bus's publish timeout
 * (NATS_PUBLISH_TIMEOUT_MS, 15 s by default): an append that met the partition has attempts left to be
 * stored through the next server.
 */
export const DEFAULT_LEAVE_AFTER_MS = 10_000;

/**
 * When the probes' answers prove the server cut off (it leads the stream, but has not heard from a
 * majority of its copies): no election on the other side can bring a quorum back to it.
 */
export const DEFAULT_LEAVE_CUT_OFF_AFTER_MS = 2_000;

/**
 * Moves the bus off a NATS server that cannot confirm a quorum, such as one cut off from the others by a
 * network partition: the bus still reaches that server, so its connection stays up and the nats client never
 * moves on its own, while nothing JetStream can be confirmed through it. When the whole cluster is without a
 * quorum, the bus moves on every leaveAfterMs (sooner only from a server that proves itself cut off).
 */
export class QuorumWatch {
  private readonly intervalMs: number;
  private readonly leaveAfterMs: number;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  /** A leave under way (a reconnection can take seconds): no second one meanwhile. */
  private leaving = false;
  /** When the quorum was last confirmed, the watch started or the bus last left a server: leaving counts from then. */
  private countingFrom = Date.now();
  private lastFailure: string | undefined;
  /** How many times the bus left a server: a probe's answer counts only for the server it was sent to. */
  private leaves = 0;
  /** Since when every probe's answer proved the server cut off; undefined once one did not. */
  private cutOffSince: number | undefined;

  constructor(private readonly options: QuorumWatchOptions) {
    this.intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.leaveAfterMs = options.leaveAfterMs ?? DEFAULT_LEAVE_AFTER_MS;
  }

  start(): void {
    if (this.timer) return;
    this.countingFrom = Date.now();
    this.timer = setInterval(() => this.tick(), this.intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    // Checked on every tick, not when a probe settles: a probe the server never answers must not hold the bus there.
    const unconfirmedMs = Date.now() - this.countingFrom;
    const cutOffMs = this.cutOffSince === undefined ? 0 : Date.now() - Math.max(this.cutOffSince, this.countingFrom);
    const due =
      unconfirmedMs >= this.leaveAfterMs ||
      cutOffMs >= (this.options.leaveCutOffAfterMs ?? DEFAULT_LEAVE_CUT_OFF_AFTER_MS);
    if (due && !this.leaving) this.leave(unconfirmedMs);
    if (!this.probing) void this.probe();
  }

  private async probe(): Promise<void> {
    this.probing = true;
    const leavesBefore = this.leaves;
    try {
      await this.options.probe();
      // An answer to a probe sent before the last leave tells about the server left, not this one.
      if (this.leaves !== leavesBefore) return;
      this.countingFrom = Date.now();
      this.lastFailure = undefined;
      this.cutOffSince = undefined;
    } catch (err) {
      if (this.leaves !== leavesBefore) return;
      this.lastFailure = (err as Error).message;
      if (!this.options.provesCutOff?.(err)) this.cutOffSince = undefined;
      else this.cutOffSince ??= Date.now();
    } finally {
      this.probing = false;
    }
  }

  private leave(unconfirmedMs: number): void {
    const { logger } = this.options;
    logger.warn(
      {
        server: this.options.server(),
        reason: this.lastFailure ?? 'the quorum check is still unanswered',
        unconfirmedMs,
      },
      'leaving a NATS server that cannot confirm a quorum of the event stream',
    );
    this.countingFrom = Date.now();
    this.leaves++;
    // The next server must prove itself cut off with answers of its own.
    this.cutOffSince = undefined;
    this.lastFailure = undefined;
    this.leaving = true;
    this.options
      .leave()
      .catch((err: unknown) => logger.warn({ reason: (err as Error).message }, 'could not leave the NATS server'))
      .finally(() => {
        this.leaving = false;
        // Counted from when the bus is on the next server.
        this.countingFrom = Date.now();
      });
  }
}
