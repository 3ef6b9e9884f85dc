/**
 * Which bus replica delivers to the pushed-to subscribers: exactly one at a time, so that a subscriber is
 * never sent the same events by two replicas at once.
 */
export interface DeliveryLease {
  /** Resolves once this replica holds the lease, or when the signal aborts. */
  acquire(signal: AbortSignal): Promise<void>;
  /** Keeps the lease; resolves when it is lost (not renewed in time, or taken over) or when the signal aborts. */
  hold(signal: AbortSignal): Promise<void>;
  /** Gives the lease up, so that another replica takes over without waiting for it to expire. */
  release(): Promise<void>;
}
