import { HttpError } from '@blog/common';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { CLAIM_TTL_MS, type SnapshotClaims } from '../snapshots/snapshot-claims';
import { isWrongLastSequence } from './api-errors';
import { bucket } from './kv-bucket';

/** Claims as keys of a key-value bucket whose entries expire: whoever creates a service's key holds its claim. */
export class KvSnapshotClaims implements SnapshotClaims {
  private constructor(
    private readonly kv: KV,
    readonly ttlMs: number,
  ) {}

  /** `ttlMs` is the bucket's: a bucket made before keeps the time to live it was made with. */
  static async open(options: {
    connection: NatsConnection;
    bucket: string;
    replicas: number;
    ttlMs?: number;
  }): Promise<KvSnapshotClaims> {
    const ttlMs = options.ttlMs ?? CLAIM_TTL_MS;
    return new KvSnapshotClaims(
      await bucket(options.connection, options.bucket, { replicas: options.replicas, ttl: ttlMs }),
      ttlMs,
    );
  }

  async claim(_service: string, schema: string): Promise<string | undefined> {
    const token = crypto.randomUUID();
    try {
      await this.kv.create(claimKey(schema), token);
      return token;
    } catch (err) {
      // Only "the key exists" means another replica holds the claim; anything else is a fault of the cluster.
      if (isWrongLastSequence(err)) return undefined;
      throw err;
    }
  }

  async holds(_service: string, schema: string, token: string): Promise<boolean> {
    const entry = await this.kv.get(claimKey(schema));
    return entry !== null && entry.operation === 'PUT' && entry.string() === token;
  }

  async release(service: string, schema: string, token: string): Promise<void> {
    if (await this.holds(service, schema, token)) await this.kv.delete(claimKey(schema));
  }
}

/** A key-value key may not hold '@': "query@1" → "query.1". */
function claimKey(schema: string): string {
  if (!/^[a-z][a-z0-9-]*@\d+$/.test(schema)) throw new HttpError(400, `schema must be <service>@<version>`);
  return schema.replace('@', '.');
}
