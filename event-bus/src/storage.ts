import type { DeliveryLease } from './delivery/delivery-lease';
import type { PositionStore } from './delivery/position-store';
import type { EventLog } from './log/event-log';
import type { SnapshotArchive } from './snapshots/snapshot-archive';
import type { SnapshotClaims } from './snapshots/snapshot-claims';

/** Where the bus keeps its events and its subscribers' positions, and how it decides who delivers. */
export interface BusStorage {
  log: EventLog;
  positions: PositionStore;
  lease: DeliveryLease;
  /** The services' snapshots, and who may make the next one. */
  snapshots: { archive: SnapshotArchive; claims: SnapshotClaims };
  close(): Promise<void>;
}
