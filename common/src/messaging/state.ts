/**
 * A service's own state in SQLite (better-sqlite3) on the service's own disk, with the position in the
 * event log it was built up to, kept in the same transactions (import from '@blog/common/state').
 */
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { retryUntilDone } from '../service/backoff';
import { env } from '../service/config';
import type { Logger } from '../service/logger';
import type { AppliedState, Position } from './consumer';
import {
  BusSnapshots,
  describeSnapshotFile,
  removeDatabase,
  Snapshotter,
  snapshotScratchFile,
  SnapshotsUnsupportedError,
  type SnapshotInfo,
  type SnapshotStore,
} from './snapshots';

export * from './snapshots';

/**
 * Where a service keeps its state, read from the environment: STATE_DIR (by default the repository's
 * `.data/<service>`, like the bus's log) and STATE_CACHE_MIB, SQLite's page cache.
 */
export function stateConfigSchema(service: string) {
  const cacheError = 'must be a whole number of MiB from 1 to 4096';
  return {
    /** A folder on the service's own disk; one replica's, never shared (a second process is refused). */
    STATE_DIR: z.string().default(path.join(__dirname, '..', '..', '..', '.data', service)),
    STATE_CACHE_MIB: z.coerce
      .number({ error: cacheError })
      .int({ error: cacheError })
      .min(1, { error: cacheError })
      .max(4096, { error: cacheError })
      .default(16),
    /** A new snapshot once the state is this many events past the newest the bus keeps; 0 makes none. */
    SNAPSHOT_EVERY_EVENTS: z.coerce
      .number({ error: 'must be a whole number, 0 for none' })
      .int({ error: 'must be a whole number, 0 for none' })
      .min(0, { error: 'must be a whole number, 0 for none' })
      .default(100_000),
    /** Start from the bus's newest snapshot when it is that far ahead of the state on disk (a fresh replica's is empty). */
    SNAPSHOT_RESTORE: env.flag(true),
  };
}

export interface StateConfig {
  STATE_DIR: string;
  STATE_CACHE_MIB: number;
  SNAPSHOT_EVERY_EVENTS: number;
  SNAPSHOT_RESTORE: boolean;
}

/** How long a starting service waits for the bus to say which snapshot is newest before it replays instead. */
const SNAPSHOT_LOOKUP_MS = 15_000;

/**
 * The state of a service as its configuration says: `state.sqlite` in STATE_DIR. With `snapshots`, a
 * state that is empty, or further behind the newest snapshot than SNAPSHOT_EVERY_EVENTS, is replaced by
 * that snapshot (downloaded beside it, checked, then moved into place); one that cannot be used is
 * passed over and the state is built from the log as it stands.
 */
export async function openServiceState(
  config: StateConfig,
  schema: StateSchema,
  logger: Logger,
  snapshots?: SnapshotStore,
): Promise<StateDb> {
  const file = path.join(path.resolve(config.STATE_DIR), 'state.sqlite');
  const open = () => StateDb.open({ file, schema, cacheMiB: config.STATE_CACHE_MIB, logger });
  const state = open();
  removeLeftScratch(path.dirname(file));
  if (!snapshots || !config.SNAPSHOT_RESTORE) return state;
  const newest = await newestSnapshot(snapshots, labelOf(schema), logger);
  const behind = newest === undefined ? 0 : newest.seq - state.position.seq;
  const farBehind = config.SNAPSHOT_EVERY_EVENTS > 0 && behind >= config.SNAPSHOT_EVERY_EVENTS;
  if (newest === undefined || behind <= 0 || (state.position.seq > 0 && !farBehind)) return state;

  const download = snapshotScratchFile(file, 'download');
  try {
    await snapshots.download(newest, download);
    const made = describeSnapshotFile(download);
    if (made.schema !== labelOf(schema) || made.seq !== newest.seq)
      throw new Error(`it holds ${made.schema} at seq ${made.seq}`);
    state.close();
    removeDatabase(file);
    await rename(download, file);
    logger.info(
      { seq: newest.seq, bytes: newest.bytes, from: state.position.seq },
      'state restored from the newest snapshot; reading the events after it',
    );
    return open();
  } catch (err) {
    logger.warn(
      { seq: newest.seq, reason: err instanceof Error ? err.message : String(err) },
      'snapshot not used; building the state from the event log instead',
    );
    return state.db.open ? state : open();
  } finally {
    removeDatabase(download);
  }
}

function labelOf(schema: StateSchema): string {
  return `${schema.service}@${schema.version}`;
}

/** The newest snapshot, asked for a while when the bus does not answer yet; undefined past that, or when there is none. */
async function newestSnapshot(
  snapshots: SnapshotStore,
  schema: string,
  logger: Logger,
): Promise<SnapshotInfo | undefined> {
  const found: { info?: SnapshotInfo } = {};
  const asked = await retryUntilDone(
    async () => {
      try {
        found.info = await snapshots.newest(schema);
      } catch (err) {
        if (!(err instanceof SnapshotsUnsupportedError)) throw err;
      }
    },
    {
      signal: AbortSignal.timeout(SNAPSHOT_LOOKUP_MS),
      onError: (err, attempt) =>
        logger[attempt < 3 ? 'debug' : 'warn'](
          { reason: err instanceof Error ? err.message : String(err) },
          'cannot ask the event bus for a snapshot yet',
        ),
    },
  );
  return asked ? found.info : undefined;
}

/** Files of a download or upload a killed process left behind. */
function removeLeftScratch(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (/^(download|upload)-[0-9a-f-]{36}\.sqlite(-wal|-shm|-journal)?$/.test(name))
      rmSync(path.join(dir, name), { force: true });
  }
}

/** Thrown when another process has the state file open: each replica needs a STATE_DIR of its own. */
export class StateInUseError extends Error {
  override name = 'StateInUseError';
}

/** A prepared statement of a service's state: parameters, and the row it reads. */
export type SqlStatement<Params extends unknown[] = unknown[], Row = unknown> = Database.Statement<Params, Row>;

/** The tables of one service's state, and their version. */
export interface StateSchema {
  /** e.g. "query": a state file made by another service is never taken for this one's. */
  service: string;
  /** Bumped whenever the tables or what they mean change: a file of another version is rebuilt from the log. */
  version: number;
  /** The CREATE TABLE and CREATE INDEX statements. */
  tables: string;
}

export interface StateDbOptions {
  /** The database file (its folder is made), or ':memory:' for a state that lasts as long as the process. */
  file: string;
  schema: StateSchema;
  /** SQLite's page cache: what the state may hold in RAM besides the process itself. */
  cacheMiB?: number;
  /** How long to wait for a file another process holds (e.g. one still exiting) before refusing it. */
  lockWaitMs?: number;
  logger?: Logger;
}

const META_TABLE = `CREATE TABLE IF NOT EXISTS state_meta (
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
  schema TEXT NOT NULL,
  seq INTEGER NOT NULL,
  event_id TEXT
)`;

/** The database a service keeps its state in, and the log position that state was built up to. */
export class StateDb implements AppliedState {
  private current: Position;
  /** Recorded in the transaction under way, and the position once it commits (a failed COMMIT undoes it). */
  private pending: Position | undefined;
  private depth = 0;
  private readonly recordPosition: Database.Statement<[number, string | null]>;
  /** One wrapper for every transaction: better-sqlite3 makes a savepoint of a call made inside another. */
  private readonly inTransaction: (work: () => void) => void;

  private constructor(readonly db: Database.Database) {
    this.inTransaction = db.transaction((work: () => void) => work());
    const meta = db
      .prepare<[], { schema: string; seq: number; event_id: string | null }>(
        'SELECT schema, seq, event_id FROM state_meta',
      )
      .get();
    this.current = meta ? { seq: meta.seq, eventId: meta.event_id ?? undefined } : { seq: 0, eventId: undefined };
    this.recordPosition = db.prepare('UPDATE state_meta SET seq = ?, event_id = ?');
  }

  /**
   * Opens (or makes) the state. A file made for another service or schema version, or one SQLite cannot
   * read, is deleted: the state is derived from the event log, so it is rebuilt from the first event.
   */
  static open({ file, schema, cacheMiB = 16, lockWaitMs = 5_000, logger }: StateDbOptions): StateDb {
    const label = `${schema.service}@${schema.version}`;
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    let db = connectUnlessUnreadable(file, lockWaitMs);
    const found = db === undefined ? '' : labelIn(db);
    if (db === undefined || (found !== undefined && found !== label)) {
      logger?.warn(
        { file, found: found || 'unreadable', expected: label },
        "state file is not this service version's; rebuilding it from the event log",
      );
      db?.close();
      removeDatabase(file);
      db = connect(file, lockWaitMs);
    }
    const opened = db;
    // A crash may lose the last commits, never corrupt: the position goes back with the state it belongs to.
    opened.pragma('synchronous = NORMAL');
    opened.pragma(`cache_size = ${-Math.round(cacheMiB * 1024)}`);
    opened.pragma('temp_store = FILE');
    opened.transaction(() => {
      opened.exec(META_TABLE);
      opened.exec(schema.tables);
      opened.prepare('INSERT OR IGNORE INTO state_meta (singleton, schema, seq) VALUES (1, ?, 0)').run(label);
    })();
    return new StateDb(opened);
  }

  get position(): Position {
    return this.current;
  }

  readonly undoes = true;

  /**
   * Runs `work` as one transaction: its changes are all kept, or none. Nested, it is a savepoint: an inner
   * unit that throws is undone alone.
   */
  transaction(work: () => void): void {
    this.depth++;
    try {
      this.inTransaction(work);
    } catch (err) {
      if (this.depth === 1) this.pending = undefined;
      throw err;
    } finally {
      this.depth--;
    }
    if (this.depth === 0 && this.pending) {
      this.current = this.pending;
      this.pending = undefined;
    }
  }

  /** Records the position; inside a transaction, `position` says it only once that transaction is committed. */
  advance(position: Position): void {
    this.recordPosition.run(position.seq, position.eventId ?? null);
    if (this.depth > 0) this.pending = position;
    else this.current = position;
  }

  /** Empties every table of the state and goes back to before the first event. */
  clear(): void {
    const tables = this.db
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'state_meta'",
      )
      .all();
    this.transaction(() => {
      for (const { name } of tables) this.db.exec(`DELETE FROM "${name.replaceAll('"', '""')}"`);
      this.advance({ seq: 0, eventId: undefined });
    });
  }

  close(): void {
    this.db.close();
  }
}

/** Opens the file for this process alone, in WAL mode; a file another process holds is refused. */
function connect(file: string, lockWaitMs: number): Database.Database {
  const db = new Database(file, { timeout: lockWaitMs });
  try {
    // Held until the process ends: a second process on the same file (two replicas given one folder) is refused.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('journal_mode = WAL');
    return db;
  } catch (err) {
    db.close();
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY')
      throw new StateInUseError(`${file} is in use by another process: give each replica a STATE_DIR of its own`);
    throw err;
  }
}

/** The same, or undefined when the file is not a database SQLite can read. */
function connectUnlessUnreadable(file: string, lockWaitMs: number): Database.Database | undefined {
  try {
    return connect(file, lockWaitMs);
  } catch (err) {
    if (err instanceof StateInUseError) throw err;
    return undefined;
  }
}

/** The service and schema version the state was made for: undefined for a new file, '' for one that cannot be read. */
function labelIn(db: Database.Database): string | undefined {
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'state_meta'").get();
    if (table === undefined)
      return db.prepare<[], { n: number }>('SELECT count(*) AS n FROM sqlite_schema').get()?.n === 0 ? undefined : '';
    return db.prepare<[], { schema: string }>('SELECT schema FROM state_meta').get()?.schema ?? '';
  } catch (err) {
    if ((err as { code?: unknown }).code === 'SQLITE_BUSY') throw err;
    return '';
  }
}

/** A service's state, with the snapshots the bus keeps of it. */
export interface ServiceState {
  state: StateDb;
  /** Starts making snapshots in the background (once the state has caught up with the log). */
  startSnapshots(): void;
  /** Stops making snapshots, then closes the database. */
  close(): Promise<void>;
}

/**
 * Opens a service's state as its configuration says, from the bus's newest snapshot when that is worth
 * it (see openServiceState), and the Snapshotter that makes the next ones (SNAPSHOT_EVERY_EVENTS).
 */
export async function openStateWithSnapshots(
  config: StateConfig & { EVENT_BUS_URL: string[]; EVENTS_TOKEN?: string | undefined },
  schema: StateSchema,
  logger: Logger,
): Promise<ServiceState> {
  const store = new BusSnapshots({
    busUrls: config.EVENT_BUS_URL,
    eventsToken: config.EVENTS_TOKEN,
    service: schema.service,
  });
  const state = await openServiceState(config, schema, logger, store);
  const snapshotter =
    config.SNAPSHOT_EVERY_EVENTS === 0
      ? undefined
      : new Snapshotter({
          db: state.db,
          position: () => state.position.seq,
          schema: labelOf(schema),
          store,
          everyEvents: config.SNAPSHOT_EVERY_EVENTS,
          dir: path.resolve(config.STATE_DIR),
          logger,
        });
  return {
    state,
    startSnapshots: () => snapshotter?.start(),
    close: async () => {
      await snapshotter?.stop();
      state.close();
    },
  };
}
