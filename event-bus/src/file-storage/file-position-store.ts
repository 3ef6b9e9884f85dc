import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '@blog/common';
import type { PositionStore } from '../delivery/position-store';
import { DurableFile, type OpenLogFile } from './durable-file';
import { GroupCommit } from './group-commit';

const FILE = 'positions.jsonl';

/**
 * Positions in `<dir>/positions.jsonl`: one line `{"url","seq"}` per save, appended and fsynced (saves that
 * arrive while a write is under way share the next one). Opening reads it (the highest seq per subscriber
 * wins; a torn last line is ignored) and writes it anew with one line per subscriber, so it stays small.
 */
export class FilePositionStore implements PositionStore {
  private readonly saves = new GroupCommit<{ url: string; seq: number }, void>((saves) => this.write(saves));

  private constructor(
    private readonly positions: Map<string, number>,
    private readonly file: DurableFile,
  ) {}

  static async open(options: {
    dir: string;
    logger: Logger;
    writeTimeoutMs: number;
    openFile?: OpenLogFile;
  }): Promise<FilePositionStore> {
    const filePath = path.join(options.dir, FILE);
    const positions = parsePositions(
      await readFile(filePath, 'utf8').catch((err: NodeJS.ErrnoException) =>
        err.code === 'ENOENT' ? '' : Promise.reject(err),
      ),
    );
    const compacted = [...positions].map(([url, seq]) => `${JSON.stringify({ url, seq })}\n`).join('');
    const temporary = `${filePath}.new`;
    await writeFile(temporary, compacted, { flush: true });
    await rename(temporary, filePath);
    const file = await DurableFile.open(filePath, Buffer.byteLength(compacted), options);
    return new FilePositionStore(positions, file);
  }

  load(url: string): Promise<number> {
    return Promise.resolve(this.stored(url));
  }

  save(url: string, seq: number): Promise<void> {
    if (seq <= this.stored(url)) return Promise.resolve();
    return this.saves.add({ url, seq });
  }

  async close(): Promise<void> {
    await this.saves.settled();
    await this.file.close();
  }

  private async write(saves: { url: string; seq: number }[]): Promise<void[]> {
    await this.file.append(Buffer.from(saves.map((save) => `${JSON.stringify(save)}\n`).join('')));
    for (const { url, seq } of saves) this.positions.set(url, Math.max(this.stored(url), seq));
    return saves.map(() => undefined);
  }

  private stored(url: string): number {
    return this.positions.get(url) ?? 0;
  }
}

/** The highest seq of each subscriber in the file's whole lines; anything else is passed over. */
function parsePositions(text: string): Map<string, number> {
  const positions = new Map<string, number>();
  for (const line of text.split('\n')) {
    try {
      const { url, seq } = JSON.parse(line) as { url?: unknown; seq?: unknown };
      if (
        typeof url === 'string' &&
        typeof seq === 'number' &&
        Number.isSafeInteger(seq) &&
        seq > (positions.get(url) ?? 0)
      )
        positions.set(url, seq);
    } catch {
      // a torn last line, or an empty one
    }
  }
  return positions;
}
