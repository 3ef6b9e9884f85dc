import { natsStorageNames, sleep, type Logger } from '@blog/common';
import { jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { KvLease, KvPositionStore } from './jetstream-kv';
import { KvSnapshotClaims, ObjectStoreSnapshotArchive } from './jetstream-snapshots';
import { ensureEventStream, eventStream, UnusableStreamError, type EventStreamSettings } from './jetstream-stream';

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
  await ensureStreamWhenReady(await jetstreamManager(connection), eventStream(setup.stream, replicas, setup.duplicateWindowMs), logger);
  await KvPositionStore.open({ connection, bucket: names.positions, replicas });
  await KvLease.open({ connection, bucket: names.lease, replicas });
  await KvSnapshotClaims.open({ connection, bucket: names.snapshotClaims, replicas, ttlMs: setup.snapshotClaimTtlMs });
  await ObjectStoreSnapshotArchive.open({ connection, bucket: names.snapshots, replicas, maxBytes: setup.snapshotMaxBytes });
  logger.info({ stream: setup.stream, replicas }, 'event stream and buckets set up');
}

/** How long the bus waits at start for the cluster to place the stream (its servers may be starting too). */
const STREAM_READY_TIMEOUT_MS = 60_000;

/** ensureEventStream, again while the cluster cannot answer yet, for up to a minute. */
export async function ensureStreamWhenReady(jsm: JetStreamManager, stream: EventStreamSettings, logger: Logger): Promise<StreamInfo> {
  const deadline = Date.now() + STREAM_READY_TIMEOUT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await ensureEventStream(jsm, stream, logger);
    } catch (err) {
      if (err instanceof UnusableStreamError || Date.now() >= deadline) throw err;
      if (attempt === 0) logger.warn({ stream: stream.name, reason: (err as Error).message }, 'the NATS cluster cannot hold the event stream yet; trying again');
      await sleep(Math.min(2_000, 100 * 2 ** attempt));
    }
  }
}
