/**
 * Snapshots of the services' states, kept by the bus for a fresh replica to start from (a snapshot plus
 * the events after it) instead of the first event. The bus only stores and serves them: each service
 * makes its own, from its own state.
 */
import type { Readable } from 'node:stream';

/** Which snapshot: whose state, made by which schema version of it, up to which seq of the log. */
export interface SnapshotKey {
  /** e.g. "query". */
  service: string;
  /** The state's schema label, e.g. "query@1": a service reads only snapshots of its own version. */
  schema: string;
  seq: number;
}

export interface SnapshotInfo extends SnapshotKey {
  bytes: number;
  /** Hex SHA-256 of the file, checked when it is stored and by whoever downloads it. */
  sha256: string;
}

/** Where the snapshots are kept: a folder beside the file log, or a JetStream object store. */
export interface SnapshotArchive {
  /** The snapshot with the highest seq of a service's schema, if any. */
  newest(service: string, schema: string): Promise<SnapshotInfo | undefined>;
  /** Its bytes, or undefined when it is not (or no longer) kept. */
  read(key: SnapshotKey): Promise<Readable | undefined>;
  /**
   * Stores a snapshot sent whole. Nothing is kept of one whose bytes do not match `sha256`, that is
   * larger than `maxBytes` or that does not arrive whole: a reader never sees a partial snapshot. Older
   * snapshots of the same schema beyond the newest few are deleted.
   */
  write(key: SnapshotKey, sha256: string, body: Readable): Promise<SnapshotInfo>;
}

export const SNAPSHOT_NAME = /^[a-z][a-z0-9-]{0,31}$/;
export const SCHEMA_LABEL = /^[a-z][a-z0-9-]{0,31}@\d{1,6}$/;
/** How many snapshots of a service's schema are kept: the newest, and the one before while it may be read. */
export const SNAPSHOTS_KEPT = 2;
