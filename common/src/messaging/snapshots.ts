/**
 * Snapshots of a service's state, kept by the bus: a fresh replica starts from the newest one plus the
 * events after it instead of from the first event, and one replica at a time makes the next one in the
 * background (import from '@blog/common/state').
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { answerCode, errorCodeOf } from '../contracts/error-codes';
import { sendHttp, streamHttp, type HttpCall, type HttpReply } from '../service/http-client';
import type { Logger } from '../service/logger';
import { eventsHeaders } from './events-token';

/** A snapshot the bus keeps: whose state (`schema`, e.g. "query@1"), up to which seq, and its bytes' SHA-256. */
export interface SnapshotInfo {
  service: string;
  schema: string;
  seq: number;
  bytes: number;
  sha256: string;
}

/** Where snapshots are kept, as a service sees it. */
export interface SnapshotStore {
  /** The newest snapshot of a schema, or undefined when there is none (or the bus keeps none). */
  newest(schema: string): Promise<SnapshotInfo | undefined>;
  /** Downloads it to `file`; rejects unless the bytes are the ones its SHA-256 names. */
  download(info: SnapshotInfo, file: string): Promise<void>;
  /** The right to make the next snapshot, or undefined while another replica holds it (or one as new is kept). */
  claim(schema: string, seq: number): Promise<string | undefined>;
  upload(schema: string, seq: number, claim: string, file: string): Promise<void>;
  release(schema: string, claim: string): Promise<void>;
}

/** A bus that keeps no snapshots (an older one, or another implementation): the service replays instead. */
export class SnapshotsUnsupportedError extends Error {
  override name = 'SnapshotsUnsupportedError';
}

/** How long a snapshot request may go without progress. */
const SNAPSHOT_REQUEST_TIMEOUT_MS = 60_000;

/** The bus's `/snapshots` routes, tried on each of its URLs in turn (Node's own HTTP client, as everywhere). */
export class BusSnapshots implements SnapshotStore {
  constructor(
    private readonly options: { busUrls: readonly string[]; eventsToken: string | undefined; service: string },
  ) {}

  async newest(schema: string): Promise<SnapshotInfo | undefined> {
    const reply = await this.call(`/snapshots/${this.options.service}/${schema}`, {});
    if (reply.status === 404) {
      // Our bus says no_snapshot; any other 404 is a bus without the routes. A bus older than the codes
      // (during an update) said it in words only.
      const body = parseJson(reply.text);
      const code = errorCodeOf(body);
      if (code === 'no_snapshot' || (code === undefined && errorOf(body).startsWith('no snapshot'))) return undefined;
      throw new SnapshotsUnsupportedError('the event bus keeps no snapshots');
    }
    expectOk(reply.status, reply.text, 'reading the newest snapshot');
    return JSON.parse(reply.text) as SnapshotInfo;
  }

  async download(info: SnapshotInfo, file: string): Promise<void> {
    const response = await this.stream(`/snapshots/${info.service}/${info.schema}/${info.seq}`, { method: 'GET' });
    if (response.statusCode !== 200) {
      response.resume();
      throw new Error(`downloading a snapshot: the event bus answered ${response.statusCode}`);
    }
    const hash = createHash('sha256');
    let bytes = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(response, counted, createWriteStream(file));
    const sha256 = hash.digest('hex');
    if (bytes !== info.bytes || sha256 !== info.sha256)
      throw new Error(`the snapshot's bytes do not match it (${bytes} bytes, sha256 ${sha256})`);
  }

  async claim(schema: string, seq: number): Promise<string | undefined> {
    const reply = await this.call(`/snapshots/${this.options.service}/${schema}/claims`, {
      method: 'POST',
      json: JSON.stringify({ seq }),
    });
    const code = reply.status >= 400 ? answerCode(reply.status, parseJson(reply.text)) : undefined;
    // Another replica holds the claim, or a snapshot as new is kept already: none is needed from this one.
    if (code === 'conflict') return undefined;
    if (code === 'not_found') throw new SnapshotsUnsupportedError('the event bus keeps no snapshots');
    expectOk(reply.status, reply.text, 'claiming the next snapshot');
    return (JSON.parse(reply.text) as { claim: string }).claim;
  }

  async upload(schema: string, seq: number, claim: string, file: string): Promise<void> {
    const sha256 = await sha256Of(file);
    const { size } = await stat(file);
    const response = await this.stream(`/snapshots/${this.options.service}/${schema}/${seq}`, {
      method: 'PUT',
      headers: {
        'content-type': 'application/vnd.sqlite3',
        'content-length': String(size),
        'snapshot-claim': claim,
        'snapshot-sha256': sha256,
      },
      body: () => createReadStream(file),
    });
    let text = '';
    for await (const chunk of response) text += String(chunk);
    expectOk(response.statusCode ?? 0, text, 'storing a snapshot');
  }

  async release(schema: string, claim: string): Promise<void> {
    await this.call(`/snapshots/${this.options.service}/${schema}/claims/${encodeURIComponent(claim)}`, {
      method: 'DELETE',
    });
  }

  private get headers(): Record<string, string> {
    return eventsHeaders(this.options.eventsToken);
  }

  /** A small request to the first bus URL that answers. */
  private async call(path: string, call: Omit<HttpCall, 'timeoutMs'>): Promise<HttpReply> {
    return this.firstAnswering((url) =>
      sendHttp(`${url}${path}`, {
        ...call,
        headers: { ...this.headers, ...call.headers },
        timeoutMs: SNAPSHOT_REQUEST_TIMEOUT_MS,
      }),
    );
  }

  /** A request with a streamed body or answer, to the first bus URL that answers. */
  private stream(
    path: string,
    { method, headers = {}, body }: { method: 'GET' | 'PUT'; headers?: Record<string, string>; body?: () => Readable },
  ): Promise<IncomingMessage> {
    return this.firstAnswering((url) =>
      streamHttp(`${url}${path}`, {
        method,
        headers: { ...this.headers, ...headers },
        body: body?.(),
        timeoutMs: SNAPSHOT_REQUEST_TIMEOUT_MS,
      }),
    );
  }

  private async firstAnswering<T>(send: (url: string) => Promise<T>): Promise<T> {
    let failure: unknown = new Error('no event bus URL is configured');
    for (const url of this.options.busUrls) {
      try {
        return await send(url);
      } catch (err) {
        failure = err;
      }
    }
    throw failure;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorOf(body: unknown): string {
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  return typeof error === 'string' ? error : '';
}

function expectOk(status: number, text: string, what: string): void {
  if (status >= 200 && status < 300) return;
  throw new Error(`${what}: the event bus answered ${status} ${text.slice(0, 200)}`);
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** What a downloaded snapshot file says of itself: its schema label and seq, or why it cannot be used. */
export function describeSnapshotFile(file: string): { schema: string; seq: number; eventId: string | undefined } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const meta = db
      .prepare<[], { schema: string; seq: number; event_id: string | null }>(
        'SELECT schema, seq, event_id FROM state_meta',
      )
      .get();
    if (!meta) throw new Error('the snapshot holds no position');
    return { schema: meta.schema, seq: meta.seq, eventId: meta.event_id ?? undefined };
  } finally {
    db.close();
  }
}

/** A file name beside `file` for a snapshot on its way in or out. */
export function snapshotScratchFile(file: string, purpose: 'download' | 'upload'): string {
  return path.join(path.dirname(file), `${purpose}-${randomUUID()}.sqlite`);
}

/**
 * Deletes a database file with its write-ahead log, shared memory and journal; the log first: left beside
 * a new file of that name, SQLite would replay it into that file.
 */
export function removeDatabase(file: string): void {
  for (const suffix of ['-wal', '-shm', '-journal', '']) rmSync(`${file}${suffix}`, { force: true });
}

export interface SnapshotterOptions {
  /** The state to copy: its database and its position. */
  db: Database.Database;
  position: () => number;
  schema: string;
  store: SnapshotStore;
  /** A new snapshot once the state is this many events past the newest one kept. */
  everyEvents: number;
  /** Where the copy is made before it is sent (the state's own folder). */
  dir: string;
  logger: Logger;
  /** How often to look whether a snapshot is due. */
  checkEveryMs?: number;
}

/**
 * Makes a snapshot in the background once the state is `everyEvents` past the newest one the bus keeps:
 * claims the right to (one replica at a time), copies the database with SQLite's online backup (the
 * service goes on applying events meanwhile), and sends the copy with its SHA-256.
 */
export class Snapshotter {
  private timer: NodeJS.Timeout | undefined;
  private making: Promise<void> | undefined;
  private newestKnown = 0;
  private unsupported = false;
  /** After a failure, the next attempt waits (30 s, doubling up to 10 minutes): a backup is not cheap. */
  private failures = 0;
  private notBefore = 0;

  constructor(private readonly options: SnapshotterOptions) {}

  start(): void {
    this.timer ??= setInterval(() => void this.makeIfDue(), this.options.checkEveryMs ?? 1_000).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.making;
  }

  /** Makes one when due and no other is being made here; resolves when done (or not needed). */
  makeIfDue(): Promise<void> {
    if (this.unsupported || this.making) return this.making ?? Promise.resolve();
    if (Date.now() < this.notBefore) return Promise.resolve();
    if (this.options.position() - this.newestKnown < this.options.everyEvents) return Promise.resolve();
    this.making = this.make()
      .catch((err: unknown) => {
        if (err instanceof SnapshotsUnsupportedError) {
          this.unsupported = true;
          this.options.logger.info('the event bus keeps no snapshots: none are made');
        } else {
          const waitMs = Math.min(10 * 60_000, 30_000 * 2 ** this.failures++);
          this.notBefore = Date.now() + waitMs;
          this.options.logger.warn(
            { reason: err instanceof Error ? err.message : String(err), retryInMs: waitMs },
            'making a snapshot failed; will try again',
          );
        }
      })
      .finally(() => {
        this.making = undefined;
      });
    return this.making;
  }

  private async make(): Promise<void> {
    const { store, schema, logger } = this.options;
    const newest = await store.newest(schema);
    this.newestKnown = newest?.seq ?? 0;
    const seq = this.options.position();
    if (seq - this.newestKnown < this.options.everyEvents) return;
    const claim = await store.claim(schema, seq);
    if (claim === undefined) return;
    logger.info({ seq, schema }, 'claimed the next snapshot; copying the state');
    const copy = path.join(this.options.dir, `upload-${randomUUID()}.sqlite`);
    let sent = false;
    try {
      await this.options.db.backup(copy);
      const made = describeSnapshotFile(copy);
      logger.info(
        { seq: made.seq, schema, bytes: (await stat(copy)).size },
        'state copied; sending the snapshot to the event bus',
      );
      await store.upload(schema, made.seq, claim, copy);
      sent = true;
      this.failures = 0;
      this.newestKnown = made.seq;
      logger.info({ seq: made.seq, schema }, 'snapshot made and stored by the event bus');
    } finally {
      removeDatabase(copy);
      if (!sent) await store.release(schema, claim).catch(() => undefined);
    }
  }
}
