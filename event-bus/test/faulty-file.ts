import { openLogFile, type LogFileHandle, type OpenLogFile } from '../src/file-storage/durable-file';

/** What the next write does instead of writing everything it is given. */
export interface WriteFault {
  /** Wait for this first (a write that hangs until the test releases it). */
  until?: Promise<void>;
  /** Then fail with this errno code… */
  error?: string;
  /** …or write only this many bytes (a short write, as on a filesystem that fills up). */
  bytes?: (length: number) => number;
}

export function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault`), { code });
}

/**
 * A real file whose next operations fail as scripted: each call takes the first fault queued for its
 * operation, and behaves normally when none is queued.
 */
export class FaultyFile implements LogFileHandle {
  readonly next = { write: [] as WriteFault[], datasync: [] as string[], truncate: [] as string[] };
  /** Calls made so far, by operation. */
  readonly calls = { write: 0, datasync: 0, truncate: 0 };

  constructor(private readonly real: LogFileHandle) {}

  async write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }> {
    this.calls.write++;
    const fault = this.next.write.shift();
    if (fault?.until) await fault.until;
    if (fault?.error) throw errno(fault.error);
    return this.real.write(buffer, offset, fault?.bytes ? fault.bytes(length) : length, position);
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }> {
    return this.real.read(buffer, offset, length, position);
  }

  async datasync(): Promise<void> {
    this.calls.datasync++;
    const error = this.next.datasync.shift();
    if (error) throw errno(error);
    await this.real.datasync();
  }

  async truncate(length: number): Promise<void> {
    this.calls.truncate++;
    const error = this.next.truncate.shift();
    if (error) throw errno(error);
    await this.real.truncate(length);
  }

  stat(): Promise<{ dev: number; ino: number }> {
    return this.real.stat();
  }

  close(): Promise<void> {
    return this.real.close();
  }
}

/** An opener that wraps every file it opens; `current` is the newest. */
export function faultyOpener(): { open: OpenLogFile; readonly current: FaultyFile } {
  const opened: FaultyFile[] = [];
  return {
    open: async (filePath) => {
      const file = new FaultyFile(await openLogFile(filePath));
      opened.push(file);
      return file;
    },
    get current() {
      const file = opened.at(-1);
      if (!file) throw new Error('no file opened yet');
      return file;
    },
  };
}
