import path from 'node:path';
import type { Logger } from '@blog/common';
import type { BusMetrics } from '../metrics';
import type { BusStorage } from '../storage';
import { FileEventLog } from './file-event-log';
import { FilePositionStore } from './file-position-store';
import { FileSnapshotArchive } from './file-snapshot-archive';
import { MemorySnapshotClaims } from './memory-snapshot-claims';
import { SoleLease } from './sole-lease';

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
export async function openFileStorage(
  settings: FileStorageSettings,
  logger: Logger,
  metrics: BusMetrics,
): Promise<BusStorage> {
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
    snapshots: {
      archive: new FileSnapshotArchive(path.join(dir, 'snapshots'), settings.snapshotMaxBytes),
      claims: new MemorySnapshotClaims(settings.snapshotClaimTtlMs),
    },
    close: async () => {
      await positions.close();
      await log.close();
    },
  };
}
