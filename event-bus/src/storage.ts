import { hostname } from 'node:os';
import path from 'node:path';
import { natsStorageNames, type Logger } from '@blog/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { FileEventLog } from './file-log';
import { JetStreamEventLog } from './jetstream-log';
import { eventStream, provesServerCutOff } from './jetstream-stream';
import { KvLease, KvPositionStore } from './jetstream-kv';
import { setUpJetStream, whenClusterReady } from './jetstream-setup';
import { SoleLease, type DeliveryLease } from './lease';
import type { EventLog } from './log';
import type { BusMetrics } from './metrics';
import { ObjectStoreSnapshotArchive, KvSnapshotClaims } from './jetstream-snapshots';
import { FilePositionStore, type PositionStore } from './positions';
import { QuorumWatch } from './quorum-watch';
import { FileSnapshotArchive, MemorySnapshotClaims, type SnapshotArchive, type SnapshotClaims } from './snapshots';

/** Where the bus keeps its events and its subscribers' positions, and how it decides who delivers. */
export interface BusStorage {
  log: EventLog;
  positions: PositionStore;
  lease: DeliveryLease;
  /** The services' snapshots, and who may make the next one. */
  snapshots: { archive: SnapshotArchive; claims: SnapshotClaims };
  close(): Promise<void>;
}

export interface FileStorageSettings {
  dir: string;
  writeTimeoutMs: number;
  /** How many of the newest event ids are remembered (EVENT_IDS_REMEMBERED). */
  recentIds: number;
  /** The largest snapshot taken (SNAPSHOT_MAX_BYTES). */
  snapshotMaxBytes: number;
  /** How long a claim to make a snapshot lasts (SNAPSHOT_CLAIM_TTL_MS). */
  snapshotClaimTtlMs: number;
}

/** One bus with its log and positions in a folder (a volume in Kubernetes): the default. */
export async function openFileStorage(settings: FileStorageSettings, logger: Logger, metrics: BusMetrics): Promise<BusStorage> {
  const dir = path.resolve(settings.dir);
  const log = await FileEventLog.open({
    dir,
    logger,
    writeTimeoutMs: settings.writeTimeoutMs,
    recentIds: settings.recentIds,
    onWriteFault: (code) => metrics.logWriteFaults.inc({ code }),
    onQuarantined: () => metrics.eventsQuarantined.inc(),
  });
  const positions = await FilePositionStore.open({ dir, logger, writeTimeoutMs: settings.writeTimeoutMs });
  return {
    log,
    positions,
    lease: new SoleLease(),
    snapshots: { archive: new FileSnapshotArchive(path.join(dir, 'snapshots'), settings.snapshotMaxBytes), claims: new MemorySnapshotClaims(settings.snapshotClaimTtlMs) },
    close: async () => {
      await positions.close();
      await log.close();
    },
  };
}

export interface NatsLogin {
  user?: string;
  password?: string;
}

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
export async function openJetStreamStorage(settings: JetStreamStorageSettings, logger: Logger, metrics: BusMetrics): Promise<BusStorage> {
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
      archive: await whenClusterReady('the snapshot store', () => ObjectStoreSnapshotArchive.open({ connection, bucket: names.snapshots, replicas, maxBytes: settings.snapshotMaxBytes }), logger),
      claims: await KvSnapshotClaims.open({ connection, bucket: names.snapshotClaims, replicas, ttlMs: settings.snapshotClaimTtlMs }),
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

/** How long a forced reconnection may take before the bus stops waiting to see where it went. */
const RECONNECT_WAIT_MS = 5_000;

/** How many forced reconnections a move may take to land elsewhere. */
const MOVE_ATTEMPTS = 3;

/**
 * Forces the connection onto another server of its pool. A forced reconnection can dial the same server
 * again (the nats client's first pick after connecting is the server it is on, and servers the cluster
 * tells it of join the pool): then it is forced again.
 */
export async function moveToAnotherServer(connection: NatsConnection): Promise<void> {
  const left = connection.getServer();
  for (let attempt = 0; attempt < MOVE_ATTEMPTS; attempt++) {
    const reconnected = nextReconnection(connection);
    await connection.reconnect();
    if ((await reconnected) !== left) return;
  }
}

/** The server of the connection's next reconnection, or undefined when none came within RECONNECT_WAIT_MS. */
async function nextReconnection(connection: NatsConnection): Promise<string | undefined> {
  const statuses = connection.status()[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), RECONNECT_WAIT_MS)));
  try {
    for (;;) {
      const next = await Promise.race([statuses.next(), waited]);
      if (next === undefined || next.done) return undefined;
      if (next.value.type === 'reconnect') return next.value.server;
    }
  } finally {
    clearTimeout(timer);
    void statuses.return?.();
  }
}

/**
 * Connects to one of `servers`, and moves to another when it is lost. The connection is named after `role`
 * (event-bus, event-bus-setup), this host and this process, so that the servers' `/connz` tells each bus
 * replica apart.
 */
export async function connectToNats(servers: string[], login: NatsLogin, role: string, logger: Logger): Promise<NatsConnection> {
  const waiting = setTimeout(() => logger.warn({ servers }, 'waiting for a NATS server to answer'), 3_000);
  try {
    const connection = await connect({
      servers,
      user: login.user,
      pass: login.password,
      name: `${role}/${hostname()}/${process.pid}`,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    }).catch((err: unknown) => {
      const reason = (err as Error).message;
      if (!/authorization/i.test(reason)) throw err;
      throw new Error(`the NATS servers refused ${login.user === undefined ? 'a connection without a user' : `the user "${login.user}"`} (${reason}): check its password (NATS_PASSWORD, NATS_ADMIN_PASSWORD)`);
    });
    logger.info({ server: connection.getServer(), user: login.user }, 'connected to NATS');
    void (async () => {
      for await (const status of connection.status()) {
        if (status.type === 'disconnect' || status.type === 'reconnect') logger.warn({ status: status.type, server: 'server' in status ? status.server : undefined }, 'NATS connection changed');
      }
    })();
    return connection;
  } finally {
    clearTimeout(waiting);
  }
}
