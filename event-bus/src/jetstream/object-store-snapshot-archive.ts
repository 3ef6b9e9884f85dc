import { Readable } from 'node:stream';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { Objm, StorageType, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  SNAPSHOTS_KEPT,
  type SnapshotArchive,
  type SnapshotInfo,
  type SnapshotKey,
} from '../snapshots/snapshot-archive';
import { SnapshotDigest } from '../snapshots/snapshot-digest';
import { isStreamNotFound, isWrongLastSequence } from './api-errors';

/**
 * Chunks of a snapshot in the object store: fewer, larger messages than its default 128 KiB read and write
 * faster, and stay well within NATS's default largest message (1 MiB).
 */
const CHUNK_BYTES = 256 * 1024;
/** How long a read of a snapshot waits for its next chunk (the reader's own pauses do not count). */
const CHUNK_TIMEOUT_MS = 30_000;

/** What the index of a service's schema names: the kept snapshots' seqs, newest first, and its revision for compare-and-set. */
interface KeptIndex {
  seqs: number[];
  /** The index object's revision, 0 when there is none yet. */
  revision: number;
}

/**
 * Snapshots in a JetStream object store, replicated by the NATS cluster like the events: any bus replica
 * serves any of them. Each snapshot is the object `<schema>/<seq>`; an empty object `<schema>/kept`, the
 * index, names the kept ones newest first in its metadata. The index is written (compare-and-set on its
 * revision) only after a snapshot is wholly stored and its SHA-256 checked, so the newest is found with
 * two direct reads of the stream, never a partial or mismatched object, and without listing the store
 * (which takes a consumer of its own). Snapshots stored by a bus from before the index are not seen: the
 * next one made writes the index, and its write deletes them.
 */
export class ObjectStoreSnapshotArchive implements SnapshotArchive {
  private constructor(
    private readonly store: ObjectStore,
    private readonly js: JetStreamClient,
    private readonly bucket: string,
    private readonly maxBytes: number,
  ) {}

  static async open(options: {
    connection: NatsConnection;
    bucket: string;
    replicas: number;
    maxBytes: number;
  }): Promise<ObjectStoreSnapshotArchive> {
    const objm = new Objm(options.connection);
    // Opened first: a bus whose user may not create streams finds it made at setup.
    const store = await objm.open(options.bucket).catch((err: unknown) => {
      // @nats-io/obj 3.4 answers a missing store with a plain Error of this message.
      if (!isStreamNotFound(err) && (err as Error).message !== 'object store not found') throw err;
      return objm
        .create(options.bucket, { replicas: options.replicas, storage: StorageType.File })
        .catch(() => objm.open(options.bucket));
    });
    return new ObjectStoreSnapshotArchive(store, jetstream(options.connection), options.bucket, options.maxBytes);
  }

  async newest(service: string, schema: string): Promise<SnapshotInfo | undefined> {
    // The index may name one that a writer whose claim lapsed has just deleted: the next is the newest then.
    for (const seq of (await this.index(schema)).seqs) {
      const info = await this.stored({ service, schema, seq });
      if (info) return info;
    }
    return undefined;
  }

  async read(key: SnapshotKey): Promise<Readable | undefined> {
    const info = await this.store.info(objectName(key));
    if (!info || info.deleted) return undefined;
    return Readable.from(this.chunks(info.nuid, info.size), { objectMode: false });
  }

  /**
   * The object's chunks, as fast as the reader takes them: the object store's own get takes every chunk
   * into memory as fast as the servers send it, and a bus sending a large snapshot to a slower replica went
   * past its memory limit. (Chunks are the stream `OBJ_<bucket>`'s messages on `$O.<bucket>.C.<nuid>`, the
   * object store's layout.) The replica checks the snapshot's SHA-256 itself.
   */
  private async *chunks(nuid: string, size: number): AsyncGenerator<Uint8Array> {
    if (size === 0) return;
    // An ordered push consumer answers the servers' flow control only as its messages are taken: they wait.
    const consumer = await this.js.consumers.getPushConsumer(`OBJ_${this.bucket}`, {
      filter_subjects: [`$O.${this.bucket}.C.${nuid}`],
    });
    const messages = await consumer.consume();
    // A snapshot deleted while it is read (two newer ones kept meanwhile) sends nothing more: give up then.
    let idle: NodeJS.Timeout | undefined;
    const waitForNext = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () =>
          messages.stop(
            new Error(
              `no chunk of the snapshot came for ${CHUNK_TIMEOUT_MS / 1000} s: was it deleted while it was read?`,
            ),
          ),
        CHUNK_TIMEOUT_MS,
      );
    };
    let read = 0;
    try {
      waitForNext();
      for await (const message of messages) {
        read += message.data.length;
        if (message.info.pending === 0) clearTimeout(idle);
        yield message.data;
        if (message.info.pending === 0) break;
        waitForNext();
      }
    } finally {
      clearTimeout(idle);
      messages.stop();
    }
    if (read !== size) throw new Error(`the snapshot's chunks hold ${read} bytes, not its ${size}`);
  }

  async write(key: SnapshotKey, sha256: string, body: Readable): Promise<SnapshotInfo> {
    const digest = new SnapshotDigest(this.maxBytes);
    const name = objectName(key);
    const metadata = { service: key.service, schema: key.schema, seq: String(key.seq), sha256 };
    await this.store.put(
      { name, metadata, options: { max_chunk_size: CHUNK_BYTES } },
      Readable.toWeb(Readable.from(digest.pass(body))) as ReadableStream<Uint8Array>,
    );
    try {
      digest.check(sha256);
    } catch (err) {
      await this.store.delete(name).catch(() => undefined);
      throw err;
    }
    await this.keep(key);
    return { ...key, bytes: digest.bytes, sha256 };
  }

  /** Names a wholly stored snapshot in the index, then deletes those it no longer names. */
  private async keep(key: SnapshotKey): Promise<void> {
    for (;;) {
      const index = await this.index(key.schema);
      const seqs = [...new Set([key.seq, ...index.seqs])].sort((a, b) => b - a);
      const kept = seqs.slice(0, SNAPSHOTS_KEPT);
      if (!kept.includes(key.seq)) {
        // Newer ones were kept meanwhile (a writer whose claim had lapsed): this one is already the oldest.
        await this.store.delete(objectName(key));
        return;
      }
      try {
        await this.store.putBlob(
          { name: indexName(key.schema), metadata: { service: key.service, schema: key.schema, kept: kept.join(',') } },
          null,
          { previousRevision: index.revision },
        );
      } catch (err) {
        if (isWrongLastSequence(err)) continue;
        throw err;
      }
      for (const seq of seqs.slice(SNAPSHOTS_KEPT)) await this.store.delete(objectName({ ...key, seq }));
      await this.sweep(key, kept);
      return;
    }
  }

  /**
   * Deletes the snapshots of the schema the index does not name and that are older than its newest: what a
   * bus killed between storing one and writing the index left. Listing takes a consumer, so only writes do.
   */
  private async sweep(key: SnapshotKey, kept: readonly number[]): Promise<void> {
    const newest = kept[0] ?? 0;
    try {
      for (const object of await this.store.list()) {
        const seq = Number(object.metadata?.seq);
        if (object.deleted || object.metadata?.schema !== key.schema || object.name !== objectName({ ...key, seq }))
          continue;
        if (seq < newest && !kept.includes(seq)) await this.store.delete(object.name);
      }
    } catch {
      // Left for the next write's sweep: the snapshot itself is stored and indexed.
    }
  }

  private async index(schema: string): Promise<KeptIndex> {
    const info = await this.store.info(indexName(schema));
    if (!info) return { seqs: [], revision: 0 };
    const listed = info.deleted ? '' : (info.metadata?.kept ?? '');
    const seqs = listed
      .split(',')
      .filter((seq) => /^[1-9]\d{0,14}$/.test(seq))
      .map(Number);
    return { seqs, revision: info.revision };
  }

  /** A snapshot's description from its own object, or undefined when it is not (or no longer) stored. */
  private async stored(key: SnapshotKey): Promise<SnapshotInfo | undefined> {
    const object = await this.store.info(objectName(key));
    const sha256 = object?.metadata?.sha256 ?? '';
    if (!object || object.deleted || object.metadata?.seq !== String(key.seq) || !/^[0-9a-f]{64}$/.test(sha256))
      return undefined;
    return { ...key, bytes: object.size, sha256 };
  }
}

function objectName({ schema, seq }: SnapshotKey): string {
  return `${schema}/${seq}`;
}

function indexName(schema: string): string {
  return `${schema}/kept`;
}
