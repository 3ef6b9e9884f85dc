/** The services' snapshots in a JetStream object store, on a real 3-node cluster (`npm run test:cluster`). */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { waitFor } from '@blog/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { KvSnapshotClaims } from '../../src/jetstream/kv-snapshot-claims';
import { ObjectStoreSnapshotArchive } from '../../src/jetstream/object-store-snapshot-archive';
import type { SnapshotKey } from '../../src/snapshots/snapshot-archive';
import { describeSnapshotArchiveContract } from '../snapshot-archive-contract';
import { useNatsCluster } from './support';

const nats = useNatsCluster();

describeSnapshotArchiveContract('ObjectStoreSnapshotArchive', async () => {
  const connection = await nats.connection();
  return {
    archive: await ObjectStoreSnapshotArchive.open({
      connection,
      bucket: nats.unique('snapshots'),
      replicas: 3,
      maxBytes: 1 << 30,
    }),
    claims: await KvSnapshotClaims.open({ connection, bucket: nats.unique('claims'), replicas: 3 }),
  };
});

const key = (seq: number): SnapshotKey => ({ service: 'query', schema: 'query@1', seq });
const bytesOf = (seq: number) => Buffer.alloc(300_000, `snapshot ${seq}`);
const sha256Of = (seq: number) => createHash('sha256').update(bytesOf(seq)).digest('hex');

describe('ObjectStoreSnapshotArchive', () => {
  async function openArchive() {
    const connection = await nats.connection();
    const bucket = nats.unique('snapshots');
    const archive = await ObjectStoreSnapshotArchive.open({ connection, bucket, replicas: 3, maxBytes: 1 << 30 });
    const write = (seq: number) => archive.write(key(seq), sha256Of(seq), Readable.from([bytesOf(seq)]));
    return { connection, bucket, archive, write, store: await new Objm(connection).open(bucket) };
  }

  it('finds the newest snapshot without a consumer of the store (no listing)', async () => {
    const { connection, bucket, archive, write } = await openArchive();
    await write(10);
    await write(20);
    const created: string[] = [];
    const advisories = connection.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.CREATED.OBJ_${bucket}.>`, {
      callback: (_err, msg) => void created.push(msg.subject),
    });
    await connection.flush();
    for (let i = 0; i < 3; i++) expect((await archive.newest('query', 'query@1'))?.seq).toBe(20);
    // Reading the bytes does take a consumer: the advisories are heard, and none came before it.
    const body = await archive.read(key(20));
    for await (const _chunk of body ?? []) void _chunk;
    await waitFor(() => created.length > 0, { what: 'the advisory of the consumer reading a snapshot' });
    advisories.unsubscribe();
    expect(created).toHaveLength(1);
  });

  it('never names a stored snapshot the index does not (a bus killed before writing the index), and the next write deletes it', async () => {
    const { archive, write, store } = await openArchive();
    await write(10);
    // As a bus killed between storing an object and naming it in the index leaves it.
    await store.put(
      { name: 'query@1/50', metadata: { service: 'query', schema: 'query@1', seq: '50', sha256: sha256Of(50) } },
      Readable.toWeb(Readable.from([bytesOf(50)])) as ReadableStream<Uint8Array>,
    );
    expect((await archive.newest('query', 'query@1'))?.seq).toBe(10);
    await write(60);
    expect((await archive.newest('query', 'query@1'))?.seq).toBe(60);
    expect(await store.info('query@1/50')).toMatchObject({ deleted: true });
    expect(await store.info('query@1/10')).toMatchObject({ deleted: false });
  });

  it('names the older kept snapshot when the newest is gone', async () => {
    const { archive, write, store } = await openArchive();
    await write(10);
    await write(20);
    await store.delete('query@1/20');
    expect(await archive.newest('query', 'query@1')).toEqual({
      ...key(10),
      bytes: bytesOf(10).length,
      sha256: sha256Of(10),
    });
  });

  it('names nothing of a snapshot whose bytes do not match its SHA-256', async () => {
    const { archive, write, store } = await openArchive();
    await write(10);
    await expect(archive.write(key(20), sha256Of(99), Readable.from([bytesOf(20)]))).rejects.toMatchObject({
      status: 400,
    });
    expect((await archive.newest('query', 'query@1'))?.seq).toBe(10);
    expect(await store.info('query@1/20')).toMatchObject({ deleted: true });
  });
});

describe('KvSnapshotClaims', () => {
  it('takes only "the key exists" for a claim held by another replica: a fault of the cluster is an error', async () => {
    const connection = await nats.connection();
    const bucket = nats.unique('claims');
    const claims = await KvSnapshotClaims.open({ connection, bucket, replicas: 3, ttlMs: 60_000 });
    expect(claims.ttlMs).toBe(60_000);
    expect(await claims.claim('query', 'query@1')).toEqual(expect.any(String));
    expect(await claims.claim('query', 'query@1')).toBeUndefined();
    await (await jetstreamManager(connection)).streams.delete(`KV_${bucket}`);
    await expect(claims.claim('query', 'query@1')).rejects.toThrow();
  });
});
