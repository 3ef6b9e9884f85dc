import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  SNAPSHOTS_KEPT,
  type SnapshotArchive,
  type SnapshotInfo,
  type SnapshotKey,
} from '../snapshots/snapshot-archive';
import { SnapshotDigest } from '../snapshots/snapshot-digest';
import { syncToDisk } from './durable-file';

/**
 * Snapshots as files in a folder (beside the file log): `<service>/<schema>/<seq>.sqlite` and its
 * `<seq>.json`, which is written last: a snapshot without one (a crash while it was written) is never
 * listed, and is deleted by the next write.
 */
export class FileSnapshotArchive implements SnapshotArchive {
  constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
  ) {}

  async newest(service: string, schema: string): Promise<SnapshotInfo | undefined> {
    const [seq] = await this.seqs(service, schema);
    if (seq === undefined) return undefined;
    return JSON.parse(await readFile(this.file({ service, schema, seq }, '.json'), 'utf8')) as SnapshotInfo;
  }

  async read(key: SnapshotKey): Promise<Readable | undefined> {
    try {
      await stat(this.file(key, '.json'));
      return await new Promise<Readable>((resolve, reject) => {
        const stream = createReadStream(this.file(key, '.sqlite'));
        stream.once('open', () => resolve(stream));
        stream.once('error', reject);
      });
    } catch {
      return undefined;
    }
  }

  async write(key: SnapshotKey, sha256: string, body: Readable): Promise<SnapshotInfo> {
    const folder = path.dirname(this.file(key, '.json'));
    await mkdir(folder, { recursive: true });
    const partial = path.join(folder, `${key.seq}.${randomUUID()}.partial`);
    const digest = new SnapshotDigest(this.maxBytes);
    try {
      await pipeline(
        body,
        (source: AsyncIterable<Buffer>) => digest.pass(source),
        createWriteStream(partial, { flags: 'wx' }),
      );
      digest.check(sha256);
      await syncToDisk(partial);
      await rename(partial, this.file(key, '.sqlite'));
      const info: SnapshotInfo = { ...key, bytes: digest.bytes, sha256 };
      const listing = `${partial}.json`;
      await writeDurably(listing, JSON.stringify(info));
      await rename(listing, this.file(key, '.json'));
      await syncToDisk(folder);
      await this.prune(key.service, key.schema);
      return info;
    } finally {
      await rm(partial, { force: true });
      await rm(`${partial}.json`, { force: true });
    }
  }

  /** Seqs of the listed snapshots of a service's schema, newest first. */
  private async seqs(service: string, schema: string): Promise<number[]> {
    const names = await readdir(path.join(this.dir, service, schema)).catch(() => [] as string[]);
    return names
      .map((name) => /^(\d{1,15})\.json$/.exec(name)?.[1])
      .filter((seq): seq is string => seq !== undefined)
      .map(Number)
      .sort((a, b) => b - a);
  }

  /** Deletes all but the newest few, and what a crash left half-written. */
  private async prune(service: string, schema: string): Promise<void> {
    const keep = new Set((await this.seqs(service, schema)).slice(0, SNAPSHOTS_KEPT));
    const folder = path.join(this.dir, service, schema);
    for (const name of await readdir(folder)) {
      const seq = /^(\d{1,15})\.(json|sqlite)$/.exec(name)?.[1];
      if (seq !== undefined && keep.has(Number(seq))) continue;
      // A partial file of an upload still under way is its writer's to delete.
      if (name.endsWith('.partial') || name.endsWith('.partial.json')) continue;
      await rm(path.join(folder, name), { force: true });
    }
  }

  private file({ service, schema, seq }: SnapshotKey, extension: '.json' | '.sqlite'): string {
    return path.join(this.dir, service, schema, `${seq}${extension}`);
  }
}

async function writeDurably(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
