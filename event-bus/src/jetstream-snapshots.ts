import { Readable } from 'node:stream';
import { HttpError } from '@blog/common';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { Objm, StorageType, type ObjectInfo, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { bucket } from './jetstream-kv';
import { CLAIM_TTL_MS, SnapshotDigest, SNAPSHOTS_KEPT, type SnapshotArchive, type SnapshotClaims, type SnapshotInfo, type SnapshotKey } from './snapshots';

/**
 * Snapshots in a JetStream object store, replicated by the NATS cluster like the events: any bus replica
 * serves any of them. An object is only listed once all of its chunks are stored, so a partial one is
 * never read; one whose bytes do not match the SHA-256 it was sent with is deleted before it is answered.
 */
export class ObjectStoreSnapshotArchive implements SnapshotArchive {
  private constructor(
    private readonly store: ObjectStore,
    private readonly maxBytes: number,
  ) {}

  static async open(options: { connection: NatsConnection; bucket: string; replicas: number; maxBytes: number }): Promise<ObjectStoreSnapshotArchive> {
    const objm = new Objm(options.connection);
    const store = await objm.create(options.bucket, { replicas: options.replicas, storage: StorageType.File }).catch(() => objm.open(options.bucket));
    return new ObjectStoreSnapshotArchive(store, options.maxBytes);
  }

  async newest(service: string, schema: string): Promise<SnapshotInfo | undefined> {
    const [newest] = await this.listed(service, schema);
    return newest?.info;
  }

  async read(key: SnapshotKey): Promise<Readable | undefined> {
    const result = await this.store.get(objectName(key));
    if (!result) return undefined;
    // The object store checks the chunks' digest as they come; a mismatch fails the stream.
    result.error.catch(() => undefined);
    return Readable.fromWeb(result.data as Parameters<typeof Readable.fromWeb>[0]);
  }

  async write(key: SnapshotKey, sha256: string, body: Readable): Promise<SnapshotInfo> {
    const digest = new SnapshotDigest(this.maxBytes);
    const name = objectName(key);
    const metadata = { service: key.service, schema: key.schema, seq: String(key.seq), sha256 };
    await this.store.put({ name, metadata }, Readable.toWeb(Readable.from(digest.pass(body))) as ReadableStream<Uint8Array>);
    try {
      digest.check(sha256);
    } catch (err) {
      await this.store.delete(name).catch(() => undefined);
      throw err;
    }
    for (const { object } of (await this.listed(key.service, key.schema)).slice(SNAPSHOTS_KEPT)) await this.store.delete(object.name);
    return { ...key, bytes: digest.bytes, sha256 };
  }

  /** The stored snapshots of a service's schema, newest first. */
  private async listed(service: string, schema: string): Promise<{ object: ObjectInfo; info: SnapshotInfo }[]> {
    const objects = await this.store.list();
    return objects
      .filter((object) => !object.deleted && object.metadata?.service === service && object.metadata.schema === schema)
      .map((object) => ({ object, info: { service, schema, seq: Number(object.metadata?.seq), bytes: object.size, sha256: object.metadata?.sha256 ?? '' } }))
      .filter(({ info }) => Number.isSafeInteger(info.seq) && /^[0-9a-f]{64}$/.test(info.sha256))
      .sort((a, b) => b.info.seq - a.info.seq);
  }
}

/** Claims as keys of a key-value bucket whose entries expire: whoever creates a service's key holds its claim. */
export class KvSnapshotClaims implements SnapshotClaims {
  private constructor(
    private readonly kv: KV,
    readonly ttlMs: number,
  ) {}

  /** `ttlMs` is the bucket's: a bucket made before keeps the time to live it was made with. */
  static async open(options: { connection: NatsConnection; bucket: string; replicas: number; ttlMs?: number }): Promise<KvSnapshotClaims> {
    const ttlMs = options.ttlMs ?? CLAIM_TTL_MS;
    return new KvSnapshotClaims(await bucket(options.connection, options.bucket, { replicas: options.replicas, ttl: ttlMs }), ttlMs);
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

/** JetStream's answer to a compare-and-set that lost: the subject is not at the revision expected. */
function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

function objectName({ schema, seq }: SnapshotKey): string {
  return `${schema}/${seq}`;
}

/** A key-value key may not hold '@': "query@1" → "query.1". */
function claimKey(schema: string): string {
  if (!/^[a-z][a-z0-9-]*@\d+$/.test(schema)) throw new HttpError(400, `schema must be <service>@<version>`);
  return schema.replace('@', '.');
}
