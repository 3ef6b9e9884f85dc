import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@blog/common';
import { DurableFile, type OpenLogFile } from './durable-file';

/**
 * How far each pushed-to subscriber has acknowledged, kept by the bus so that a restart resumes each one
 * there: a subscriber that reports no position of its own (a course service answers `{}`) is then sent
 * again at most what was in flight, never the whole history.
 */
export interface PositionStore {
  /** The last seq `url` acknowledged, as stored; 0 when unknown. */
  get(url: string): number;
  /** Stores that `url` acknowledged everything up to `seq`; resolves once it is durable. */
  save(url: string, seq: number): Promise<void>;
  close(): Promise<void>;
}

interface PendingSave {
  url: string;
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

const FILE = 'positions.jsonl';

/**
 * Positions in `<dir>/positions.jsonl`: one line `{"url","seq"}` per save, appended and fsynced (saves that
 * arrive while a write is under way share the next one). Opening reads it (the highest seq per subscriber
 * wins; a torn last line is ignored) and writes it anew with one line per subscriber, so it stays small.
 */
export class FilePositionStore implements PositionStore {
  private batch: PendingSave[] = [];
  private writing: Promise<void> | undefined;

  private constructor(
    private readonly positions: Map<string, number>,
    private readonly file: DurableFile,
  ) {}

  static async open(options: { dir: string; logger: Logger; writeTimeoutMs: number; openFile?: OpenLogFile }): Promise<FilePositionStore> {
    const filePath = path.join(options.dir, FILE);
    const positions = parsePositions(await readFile(filePath, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? '' : Promise.reject(err))));
    const compacted = [...positions].map(([url, seq]) => `${JSON.stringify({ url, seq })}\n`).join('');
    const temporary = `${filePath}.new`;
    await writeFile(temporary, compacted, { flush: true });
    await rename(temporary, filePath);
    const file = await DurableFile.open(filePath, Buffer.byteLength(compacted), options);
    return new FilePositionStore(positions, file);
  }

  get(url: string): number {
    return this.positions.get(url) ?? 0;
  }

  save(url: string, seq: number): Promise<void> {
    if (seq <= this.get(url)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.batch.push({ url, seq, resolve, reject });
      this.writing ??= this.writeBatches();
    });
  }

  async close(): Promise<void> {
    await this.writing;
    await this.file.close();
  }

  private async writeBatches(): Promise<void> {
    while (this.batch.length > 0) {
      const batch = this.batch;
      this.batch = [];
      try {
        await this.file.append(Buffer.from(batch.map(({ url, seq }) => `${JSON.stringify({ url, seq })}\n`).join('')));
      } catch (err) {
        for (const { reject } of batch) reject(err as Error);
        continue;
      }
      for (const { url, seq, resolve } of batch) {
        this.positions.set(url, Math.max(this.get(url), seq));
        resolve();
      }
    }
    this.writing = undefined;
  }
}

/** The highest seq of each subscriber in the file's whole lines; anything else is passed over. */
function parsePositions(text: string): Map<string, number> {
  const positions = new Map<string, number>();
  for (const line of text.split('\n')) {
    try {
      const { url, seq } = JSON.parse(line) as { url?: unknown; seq?: unknown };
      if (typeof url === 'string' && typeof seq === 'number' && Number.isSafeInteger(seq) && seq > (positions.get(url) ?? 0)) positions.set(url, seq);
    } catch {
      // a torn last line, or an empty one
    }
  }
  return positions;
}
