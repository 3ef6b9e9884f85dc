/** The services' snapshots in a JetStream object store, on a real 3-node cluster (`npm run test:cluster`). */
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
