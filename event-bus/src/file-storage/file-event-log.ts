import { createReadStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@blog/common';
import { AppendsById } from '../log/appends-by-id';
import { ByteOffsets } from '../log/byte-offsets';
import { EventLogUnavailableError } from '../log/errors';
import { EventIndex, RECENT_IDS, type StoredId, type StoredRecord } from '../log/event-index';
import type { Appended, EventLogHealth, NewEvent, StoredEvent } from '../log/event-log';
import { IndexedEventLog } from '../log/indexed-event-log';
import { checkLogLine, Quarantine } from '../log/quarantine';
import { RefusedAppends } from '../log/refused-appends';
import { DurableFile, toFault, type OpenLogFile } from './durable-file';
import { FolderLock } from './folder-lock';
import { GroupCommit } from './group-commit';

export interface FileEventLogOptions {
  dir: string;
  logger: Logger;
  /** How many of the newest events are kept in memory as text; older ones are read from the file. */
  tailSize?: number;
  /** How many of the newest event ids are remembered, so that each is stored once (RECENT_IDS by default). */
  recentIds?: number;
  /** A write (with its fsync) that takes longer is refused with 503, never acknowledged late. */
  writeTimeoutMs?: number;
  /** Called for each refusal (a failed write's batch, or an append refused at once), with the fault's code. */
  onWriteFault?: (code: string) => void;
  /** Opens the file (tests inject faults here). */
  openFile?: OpenLogFile;
  /** Called once for each line that is not an event (served as a placeholder). */
  onQuarantined?: () => void;
}

/** Enough for delivery to read from memory even when a subscriber is a few seconds behind under load. */
const DEFAULT_TAIL_SIZE = 50_000;
const DEFAULT_WRITE_TIMEOUT_MS = 5_000;

/**
 * The event log on disk: one JSON line per event in `<dir>/events.jsonl`, appended and fsynced before an
 * append resolves.
 *
 * - Group commit: appends that arrive while a write is under way are written together by the next write,
 *   so under load one fsync covers many events. Seqs are given when a batch is written, after the last
 *   durable one: a batch is stored whole, or refused whole (503) with nothing of it kept, and its seqs go
 *   to the next batch. A seq is only ever told (201) and delivered once durable, so none is ever reused.
 * - A storage fault (a full disk, an I/O error, a read-only or removed file, a hung write) refuses appends
 *   while it lasts; the bus stays up, reads and deliveries go on, and the next append tries again.
 * - Memory stays bounded whatever the history's length: the newest events are kept as text, older ones are
 *   read from the file by their byte offsets (8 bytes per event in memory).
 * - On open, a torn last line (a crash in the middle of a write) is dropped and the file truncated to the
 *   last whole event. A line that is not an event (not JSON, not an envelope, too large: written by hand?)
 *   is quarantined: it keeps its seq and is served as a placeholder every consumer ignores. A line out of
 *   seq order (lines removed or inserted) stops the bus with a message naming the line.
 * - The folder belongs to one process (FolderLock): a second bus on it refuses to start, naming the first.
 */
export class FileEventLog extends IndexedEventLog {
  protected readonly index: EventIndex;
  private readonly appends = new GroupCommit<NewEvent, StoredEvent>((events) => this.writeBatch(events));
  /** A retry of a stored or pending event id joins the original. */
  private readonly byId: AppendsById;
  private closed = false;
  private readonly refusals: RefusedAppends;
  /** Writes (each one fsync) so far; with group commit, fewer than appends under load. */
  writes = 0;

  /** The placeholders served for the lines that are not events, by seq. */
  private readonly quarantined: ReadonlyMap<number, string>;

  private constructor(
    private readonly file: DurableFile,
    options: FileEventLogOptions,
    loaded: LoadedLog,
    private readonly lock: FolderLock,
  ) {
    super();
    this.quarantined = loaded.quarantined;
    this.index = new EventIndex({
      tailSize: options.tailSize ?? DEFAULT_TAIL_SIZE,
      recentIds: options.recentIds,
      stored: loaded,
    });
    this.refusals = new RefusedAppends(options.logger, options.onWriteFault, () => this.lastSeq);
    this.byId = new AppendsById(this.index, async (seq) => (await this.readAfter(seq - 1, 1))[0] as StoredEvent);
  }

  /** Opens (or creates) the log in `dir` and loads it. */
  static async open(options: FileEventLogOptions): Promise<FileEventLog> {
    await mkdir(options.dir, { recursive: true });
    const lock = await FolderLock.take(options.dir);
    const filePath = path.join(options.dir, 'events.jsonl');
    const startedAt = Date.now();
    const quarantine = new Quarantine(options.logger, options.onQuarantined);
    let loaded: LoadedLog;
    let file: DurableFile;
    try {
      loaded = await load(
        filePath,
        { texts: options.tailSize ?? DEFAULT_TAIL_SIZE, ids: options.recentIds ?? RECENT_IDS },
        quarantine,
      );
      file = await DurableFile.open(filePath, loaded.offsets.end, {
        logger: options.logger,
        writeTimeoutMs: options.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS,
        openFile: options.openFile,
      });
    } catch (err) {
      await lock.release();
      throw err;
    }
    if (loaded.tornBytes > 0) {
      options.logger.warn(
        { file: filePath, droppedBytes: loaded.tornBytes, lastSeq: loaded.offsets.count },
        'dropped a torn last record',
      );
    }
    options.logger.info(
      { file: filePath, events: loaded.offsets.count, ms: Date.now() - startedAt },
      'event log opened',
    );
    return new FileEventLog(file, options, loaded, lock);
  }

  health(): EventLogHealth {
    return this.refusals.health();
  }

  append(event: NewEvent): Promise<Appended> {
    if (this.closed) return Promise.reject(new EventLogUnavailableError('the bus is shutting down'));
    return this.byId.append(event, async () => {
      const blocked = this.file.blockedBy;
      if (blocked) {
        this.refusals.refused(blocked, 1);
        throw new EventLogUnavailableError(blocked.message);
      }
      return { event: await this.appends.add(event), duplicate: false };
    });
  }

  readRawAfter(after: number, limit: number, maxBytes = Infinity): Promise<string[]> {
    return this.index.readRaw(after, limit, maxBytes, (first, last) => this.readFromFile(first, last));
  }

  /** Events first…last from the file, by their byte offsets. */
  private async readFromFile(first: number, last: number): Promise<string[]> {
    const { offsets } = this.index;
    const start = offsets.startOf(first);
    const length = offsets.endOf(last) - start;
    const buffer = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.file.read(buffer, length, start);
    // Every record ends with a newline; the text between offsets holds exactly these events.
    const lines = buffer.toString('utf8', 0, bytesRead - 1).split('\n');
    for (const [seq, line] of this.quarantined) if (seq >= first && seq <= last) lines[seq - first] = line;
    return lines;
  }

  /** Writes what is pending, then closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    await this.appends.settled();
    this.index.wakeAll();
    await this.file.close();
    await this.lock.release();
  }

  /** Writes one batch, numbered after the last durable event; a refused batch leaves nothing and no seq. */
  private async writeBatch(events: NewEvent[]): Promise<StoredEvent[]> {
    const firstSeq = this.index.lastSeq + 1;
    const stored = events.map((event, i): StoredEvent => ({ ...event, seq: firstSeq + i }));
    const records = stored.map((event) => ({ seq: event.seq, id: event.id, line: JSON.stringify(event) }));
    try {
      await this.file.append(Buffer.from(records.map(({ line }) => `${line}\n`).join('')));
    } catch (err) {
      const fault = toFault(err);
      this.refusals.refused(fault, events.length);
      throw new EventLogUnavailableError(fault.message);
    }
    this.writes++;
    this.refusals.stored();
    this.index.add(records);
    return stored;
  }
}

interface LoadedLog {
  offsets: ByteOffsets;
  /** The newest events, with their texts (the in-memory tail). */
  recent: StoredRecord[];
  /** Where the newest event ids are stored (the ids remembered). */
  ids: StoredId[];
  /** Bytes after the last whole event: a torn record to drop. */
  tornBytes: number;
  /** The placeholders of the lines that are not events, by seq. */
  quarantined: Map<number, string>;
}

const NEWLINE = 0x0a;

/**
 * Reads the whole log: each record's byte offsets, the texts of the newest `keep.texts` records and the
 * ids of the newest `keep.ids`. Every record
 * is written as one line ending in a newline, so a file that does not end in a newline was cut short by a
 * crash in the middle of a write: its last line is torn, whether or not it happens to parse. Every line is
 * checked (JSON, seq in order, id, type and time present): one that is not an event is quarantined, one out
 * of seq order refuses the start.
 */
async function load(
  filePath: string,
  keep: { texts: number; ids: number },
  quarantine: Quarantine,
): Promise<LoadedLog> {
  const offsets = new ByteOffsets();
  const recent: StoredRecord[] = [];
  const ids: StoredId[] = [];
  let carry: Buffer = Buffer.alloc(0);
  let lineNumber = 0;
  let damagedLine: number | undefined;
  const quarantined = new Map<number, string>();
  const stream = createReadStream(filePath, { highWaterMark: 1 << 20 }).on('error', () => undefined);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const data = carry.length > 0 ? Buffer.concat([carry, chunk]) : chunk;
      let lineStart = 0;
      for (let newline = data.indexOf(NEWLINE); newline !== -1; newline = data.indexOf(NEWLINE, lineStart)) {
        lineNumber++;
        const line = data.toString('utf8', lineStart, newline);
        const seq = offsets.count + 1;
        const checked = checkLogLine(line, seq);
        if (checked.seqMismatch) {
          damagedLine = lineNumber;
          break;
        }
        const record = quarantine.recordOf(seq, checked);
        if (!checked.ok) quarantined.set(seq, record.line);
        offsets.push(newline - lineStart + 1);
        recent.push(record);
        ids.push({ seq, id: record.id });
        // Trimmed by halves, so that keeping the newest stays cheap (amortized).
        if (recent.length > 2 * keep.texts) recent.splice(0, recent.length - keep.texts);
        if (ids.length > 2 * keep.ids) ids.splice(0, ids.length - keep.ids);
        lineStart = newline + 1;
      }
      if (damagedLine !== undefined) break;
      carry = data.subarray(lineStart);
    }
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
  }
  if (damagedLine !== undefined) {
    throw new Error(
      `event log ${filePath} is damaged at line ${damagedLine}: its seq is not the line's number (lines removed or inserted?); refusing to start`,
    );
  }
  // Whatever follows the last newline was never acknowledged: its write (or its fsync) did not complete.
  return {
    offsets,
    recent: recent.slice(-keep.texts),
    ids: ids.slice(-keep.ids),
    tornBytes: carry.length,
    quarantined,
  };
}
