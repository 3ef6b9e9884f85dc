import type { Logger, SubscriberStatus } from '@blog/common';
import type { DeliveryLease } from './delivery-lease';
import type { SubscriberDelivery } from './subscriber-delivery';

/**
 * A replica that lost the lease stops its deliveries within this time, well before the lease expires and
 * another replica may start (see KvLease).
 */
const LOST_LEASE_DRAIN_MS = 1_000;

/**
 * Runs the deliveries to the pushed-to subscribers while this bus replica holds the delivery lease, and
 * stops them when it loses it; each delivery resumes from the stored position of its subscriber.
 */
export class Deliverer {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private delivering = false;

  constructor(
    readonly deliveries: readonly SubscriberDelivery[],
    private readonly lease: DeliveryLease,
    private readonly logger: Logger,
  ) {}

  /** Whether this replica is the one delivering now. */
  get active(): boolean {
    return this.delivering;
  }

  start(): void {
    this.loop ??= this.run().catch((err: unknown) => this.logger.error({ err }, 'deliveries stopped'));
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    await this.lease.release();
  }

  /**
   * Where each subscriber's delivery stands. A replica that is not delivering reads the positions the
   * delivering one stored, so any replica answers.
   */
  async statuses(): Promise<SubscriberStatus[]> {
    if (!this.delivering)
      await Promise.all(
        this.deliveries.map((delivery) => delivery.loadPosition({ retry: false }).catch(() => undefined)),
      );
    return this.deliveries.map((delivery) => delivery.status());
  }

  private async run(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted) {
      await this.lease.acquire(signal);
      if (signal.aborted) return;
      this.delivering = true;
      this.logger.info(
        { subscribers: this.deliveries.map(({ url }) => url) },
        'holding the delivery lease: delivering to subscribers',
      );
      for (const delivery of this.deliveries) delivery.start();
      await this.lease.hold(signal);
      const lost = !signal.aborted;
      if (lost) this.logger.warn('lost the delivery lease: stopping deliveries, another replica takes over');
      await Promise.all(
        this.deliveries.map((delivery) => delivery.stop(lost ? { drainTimeoutMs: LOST_LEASE_DRAIN_MS } : {})),
      );
      this.delivering = false;
    }
  }
}
