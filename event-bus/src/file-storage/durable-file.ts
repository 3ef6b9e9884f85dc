import { constants } from 'node:fs';
import { mkdir, open, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@blog/common';

/** The file operations the log uses: a part of Node's FileHandle, so that tests can inject faults. */
export interface LogFileHandle {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  stat(): Promise<{ dev: number; ino: number }>;
  close(): Promise<void>;
}

/** Opens a file for reading and writing at any position, creating it when missing. */
export type OpenLogFile = (filePath: string) => Promise<LogFileHandle>;

export const openLogFile: OpenLogFile = (filePath) => open(filePath, constants.O_RDWR | constants.O_CREAT, 0o644);

/** Why a write was refused. `code` is an errno code (ENOSPC, EIO, EROFS…) or TIMEOUT, REMOVED or NO_PROGRESS. */
export class StorageFault extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'StorageFault';
  }
}

const DESCRIPTIONS: Record<string, string> = {
  ENOSPC: "no space left on the bus's volume",
  EDQUOT: "the bus's disk quota is used up",
  EIO: 'I/O error',
  EROFS: "the bus's volume is read-only",
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: "the log's folder is missing",
};

/** The fault an error of the file system stands for (its errno code and a sentence for people). */
export function toFault(err: unknown): StorageFault {
  if (err instanceof StorageFault) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string')
    return new StorageFault(code, `${DESCRIPTIONS[code] ?? (err as Error).message} (${code})`);
  return new StorageFault('UNKNOWN', err instanceof Error ? err.message : String(err));
}

export interface DurableFileOptions {
  logger: Logger;
  /** A write (with its fsync) that takes longer is refused and its bytes undone once it settles. */
  writeTimeoutMs: number;
  openFile?: OpenLogFile;
}

const COPY_CHUNK = 1 << 20;

/**
 * An append-only file whose first `end` bytes are known to be on disk, and nothing after them.
 *
 * - `append` writes every byte (a short write continues where it stopped), fsyncs, and checks that the
 *   file is still the one at its path; only then does `end` move. Any failure undoes the bytes written
 *   (truncates back to `end`) before it is reported, so a refused append can never appear in the file.
 * - When the undo fails too, the end is in doubt: the next append first truncates, and is refused if it
 *   cannot. A write that does not settle within the timeout is refused at once; appends are refused until
 *   it settles, and its bytes are then undone the same way.
 * - When the file or its folder was removed while open, the next append writes the first `end` bytes,
 *   read from the open file, to a new file at the path (write, fsync, rename, fsync the folder) and goes on
 *   there. Reads are never affected: they read the open file.
 */
export class DurableFile {
  private readonly openFile: OpenLogFile;
  /** Bytes after `end` may exist (an undo failed, or a timed-out write settled later). */
  private endInDoubt = false;
  /** A write that timed out and has not settled yet. */
  private hung: Promise<void> | undefined;
  /** Files replaced by a restore; reads that started on them may still be under way. */
  private readonly retired: LogFileHandle[] = [];

  private constructor(
    readonly filePath: string,
    private handle: LogFileHandle,
    private identity: { dev: number; ino: number },
    private durableEnd: number,
    private readonly options: DurableFileOptions,
  ) {
    this.openFile = options.openFile ?? openLogFile;
  }

  /** Opens the file whose first `end` bytes are whole records, dropping whatever follows them. */
  static async open(filePath: string, end: number, options: DurableFileOptions): Promise<DurableFile> {
    const handle = await (options.openFile ?? openLogFile)(filePath);
    try {
      await handle.truncate(end);
      await handle.datasync();
      // A new file's name must be on disk too, or a crash could lose the whole file.
      await syncToDisk(path.dirname(filePath));
      return new DurableFile(filePath, handle, await handle.stat(), end, options);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /** Bytes known to be on disk: everything before this offset, and nothing after it. */
  get end(): number {
    return this.durableEnd;
  }

  /** Appends are refused at once while a timed-out write has not settled. */
  get blockedBy(): StorageFault | undefined {
    return this.hung ? this.timeoutFault() : undefined;
  }

  /** Writes `data` after `end`, durably; throws a StorageFault, with nothing added, when it cannot. */
  async append(data: Buffer): Promise<void> {
    const blocked = this.blockedBy;
    if (blocked) throw blocked;
    const start = this.end;
    const attempt = this.writeAt(start, data);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.writeTimeoutMs);
    });
    try {
      if ((await Promise.race([attempt, timedOut])) === 'timeout') {
        this.hung = attempt
          .catch(() => undefined)
          .then(() => {
            this.hung = undefined;
            this.endInDoubt = true;
            this.options.logger.warn(
              { file: this.filePath },
              'a timed-out write settled; its bytes are undone before the next write',
            );
          });
        throw this.timeoutFault();
      }
    } finally {
      clearTimeout(timer);
    }
    this.durableEnd = start + data.length;
  }

  read(buffer: Buffer, length: number, position: number): Promise<{ bytesRead: number }> {
    return this.handle.read(buffer, 0, length, position);
  }

  /** Closes the file; a write that has not settled keeps it open (the process is about to exit anyway). */
  async close(): Promise<void> {
    if (this.hung) return;
    await Promise.allSettled([this.handle, ...this.retired].map((handle) => handle.close()));
  }

  private timeoutFault(): StorageFault {
    return new StorageFault(
      'TIMEOUT',
      `a write to ${path.basename(this.filePath)} did not finish within ${this.options.writeTimeoutMs} ms`,
    );
  }

  private async writeAt(start: number, data: Buffer): Promise<void> {
    try {
      await this.repair();
      await writeFully(this.handle, data, start);
      await this.handle.datasync();
      if (!(await this.isAtItsPath()))
        throw new StorageFault(
          'REMOVED',
          `${path.basename(this.filePath)} was removed or replaced while the bus was running`,
        );
    } catch (err) {
      await this.undo(start);
      throw toFault(err);
    }
  }

  /** Makes the file at the path ours and its end exactly `end`. */
  private async repair(): Promise<void> {
    if (!(await this.isAtItsPath())) await this.restore();
    if (this.endInDoubt) {
      await this.handle.truncate(this.end);
      await this.handle.datasync();
      this.endInDoubt = false;
    }
  }

  private async undo(start: number): Promise<void> {
    try {
      await this.handle.truncate(start);
      await this.handle.datasync();
    } catch (err) {
      this.endInDoubt = true;
      this.options.logger.error(
        { err, file: this.filePath },
        'could not undo a failed write; retrying before the next write',
      );
    }
  }

  private async isAtItsPath(): Promise<boolean> {
    try {
      const found = await stat(this.filePath);
      return found.ino === this.identity.ino && found.dev === this.identity.dev;
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Puts the durable bytes of the open file back at the path, as a new file, and continues in that one. */
  private async restore(): Promise<void> {
    const folder = path.dirname(this.filePath);
    await mkdir(folder, { recursive: true });
    const temporary = `${this.filePath}.restoring`;
    const copy = await this.openFile(temporary);
    try {
      await copy.truncate(0);
      const chunk = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(this.end, 1)));
      for (let position = 0; position < this.end;) {
        const length = Math.min(chunk.length, this.end - position);
        const { bytesRead } = await this.handle.read(chunk, 0, length, position);
        if (bytesRead !== length)
          throw new StorageFault(
            'EIO',
            `read ${bytesRead} of ${length} bytes of the open ${path.basename(this.filePath)}`,
          );
        await writeFully(copy, chunk.subarray(0, length), position);
        position += length;
      }
      await copy.datasync();
      await rename(temporary, this.filePath);
      await syncToDisk(folder);
      this.identity = await copy.stat();
    } catch (err) {
      await copy.close().catch(() => undefined);
      throw err;
    }
    this.retired.push(this.handle);
    this.handle = copy;
    this.endInDoubt = false;
    this.options.logger.warn(
      { file: this.filePath, bytes: this.end },
      'the file was removed; restored it from the open one',
    );
  }
}

/** Writes every byte of `data` at `position`, continuing after short writes. */
async function writeFully(handle: LogFileHandle, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    if (bytesWritten <= 0)
      throw new StorageFault('NO_PROGRESS', `a write stored nothing (${done} of ${data.length} bytes written)`);
    done += bytesWritten;
  }
}

/** fsyncs a folder (so that the names created or renamed in it are on disk), or a file. */
export async function syncToDisk(target: string): Promise<void> {
  const handle = await open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
