import { natsStorageNames, type Logger } from '@blog/common';
import type { BusMetrics } from '../metrics';
import type { BusStorage } from '../storage';
import { eventStream } from './event-stream';
import { JetStreamEventLog } from './jetstream-event-log';
import { setUpJetStream, whenClusterReady } from './jetstream-setup';
import { KvLease } from './kv-lease';
import { KvPositionStore } from './kv-position-store';
import { KvSnapshotClaims } from './kv-snapshot-claims';
import { connectToNats, moveToAnotherServer, type NatsLogin } from './nats-connection';
import { ObjectStoreSnapshotArchive } from './object-store-snapshot-archive';
import { QuorumWatch } from './quorum-watch';
import { provesServerCutOff } from './stream-quorum';

export interface JetStreamStorageSettings extends NatsLogin {
  servers: string[];
  /** Who sets up the stream and buckets (NATS_ADMIN_USER); none: the bus's own user does. */
  admin?: NatsLogin;
  /** The stream's name; the positions and lease buckets are named after it. */
  stream: string;
  replicas: number;
  publishTimeoutMs: number;
  /** The stream's duplicate window (NATS_DUPLICATE_WINDOW_MS). */
  duplicateWindowMs: number;
  /** How many of the newest event ids each replica remembers (EVENT_IDS_REMEMBERED). */
  recentIds: number;
  /** The largest snapshot taken (SNAPSHOT_MAX_BYTES). */
  snapshotMaxBytes: number;
  /** How long a claim to make a snapshot lasts (SNAPSHOT_CLAIM_TTL_MS); the claims bucket's TTL, set when it is created. */
  snapshotClaimTtlMs: number;
}

/**
 * Any number of bus replicas sharing a JetStream stream (the events), a key-value bucket of positions and
 * one holding the delivery lease, all replicated by the NATS cluster.
 */
export async function openJetStreamStorage(
  settings: JetStreamStorageSettings,
  logger: Logger,
  metrics: BusMetrics,
): Promise<BusStorage> {
  if (settings.admin) {
    const admin = await connectToNats(settings.servers, settings.admin, 'event-bus-setup', logger);
    try {
      await setUpJetStream(admin, settings, logger);
    } finally {
      await admin.close();
    }
  }
  // Without an administrator, the bus's own user makes what is missing as it opens each part below.
  const connection = await connectToNats(settings.servers, settings, 'event-bus', logger);
  let quorumWatch: QuorumWatch | undefined;
  try {
    const { stream, replicas } = settings;
    const names = natsStorageNames(stream);
    const log = await JetStreamEventLog.open({
      connection,
      stream: eventStream(stream, replicas, settings.duplicateWindowMs),
      logger,
      publishTimeoutMs: settings.publishTimeoutMs,
      recentIds: settings.recentIds,
      onWriteFault: (code) => metrics.logWriteFaults.inc({ code }),
      onQuarantined: () => metrics.eventsQuarantined.inc(),
      onStreamChanged: () => metrics.streamChanged.set(1),
    });
    quorumWatch = new QuorumWatch({
      probe: () => log.confirmQuorum(),
      leave: () => {
        metrics.natsServersLeft.inc();
        return moveToAnotherServer(connection);
      },
      server: () => connection.getServer(),
      provesCutOff: (failure) => provesServerCutOff(failure, connection.info?.server_name),
      logger,
    });
    quorumWatch.start();
    const positions = await KvPositionStore.open({ connection, bucket: names.positions, replicas });
    const lease = await KvLease.open({ connection, bucket: names.lease, replicas });
    logger.info({ holder: lease.holder }, 'this replica delivers while it holds the delivery lease');
    const snapshots = {
      archive: await whenClusterReady(
        'the snapshot store',
        () =>
          ObjectStoreSnapshotArchive.open({
            connection,
            bucket: names.snapshots,
            replicas,
            maxBytes: settings.snapshotMaxBytes,
          }),
        logger,
      ),
      claims: await KvSnapshotClaims.open({
        connection,
        bucket: names.snapshotClaims,
        replicas,
        ttlMs: settings.snapshotClaimTtlMs,
      }),
    };
    return {
      log,
      positions,
      lease,
      snapshots,
      close: async () => {
        quorumWatch?.stop();
        await positions.close();
        await log.close();
        await connection.drain();
      },
    };
  } catch (err) {
    quorumWatch?.stop();
    await connection.close();
    throw err;
  }
}
