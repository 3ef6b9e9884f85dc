import type { DeliveryLease } from '../delivery/delivery-lease';

/** The lease of a bus that runs alone (the file log): always held. */
export class SoleLease implements DeliveryLease {
  async acquire(): Promise<void> {}

  hold(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
  }

  async release(): Promise<void> {}
}
