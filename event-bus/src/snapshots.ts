/**
 * Snapshots of the services' states, kept by the bus for a fresh replica to start from (a snapshot plus
 * the events after it) instead of the first event. The bus only stores and serves them: each service
 * makes its own, from its own state.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HttpError } from '@blog/common';
import { syncToDisk } from './durable-file';

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

/**
 * Who may make the next snapshot of a service: one replica at a time. A claim lapses after its time to
 * live, so a replica that died while making one does not block the others for ever.
 */
export interface SnapshotClaims {
  /** How long a claim lasts. */
  readonly ttlMs: number;
  /** A new claim's token, or undefined while another replica's claim is alive. */
  claim(service: string, schema: string): Promise<string | undefined>;
  /** Whether `token` is the live claim of the service's schema. */
  holds(service: string, schema: string, token: string): Promise<boolean>;
  release(service: string, schema: string, token: string): Promise<void>;
}

export const SNAPSHOT_NAME = /^[a-z][a-z0-9-]{0,31}$/;
export const SCHEMA_LABEL = /^[a-z][a-z0-9-]{0,31}@\d{1,6}$/;
/** How many snapshots of a service's schema are kept: the newest, and the one before while it may be read. */
export const SNAPSHOTS_KEPT = 2;
/** How long a claim to make a snapshot lasts by default (SNAPSHOT_CLAIM_TTL_MS): longer than making and sending one takes. */
export const CLAIM_TTL_MS = 10 * 60_000;

/** The bytes of a body as they pass, their count and SHA-256; refuses a body past `maxBytes`. */
export class SnapshotDigest {
  private readonly hash = createHash('sha256');
  bytes = 0;

  constructor(private readonly maxBytes: number) {}

  async *pass(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of body) {
      this.bytes += chunk.length;
      if (this.bytes > this.maxBytes) throw new HttpError(413, `snapshot is larger than SNAPSHOT_MAX_BYTES (${this.maxBytes} bytes)`);
      this.hash.update(chunk);
      yield chunk;
    }
  }

  /** Throws a 400 unless the bytes that passed are the ones `sha256` names. */
  check(sha256: string): void {
    const actual = this.hash.digest('hex');
    if (actual !== sha256) throw new HttpError(400, `snapshot does not match its snapshot-sha256 header (got ${actual})`);
  }
}

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
      await pipeline(body, (source: AsyncIterable<Buffer>) => digest.pass(source), createWriteStream(partial, { flags: 'wx' }));
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

/** Claims held in this process: enough for the one bus of the file log. */
export class MemorySnapshotClaims implements SnapshotClaims {
  private readonly live = new Map<string, { token: string; until: number }>();

  constructor(readonly ttlMs = CLAIM_TTL_MS) {}

  async claim(service: string, schema: string): Promise<string | undefined> {
    const key = `${service}/${schema}`;
    const held = this.live.get(key);
    if (held && held.until > Date.now()) return undefined;
    const token = randomUUID();
    this.live.set(key, { token, until: Date.now() + this.ttlMs });
    return token;
  }

  async holds(service: string, schema: string, token: string): Promise<boolean> {
    const held = this.live.get(`${service}/${schema}`);
    return held !== undefined && held.token === token && held.until > Date.now();
  }

  async release(service: string, schema: string, token: string): Promise<void> {
    if (await this.holds(service, schema, token)) this.live.delete(`${service}/${schema}`);
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
