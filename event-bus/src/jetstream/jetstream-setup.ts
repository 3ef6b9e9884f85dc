import { natsStorageNames, sleep, type Logger } from '@blog/common';
import { jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ensureEventStream, eventStream, UnusableStreamError, type EventStreamSettings } from './event-stream';
import { KvLease } from './kv-lease';
import { KvPositionStore } from './kv-position-store';
import { KvSnapshotClaims } from './kv-snapshot-claims';
import { ObjectStoreSnapshotArchive } from './object-store-snapshot-archive';

export interface JetStreamSetup {
  /** The stream's name (NATS_STREAM); the buckets are named after it. */
  stream: string;
  replicas: number;
  duplicateWindowMs: number;
  snapshotMaxBytes: number;
  /** The claims bucket's time to live, set when it is created. */
  snapshotClaimTtlMs: number;
}

/**
 * Creates the event stream and the bus's buckets, or brings what the bus owns of them up to date. Run with
 * an identity that may administer streams (NATS_ADMIN_USER, in `npm run start:cluster` and the chart's
 * setup container) before the bus opens them with its own, which may not.
 */
export async function setUpJetStream(connection: NatsConnection, setup: JetStreamSetup, logger: Logger): Promise<void> {
  const names = natsStorageNames(setup.stream);
  const { replicas } = setup;
  await ensureStreamWhenReady(connection, eventStream(setup.stream, replicas, setup.duplicateWindowMs), logger);
  await KvPositionStore.open({ connection, bucket: names.positions, replicas });
  await KvLease.open({ connection, bucket: names.lease, replicas });
  await KvSnapshotClaims.open({ connection, bucket: names.snapshotClaims, replicas, ttlMs: setup.snapshotClaimTtlMs });
  await whenClusterReady(
    'the snapshot store',
    () =>
      ObjectStoreSnapshotArchive.open({
        connection,
        bucket: names.snapshots,
        replicas,
        maxBytes: setup.snapshotMaxBytes,
      }),
    logger,
  );
  logger.info({ stream: setup.stream, replicas }, 'event stream and buckets set up');
}

/**
 * How long the bus waits at start for the cluster to answer and place the stream: its servers may be
 * starting too, or electing leaders (a few seconds each); a minute covers a cluster started at the same time.
 */
const CLUSTER_READY_TIMEOUT_MS = 60_000;

/**
 * Calls `attempt` until it succeeds, again while the cluster cannot answer (for up to a minute); an
 * UnusableStreamError, which waiting cannot mend, at once. Every step of a start goes through here.
 */
export async function whenClusterReady<T>(what: string, attempt: () => Promise<T>, logger: Logger): Promise<T> {
  const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS;
  for (let tries = 0; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof UnusableStreamError || Date.now() >= deadline) throw err;
      if (tries === 0)
        logger.warn({ what, reason: (err as Error).message }, 'the NATS cluster cannot answer yet; trying again');
      await sleep(Math.min(2_000, 100 * 2 ** tries));
    }
  }
}

/** Creates or updates the event stream (ensureEventStream), waiting for the cluster as whenClusterReady does. */
export function ensureStreamWhenReady(
  connection: NatsConnection,
  stream: EventStreamSettings,
  logger: Logger,
): Promise<StreamInfo> {
  return whenClusterReady(
    `the event stream ${stream.name}`,
    async () => ensureEventStream(await jetstreamManager(connection), stream, logger),
    logger,
  );
}
