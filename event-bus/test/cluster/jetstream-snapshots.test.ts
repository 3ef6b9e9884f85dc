/** The services' snapshots in a JetStream object store, on a real 3-node cluster (`npm run test:cluster`). */
import { jetstreamManager } from '@nats-io/jetstream';
import { ObjectStoreSnapshotArchive, KvSnapshotClaims } from '../../src/jetstream-snapshots';
import { describeSnapshotArchiveContract } from '../snapshot-archive-contract';
import { useNatsCluster } from './support';

const nats = useNatsCluster();

describeSnapshotArchiveContract('ObjectStoreSnapshotArchive', async () => {
  const connection = await nats.connection();
  return {
    archive: await ObjectStoreSnapshotArchive.open({ connection, bucket: nats.unique('snapshots'), replicas: 3, maxBytes: 1 << 30 }),
    claims: await KvSnapshotClaims.open({ connection, bucket: nats.unique('claims'), replicas: 3 }),
  };
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
