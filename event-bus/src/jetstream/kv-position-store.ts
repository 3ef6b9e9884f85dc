import { JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { PositionStore } from '../delivery/position-store';
import { bucket } from './kv-bucket';

/** A subscriber URL as a key: keys take letters, digits and `-_=./` only. */
const keyOf = (url: string) => Buffer.from(url).toString('base64url');

/**
 * The subscribers' positions in a replicated JetStream key-value bucket, shared by the bus replicas: the
 * one delivering stores them, the one taking over reads them. A store never moves a position back, even
 * when a replica that lost the lease stores late.
 */
export class KvPositionStore implements PositionStore {
  /** The last revision and value seen for each key, for compare-and-set updates. */
  private readonly seen = new Map<string, { revision: number; seq: number }>();

  private constructor(private readonly kv: KV) {}

  static async open(options: {
    connection: NatsConnection;
    bucket: string;
    replicas: number;
  }): Promise<KvPositionStore> {
    return new KvPositionStore(await bucket(options.connection, options.bucket, { replicas: options.replicas }));
  }

  async load(url: string): Promise<number> {
    return this.read(keyOf(url));
  }

  async save(url: string, seq: number): Promise<void> {
    const key = keyOf(url);
    for (;;) {
      const seen = this.seen.get(key);
      if (seen && seen.seq >= seq) return;
      try {
        const revision = seen
          ? await this.kv.update(key, String(seq), seen.revision)
          : await this.kv.create(key, String(seq));
        this.seen.set(key, { revision, seq });
        return;
      } catch (err) {
        // Another writer got there first: read what it stored, and store ours only if it is further.
        if (!(err instanceof JetStreamApiError)) throw err;
        if ((await this.read(key)) >= seq) return;
      }
    }
  }

  async close(): Promise<void> {}

  private async read(key: string): Promise<number> {
    const entry = await this.kv.get(key);
    if (!entry || entry.operation !== 'PUT') {
      this.seen.delete(key);
      return 0;
    }
    const seq = Number(entry.string());
    const stored = Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
    this.seen.set(key, { revision: entry.revision, seq: stored });
    return stored;
  }
}
