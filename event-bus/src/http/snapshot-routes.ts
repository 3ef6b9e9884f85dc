import { HttpError, type Logger } from '@blog/common';
import { Router, type Request } from 'express';
import { pipeline } from 'node:stream/promises';
import {
  SCHEMA_LABEL,
  SNAPSHOT_NAME,
  type SnapshotArchive,
  type SnapshotInfo,
  type SnapshotKey,
} from '../snapshots/snapshot-archive';
import type { SnapshotClaims } from '../snapshots/snapshot-claims';

export interface SnapshotRoutesDeps {
  archive: SnapshotArchive;
  claims: SnapshotClaims;
  /** The largest snapshot taken (SNAPSHOT_MAX_BYTES). */
  maxBytes: number;
  /** The seq of the log's newest event: no snapshot can hold more. */
  logEnd: () => Promise<number>;
  logger: Logger;
}

/**
 * The services' snapshots, behind the events token like `/events`:
 * - `GET /snapshots/:service/:schema`: the newest one's `{service, schema, seq, bytes, sha256}`, or 404;
 * - `GET /snapshots/:service/:schema/:seq`: its bytes;
 * - `POST /snapshots/:service/:schema/claims` `{seq}`: the right to make the next one (201 `{claim}`), 409
 *   while another replica holds it or when one as new is kept already;
 * - `PUT /snapshots/:service/:schema/:seq` with `Snapshot-Claim` and `Snapshot-Sha256`: stores it (201);
 * - `DELETE /snapshots/:service/:schema/claims/:claim`: gives a claim up.
 * A fault of the store behind them (the NATS cluster, the disk) is a 503 naming it: try again later.
 */
export function snapshotRoutes({ archive, claims, maxBytes, logEnd, logger }: SnapshotRoutesDeps): Router {
  const router = Router();

  router.get('/snapshots/:service/:schema', async (req, res) => {
    const { service, schema } = whose(req);
    const newest = await fromStore('reading the newest snapshot', archive.newest(service, schema));
    if (!newest) throw new HttpError(404, `no snapshot of ${schema} is kept`, { code: 'no_snapshot' });
    res.json(newest);
  });

  router.get('/snapshots/:service/:schema/:seq', async (req, res) => {
    const key = keyOf(req);
    const body = await fromStore('reading a snapshot', archive.read(key));
    if (!body)
      throw new HttpError(404, `no snapshot of ${key.schema} at seq ${key.seq} is kept`, { code: 'no_snapshot' });
    res.type('application/vnd.sqlite3');
    await pipeline(body, res);
  });

  router.post('/snapshots/:service/:schema/claims', async (req, res) => {
    const { service, schema } = whose(req);
    const seq = wholeNumber(
      (req.body as { seq?: unknown } | undefined)?.seq,
      'body must be {"seq": <the seq the snapshot will hold>}',
    );
    await refuseUnlessNewer({ service, schema, seq });
    const claim = await fromStore('claiming the next snapshot', claims.claim(service, schema));
    if (claim === undefined) throw new HttpError(409, `another replica is making a snapshot of ${schema}`);
    res.status(201).json({ claim, ttlMs: claims.ttlMs });
  });

  router.delete('/snapshots/:service/:schema/claims/:claim', async (req, res) => {
    const { service, schema } = whose(req);
    await fromStore('giving a claim up', claims.release(service, schema, String(req.params.claim)));
    res.status(204).end();
  });

  router.put('/snapshots/:service/:schema/:seq', async (req, res) => {
    const key = keyOf(req);
    const claim = req.get('snapshot-claim');
    if (
      claim === undefined ||
      !(await fromStore('checking the snapshot claim', claims.holds(key.service, key.schema, claim)))
    ) {
      throw new HttpError(
        409,
        `Snapshot-Claim must name this replica's live claim (POST /snapshots/${key.service}/${key.schema}/claims)`,
      );
    }
    // Whatever the outcome, the claim is given up: the replica may try again at once.
    let stored: SnapshotInfo;
    try {
      const sha256 = req.get('snapshot-sha256')?.toLowerCase();
      if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256))
        throw new HttpError(400, 'Snapshot-Sha256 must be the hex SHA-256 of the body');
      const length = req.get('content-length');
      if (length === undefined || !/^\d{1,15}$/.test(length))
        throw new HttpError(411, 'a snapshot is sent with its Content-Length');
      if (Number(length) > maxBytes)
        throw new HttpError(413, `snapshot is larger than SNAPSHOT_MAX_BYTES (${maxBytes} bytes)`);
      await refuseUnlessNewer(key);
      const info = await archive.write(key, sha256, req).catch((err: unknown) => {
        if (err instanceof HttpError || !brokeOff(req)) throw err;
        logger.warn(
          { ...key, contentLength: Number(length) },
          'snapshot upload broke off before its whole body came; nothing of it kept',
        );
        throw new HttpError(
          400,
          `the snapshot's body broke off before its ${length} bytes came; nothing of it was kept`,
        );
      });
      logger.info({ ...info }, 'snapshot stored');
      stored = info;
    } catch (err) {
      throw err instanceof HttpError ? err : unavailable('storing the snapshot', err);
    } finally {
      // Given up before the answer, so that the service may claim the next one at once. A claim that cannot
      // be given up now lapses after its time to live.
      await claims
        .release(key.service, key.schema, claim)
        .catch((err: unknown) =>
          logger.warn(
            { ...key, reason: reasonOf(err) },
            'could not give the snapshot claim up; it lapses after its time to live',
          ),
        );
    }
    res.status(201).json(stored);
  });

  async function refuseUnlessNewer(key: SnapshotKey): Promise<void> {
    const end = await logEnd();
    if (key.seq > end)
      throw new HttpError(400, `seq ${key.seq} is past the end of the event log (${end}): no state can hold it`);
    const newest = await fromStore('reading the newest snapshot', archive.newest(key.service, key.schema));
    if (newest && newest.seq >= key.seq)
      throw new HttpError(409, `a snapshot of ${key.schema} at seq ${newest.seq} is kept already`);
  }

  return router;
}

/** What the store answered, or a 503 naming the fault when it failed (a refusal it meant, an HttpError, as it is). */
async function fromStore<T>(what: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw err instanceof HttpError ? err : unavailable(what, err);
  }
}

function unavailable(what: string, err: unknown): HttpError {
  return new HttpError(503, `${what}: the snapshot store is unavailable (${reasonOf(err)}); try again later`, {
    code: 'unavailable',
    retryAfterSeconds: 5,
  });
}

/** The sender went away (or its connection broke) before its whole body came: Node ends the request with ECONNRESET. */
function brokeOff(req: Request): boolean {
  const error: NodeJS.ErrnoException | null = req.errored;
  return !req.complete && error?.code === 'ECONNRESET';
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function whose(req: Request): { service: string; schema: string } {
  const service = String(req.params.service);
  const schema = String(req.params.schema);
  if (!SNAPSHOT_NAME.test(service)) throw new HttpError(400, 'service must be a lowercase name such as query');
  if (!SCHEMA_LABEL.test(schema) || !schema.startsWith(`${service}@`))
    throw new HttpError(400, `schema must be ${service}@<version>`);
  return { service, schema };
}

function keyOf(req: Request): SnapshotKey {
  return { ...whose(req), seq: wholeNumber(req.params.seq, 'seq must be a positive whole number') };
}

function wholeNumber(value: unknown, error: string): number {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^[1-9]\d{0,14}$/.test(text)) throw new HttpError(400, error);
  return Number(text);
}
