import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { sleep } from '@blog/common';
import { JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DeliveryLease } from '../delivery/delivery-lease';
import { bucket } from './kv-bucket';

/** How long a lease lives without being renewed: a dead holder's lease is free after this. */
export const LEASE_TTL_MS = 8_000;
const RENEW_EVERY_MS = 1_000;
/** A holder that could not renew for this long stops delivering (and drains within a second) before the lease expires. */
const GIVE_UP_AFTER_MS = 4_000;
const REQUEST_TIMEOUT_MS = 1_000;
const KEY = 'deliverer';

/**
 * The delivery lease as a key in a JetStream key-value bucket whose entries expire after LEASE_TTL_MS: the
 * replica that creates the key holds it and renews it every second with a compare-and-set; when it dies,
 * the key expires and the next replica that tries creates it. A holder that cannot renew gives up before
 * its key could expire, so two replicas never deliver at once (as long as their clocks run at about the
 * same rate, not the same time).
 */
export class KvLease implements DeliveryLease {
  /** Who this replica is, as the key's value shows it. */
  readonly holder = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
  private revision: number | undefined;
  /** When the write that last took or renewed the lease was sent: its time to live runs from no earlier. */
  private renewedAt: number | undefined;

  private constructor(private readonly kv: KV) {}

  static async open(options: { connection: NatsConnection; bucket: string; replicas: number }): Promise<KvLease> {
    return KvLease.over(
      await bucket(options.connection, options.bucket, { replicas: options.replicas, ttl: LEASE_TTL_MS }),
    );
  }

  /** The lease in a bucket already open (its entries expiring after LEASE_TTL_MS). */
  static over(kv: KV): KvLease {
    return new KvLease(kv);
  }

  /**
   * Resolves once this replica holds the lease: only by a write the quorum accepted (a create, or a
   * compare-and-set on the key's revision), never by reading its own name, which a stale server (a leader
   * cut off from the others) may still show after another replica took the lease.
   */
  async acquire(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const sentAt = Date.now();
      try {
        this.revision = await this.kv.create(KEY, this.holder);
        this.renewedAt = sentAt;
        return;
      } catch {
        // Still ours (this replica gave up while the cluster was failing over): take it back, by a write.
        if ((await this.holderNow()) === 'this replica' && (await this.renew())) return;
        await sleep(RENEW_EVERY_MS, signal);
      }
    }
  }

  async hold(signal: AbortSignal): Promise<void> {
    let renewedAt = this.renewedAt ?? Date.now();
    while (!signal.aborted) {
      await sleep(RENEW_EVERY_MS, signal);
      if (signal.aborted) return;
      // The key's time to live runs from when the server stored the renewal, at the latest when it answered:
      // counted from before it was sent, this replica's clock never runs behind it.
      const sentAt = Date.now();
      try {
        this.revision = await this.kv.update(KEY, this.holder, this.revision ?? 0, REQUEST_TIMEOUT_MS);
        renewedAt = sentAt;
      } catch (err) {
        // A refused update may be a stale revision of our own key: lost only when the key names another.
        if (
          Date.now() - renewedAt >= GIVE_UP_AFTER_MS ||
          (err instanceof JetStreamApiError && (await this.holderNow()) === 'another')
        ) {
          this.revision = undefined;
          return;
        }
      }
    }
  }

  /** A compare-and-set of the key at the revision last seen: whether the quorum took it. */
  private async renew(): Promise<boolean> {
    const sentAt = Date.now();
    try {
      this.revision = await this.kv.update(KEY, this.holder, this.revision ?? 0, REQUEST_TIMEOUT_MS);
      this.renewedAt = sentAt;
      return true;
    } catch {
      this.revision = undefined;
      return false;
    }
  }

  /**
   * Who holds the key now, as the server answering says: this replica (its revision is taken up again),
   * another (or no one), or unknown when the bucket cannot be read. Only a write confirms it.
   */
  private async holderNow(): Promise<'this replica' | 'another' | 'unknown'> {
    const current = await this.kv.get(KEY).catch(() => undefined);
    if (current === undefined) return 'unknown';
    if (current?.operation === 'PUT' && current.string() === this.holder) {
      this.revision = current.revision;
      return 'this replica';
    }
    return 'another';
  }

  async release(): Promise<void> {
    if (this.revision === undefined) return;
    const revision = this.revision;
    this.revision = undefined;
    await this.kv.delete(KEY, { previousSeq: revision }).catch(() => undefined);
  }
}
