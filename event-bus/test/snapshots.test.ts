import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { silentLogger } from '@blog/common';
import request from 'supertest';
import { createApp } from '../src/app';
import { FileSnapshotArchive } from '../src/file-storage/file-snapshot-archive';
import { MemorySnapshotClaims } from '../src/file-storage/memory-snapshot-claims';
import type { SnapshotArchive } from '../src/snapshots/snapshot-archive';
import type { SnapshotClaims } from '../src/snapshots/snapshot-claims';
import { MemoryEventLog } from '../src/testing';
import { describeSnapshotArchiveContract } from './snapshot-archive-contract';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describeSnapshotArchiveContract('FileSnapshotArchive', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bus-snapshot-archive-'));
  dirs.push(dir);
  return { archive: new FileSnapshotArchive(dir, 1 << 30), claims: new MemorySnapshotClaims() };
});

describe('FileSnapshotArchive', () => {
  it('leaves no file behind of an upload that broke off', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bus-snapshot-archive-'));
    dirs.push(dir);
    const archive = new FileSnapshotArchive(dir, 1 << 30);
    const broken = new Readable({
      read() {
        this.destroy(new Error('connection reset'));
      },
    });
    await expect(
      archive.write({ service: 'query', schema: 'query@1', seq: 3 }, '0'.repeat(64), broken),
    ).rejects.toThrow('connection reset');
    expect(readdirSync(path.join(dir, 'query', 'query@1'))).toEqual([]);
  });

  it('refuses a snapshot larger than its limit with 413', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bus-snapshot-archive-'));
    dirs.push(dir);
    const archive = new FileSnapshotArchive(dir, 10);
    await expect(
      archive.write({ service: 'query', schema: 'query@1', seq: 3 }, '0'.repeat(64), Readable.from([Buffer.alloc(11)])),
    ).rejects.toMatchObject({ status: 413 });
    expect(await archive.newest('query', 'query@1')).toBeUndefined();
  });
});

describe('the /snapshots routes when the store behind them fails', () => {
  const TOKEN = 'snapshot-faults-token-0123456789';
  const fault = () => Promise.reject(new Error('nats: timeout'));
  const failing: SnapshotClaims = { ttlMs: 1_000, claim: fault, holds: fault, release: fault };
  const appWith = async (archive: SnapshotArchive, claims: SnapshotClaims) => {
    // One event: a snapshot at seq 1 is not past the end of the log.
    const log = new MemoryEventLog();
    await log.append({ id: 'e1', type: 'PostCreated', data: { id: 'p1', title: 't' }, time: new Date().toISOString() });
    return createApp({
      log,
      subscribers: { statuses: () => Promise.resolve([]) },
      logger: silentLogger(),
      eventsToken: TOKEN,
      snapshots: { archive, claims, maxBytes: 1 << 20 },
    });
  };
  const folder = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bus-snapshot-archive-'));
    dirs.push(dir);
    return new FileSnapshotArchive(dir, 1 << 20);
  };

  it('answers a claim the claims store cannot give with 503 naming the fault, never 409', async () => {
    const res = await request(await appWith(folder(), failing))
      .post('/snapshots/query/query@1/claims')
      .set('authorization', `Bearer ${TOKEN}`)
      .send({ seq: 1 });
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).toEqual({
      error: 'claiming the next snapshot: the snapshot store is unavailable (nats: timeout); try again later',
      code: 'unavailable',
    });
  });

  it('answers a newest snapshot the archive cannot read with 503 naming the fault', async () => {
    const archive: SnapshotArchive = { newest: fault, read: fault, write: fault };
    const res = await request(await appWith(archive, new MemorySnapshotClaims()))
      .get('/snapshots/query/query@1')
      .set('authorization', `Bearer ${TOKEN}`);
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      error: 'reading the newest snapshot: the snapshot store is unavailable (nats: timeout); try again later',
      code: 'unavailable',
    });
  });

  it('answers an upload with its own refusal even when its claim cannot be given up after it', async () => {
    const claims = new MemorySnapshotClaims();
    const releasing: SnapshotClaims = {
      ttlMs: claims.ttlMs,
      claim: (...a) => claims.claim(...a),
      holds: (...a) => claims.holds(...a),
      release: fault,
    };
    const app = await appWith(folder(), releasing);
    const claim = await request(app)
      .post('/snapshots/query/query@1/claims')
      .set('authorization', `Bearer ${TOKEN}`)
      .send({ seq: 1 });
    expect(claim.status).toBe(201);
    expect(claim.body).toEqual({ claim: expect.any(String), ttlMs: claims.ttlMs });
    const res = await request(app)
      .put('/snapshots/query/query@1/1')
      .set('authorization', `Bearer ${TOKEN}`)
      .set('content-type', 'application/vnd.sqlite3')
      .set('snapshot-claim', (claim.body as { claim: string }).claim)
      .set('snapshot-sha256', 'not-a-sha')
      .send(Buffer.from('x'));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'Snapshot-Sha256 must be the hex SHA-256 of the body', code: 'invalid_request' });
  });
});
