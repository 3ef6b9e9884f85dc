import { createReadStream } from 'node:fs';
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { HttpError, type Logger } from '@blog/common';
import { EventIndex, type EventLog, type NewEvent, type StoredEvent } from './log';

interface PendingAppend {
  event: StoredEvent;
  resolve: (event: StoredEvent) => void;
  reject: (err: Error) => void;
}

/** The log failed to write; nothing more is accepted until the bus restarts and reopens it. */
export class EventLogUnavailableError extends HttpError {
  constructor(reason: string) {
    super(503, `event log unavailable (${reason}); nothing was stored`);
  }
}

export interface FileEventLogOptions {
  dir: string;
  logger: Logger;
  /** Called once when a write fails: the file's end is then unknown, so the bus should restart. */
  onFailure?: (err: Error) => void;
}

/**
 * The event log on disk: one JSON line per event in `<dir>/events.jsonl`, appended and fsynced before an
 * append resolves, and kept in memory for reading.
 *
 * - Group commit: appends that arrive while a write is under way are written together by the next write,
 *   so under load one fsync covers many events.
 * - An event becomes readable (and is delivered) only once it is durable.
 * - On open, a torn last line (a crash in the middle of a write) is dropped and the file truncated to the
 *   last whole event; any other damage stops the bus with a message naming the line.
 */
export class FileEventLog implements EventLog {
  private readonly index = new EventIndex();
  private nextSeq: number;
  private batch: PendingAppend[] = [];
  /** Appends not yet durable, by event id, so that a retry joins the original. */
  private readonly pendingById = new Map<string, Promise<StoredEvent>>();
  private writing: Promise<void> | undefined;
  private failure: Error | undefined;
  private closed = false;
  /** Writes (each one fsync) so far; with group commit, fewer than appends under load. */
  writes = 0;

  private constructor(
    private readonly file: FileHandle,
    private readonly options: FileEventLogOptions,
    events: StoredEvent[],
  ) {
    this.index.add(events);
    this.nextSeq = events.length + 1;
  }

  /** Opens (or creates) the log in `dir` and loads it. */
  static async open(options: FileEventLogOptions): Promise<FileEventLog> {
    await mkdir(options.dir, { recursive: true });
    const filePath = path.join(options.dir, 'events.jsonl');
    const { events, validBytes, tornBytes } = await load(filePath);
    const file = await open(filePath, 'a+');
    if (tornBytes > 0) {
      await file.truncate(validBytes);
      await file.datasync();
      options.logger.warn({ file: filePath, droppedBytes: tornBytes, lastSeq: events.length }, 'dropped a torn last record');
    }
    options.logger.info({ file: filePath, events: events.length }, 'event log opened');
    return new FileEventLog(file, options, events);
  }

  get lastSeq(): number {
    return this.index.lastSeq;
  }

  append(event: NewEvent): Promise<StoredEvent> {
    if (this.failure) return Promise.reject(new EventLogUnavailableError(this.failure.message));
    if (this.closed) return Promise.reject(new EventLogUnavailableError('closed'));
    const known = this.index.recent(event.id);
    if (known) return Promise.resolve(known);
    const pending = this.pendingById.get(event.id);
    if (pending) return pending;
    const appended = new Promise<StoredEvent>((resolve, reject) => {
      this.batch.push({ event: { ...event, seq: this.nextSeq++ }, resolve, reject });
      this.writing ??= this.writeBatches();
    });
    this.pendingById.set(event.id, appended);
    void appended.then(
      () => this.pendingById.delete(event.id),
      () => this.pendingById.delete(event.id),
    );
    return appended;
  }

  async readAfter(after: number, limit: number): Promise<StoredEvent[]> {
    return this.index.readAfter(after, limit);
  }

  waitForNewerThan(after: number, signal: AbortSignal): Promise<void> {
    return this.index.waitForNewerThan(after, signal);
  }

  /** Writes what is pending, then closes the file. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
    this.index.wakeAll();
    await this.file.close();
  }

  /** Writes batch after batch until none is pending; appends arriving meanwhile join the next batch. */
  private async writeBatches(): Promise<void> {
    // Let the appends of this tick join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.batch.length > 0 && !this.failure) {
      const batch = this.batch;
      this.batch = [];
      try {
        await this.file.write(batch.map(({ event }) => `${JSON.stringify(event)}\n`).join(''));
        await this.file.datasync();
        this.writes++;
      } catch (err) {
        this.fail(err instanceof Error ? err : new Error(String(err)), batch);
        break;
      }
      this.index.add(batch.map(({ event }) => event));
      for (const { event, resolve } of batch) resolve(event);
    }
    this.writing = undefined;
  }

  private fail(err: Error, batch: PendingAppend[]): void {
    this.failure = err;
    this.options.logger.fatal({ err }, 'writing the event log failed');
    const error = new EventLogUnavailableError(err.message);
    for (const { reject } of [...batch, ...this.batch]) reject(error);
    this.batch = [];
    this.options.onFailure?.(err);
  }
}

/**
 * Reads the whole log: its events, how many bytes hold them, and the size of a torn tail. Every event is
 * written as one line ending in a newline, so a file that does not end in a newline was cut short by a
 * crash in the middle of a write: its last line is torn, whether or not it happens to parse.
 */
async function load(filePath: string): Promise<{ events: StoredEvent[]; validBytes: number; tornBytes: number }> {
  const size = await stat(filePath).then(
    (info) => info.size,
    () => 0,
  );
  const events: StoredEvent[] = [];
  if (size === 0) return { events, validBytes: 0, tornBytes: 0 };
  const endsWithNewline = (await readLastByte(filePath, size)) === 0x0a;

  let validBytes = 0;
  let lineNumber = 0;
  let lastLineBytes = 0;
  let unreadable: number | undefined;
  for await (const line of createInterface({ input: createReadStream(filePath), crlfDelay: Infinity })) {
    lineNumber++;
    if (unreadable !== undefined) break;
    const event = parseRecord(line, events.length + 1);
    if (event) {
      events.push(event);
      lastLineBytes = Buffer.byteLength(line) + 1;
      validBytes += lastLineBytes;
    } else {
      unreadable = lineNumber;
    }
  }
  const tornLine = endsWithNewline ? undefined : lineNumber;
  if (unreadable !== undefined && unreadable !== tornLine) {
    throw new Error(`event log ${filePath} is damaged at line ${unreadable} of ${lineNumber}; refusing to start`);
  }
  if (tornLine !== undefined && unreadable === undefined) {
    // The torn line parsed; it still was never acknowledged (its fsync did not complete).
    events.pop();
    validBytes -= lastLineBytes;
  }
  return { events, validBytes, tornBytes: size - validBytes };
}

async function readLastByte(filePath: string, size: number): Promise<number | undefined> {
  const file = await open(filePath, 'r');
  try {
    const { buffer } = await file.read(Buffer.alloc(1), 0, 1, size - 1);
    return buffer[0];
  } finally {
    await file.close();
  }
}

function parseRecord(line: string, expectedSeq: number): StoredEvent | undefined {
  try {
    const record = JSON.parse(line) as Partial<StoredEvent> | null;
    if (
      record !== null &&
      typeof record === 'object' &&
      record.seq === expectedSeq &&
      typeof record.id === 'string' &&
      typeof record.type === 'string' &&
      typeof record.time === 'string'
    ) {
      return record as StoredEvent;
    }
  } catch {
    // not JSON: torn or damaged
  }
  return undefined;
}
