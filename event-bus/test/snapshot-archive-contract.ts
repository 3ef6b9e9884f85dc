/**
 * What every place the bus keeps snapshots in must do, through the bus's `/snapshots` routes and the
 * client the services use (BusSnapshots): the file archive here, the JetStream object store in
 * test/cluster.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { listen, silentLogger } from '@blog/common';
import { BusSnapshots } from '@blog/common/state';
import { waitFor } from '@blog/testkit';
import request from 'supertest';
import { createApp } from '../src/app';
import { SNAPSHOTS_KEPT, type SnapshotArchive } from '../src/snapshots/snapshot-archive';
import type { SnapshotClaims } from '../src/snapshots/snapshot-claims';
import { MemoryEventLog } from '../src/testing';

export interface SnapshotPlace {
  archive: SnapshotArchive;
  claims: SnapshotClaims;
}

const TOKEN = 'snapshot-contract-token-0123456789';
const MAX_BYTES = 1 << 20;

export function describeSnapshotArchiveContract(name: string, open: () => Promise<SnapshotPlace>): void {
  describe(`${name}: the services' snapshots`, () => {
    let dir: string;
    let server: Server | undefined;
    let place: SnapshotPlace;
    let app: ReturnType<typeof createApp>;
    let bus: BusSnapshots;
    let busUrl: string;

    beforeEach(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'bus-snapshots-'));
      place = await open();
      const none = { statuses: () => Promise.resolve([]) };
      // A log of 40 events: no snapshot may hold more.
      const log = new MemoryEventLog();
      for (let i = 0; i < 40; i++)
        await log.append({
          id: `e${i}`,
          type: 'PostCreated',
          data: { id: `p${i}`, title: 't' },
          time: new Date().toISOString(),
        });
      app = createApp({
        log,
        subscribers: none,
        logger: silentLogger(),
        eventsToken: TOKEN,
        snapshots: { ...place, maxBytes: MAX_BYTES },
      });
      const listening = await listen(app, 0, '127.0.0.1');
      server = listening.server;
      busUrl = `http://127.0.0.1:${listening.port}`;
      bus = new BusSnapshots({ busUrls: [busUrl], eventsToken: TOKEN, service: 'query' });
    });
    afterEach(async () => {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      rmSync(dir, { recursive: true, force: true });
    });

    /** A file of `size` bytes of the given fill, as a snapshot would be. */
    const fileOf = (label: string, size = 200_000) => {
      const file = path.join(dir, `${label}.sqlite`);
      writeFileSync(file, Buffer.alloc(size, label));
      return file;
    };

    it('stores a snapshot sent under a claim, lists it as the newest and serves its bytes', async () => {
      expect(await bus.newest('query@1')).toBeUndefined();
      const claim = await bus.claim('query@1', 10);
      expect(claim).toEqual(expect.any(String));
      const file = fileOf('a');
      await bus.upload('query@1', 10, claim as string, file);
      const newest = await bus.newest('query@1');
      expect(newest).toEqual({
        service: 'query',
        schema: 'query@1',
        seq: 10,
        bytes: 200_000,
        sha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
      });
      const copy = path.join(dir, 'copy');
      await bus.download(newest!, copy);
      expect(readFileSync(copy).equals(readFileSync(file))).toBe(true);
      // Another schema version sees none of it.
      expect(await bus.newest('query@2')).toBeUndefined();
    });

    it('lets one replica at a time make the next snapshot, and none older than the one kept', async () => {
      const first = await bus.claim('query@1', 10);
      expect(first).toBeDefined();
      expect(await bus.claim('query@1', 11)).toBeUndefined();
      await bus.upload('query@1', 10, first as string, fileOf('a'));
      expect(await bus.claim('query@1', 10)).toBeUndefined();
      const next = await bus.claim('query@1', 20);
      expect(next).toBeDefined();
      await bus.release('query@1', next as string);
      expect(await bus.claim('query@1', 20)).toBeDefined();
    });

    it('refuses a snapshot without a live claim, or whose bytes are not the ones it names, and keeps nothing of it', async () => {
      const noClaim = await request(app)
        .put('/snapshots/query/query@1/5')
        .set('authorization', `Bearer ${TOKEN}`)
        .set('snapshot-claim', 'made-up')
        .set('snapshot-sha256', '0'.repeat(64))
        .send(Buffer.from('x'));
      expect(noClaim.status).toBe(409);
      expect(noClaim.body).toEqual({ error: expect.stringMatching(/Snapshot-Claim must name/), code: 'conflict' });
      const claim = await bus.claim('query@1', 5);
      const wrong = await request(app)
        .put('/snapshots/query/query@1/5')
        .set('authorization', `Bearer ${TOKEN}`)
        .set('content-type', 'application/vnd.sqlite3')
        .set('snapshot-claim', claim as string)
        .set('snapshot-sha256', createHash('sha256').update('other bytes').digest('hex'))
        .send(Buffer.from('these bytes'));
      expect(wrong.status).toBe(400);
      expect(wrong.body).toEqual({ error: expect.stringMatching(/does not match/), code: 'invalid_request' });
      expect(await bus.newest('query@1')).toBeUndefined();
    });

    it('refuses a snapshot past the end of the log (400), and one larger than SNAPSHOT_MAX_BYTES (413) before reading it', async () => {
      const past = await request(app)
        .post('/snapshots/query/query@1/claims')
        .set('authorization', `Bearer ${TOKEN}`)
        .send({ seq: 41 });
      expect(past.status).toBe(400);
      expect((past.body as { error: string }).error).toMatch(/past the end of the event log \(40\)/);
      const claim = (await bus.claim('query@1', 40)) as string;
      const large = await request(app)
        .put('/snapshots/query/query@1/40')
        .set('authorization', `Bearer ${TOKEN}`)
        .set('content-type', 'application/vnd.sqlite3')
        .set('snapshot-claim', claim)
        .set('snapshot-sha256', '0'.repeat(64))
        .send(Buffer.alloc(MAX_BYTES + 1));
      expect(large.status).toBe(413);
      expect(large.body).toEqual({ error: expect.stringMatching(/SNAPSHOT_MAX_BYTES/), code: 'payload_too_large' });
      expect(await bus.newest('query@1')).toBeUndefined();
      // A refused upload gives its claim up: the next may begin at once.
      expect(await bus.claim('query@1', 40)).toBeDefined();
    });

    it('never lists a snapshot whose upload broke off half-way', async () => {
      const claim = (await bus.claim('query@1', 7)) as string;
      const broken = new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 'h'));
          this.destroy(new Error('connection reset'));
        },
      });
      await expect(
        place.archive.write({ service: 'query', schema: 'query@1', seq: 7 }, '0'.repeat(64), broken),
      ).rejects.toThrow();
      expect(await bus.newest('query@1')).toBeUndefined();
      await bus.release('query@1', claim);
    });

    it('keeps nothing of an upload whose sender went away half-way, and gives its claim up', async () => {
      const claim = (await bus.claim('query@1', 12)) as string;
      const size = 4 << 20;
      await new Promise<void>((resolve) => {
        const put = httpRequest(`${busUrl}/snapshots/query/query@1/12`, {
          method: 'PUT',
          headers: {
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/vnd.sqlite3',
            'content-length': String(size),
            'snapshot-claim': claim,
            'snapshot-sha256': '0'.repeat(64),
          },
        });
        put.on('error', () => resolve());
        // A quarter of the body, then the connection is gone, as when the sender is killed.
        put.write(Buffer.alloc(size / 4, 'p'), () => {
          put.destroy();
          resolve();
        });
      });
      // The bus notices the broken body on its own time: the claim comes free once it has.
      await waitFor(() => bus.claim('query@1', 12), { what: 'the claim given up after the broken upload' });
      expect(await bus.newest('query@1')).toBeUndefined();
      expect(await place.archive.read({ service: 'query', schema: 'query@1', seq: 12 })).toBeUndefined();
    });

    it('keeps the newer snapshot as the newest when an older one is stored after it', async () => {
      const key = (seq: number) => ({ service: 'query', schema: 'query@1', seq });
      const bytes = (seq: number) => Buffer.alloc(1_000, `s${seq}`);
      const sha = (seq: number) => createHash('sha256').update(bytes(seq)).digest('hex');
      await place.archive.write(key(30), sha(30), Readable.from([bytes(30)]));
      await place.archive.write(key(20), sha(20), Readable.from([bytes(20)]));
      expect(await place.archive.newest('query', 'query@1')).toEqual({ ...key(30), bytes: 1_000, sha256: sha(30) });
      const older = await place.archive.read(key(20));
      expect(older).toBeDefined();
      older?.destroy();
    });

    it(`keeps the newest ${SNAPSHOTS_KEPT} snapshots of a schema`, async () => {
      for (const seq of [10, 20, 30]) {
        const claim = (await bus.claim('query@1', seq)) as string;
        await bus.upload('query@1', seq, claim, fileOf(`s${seq}`, 1_000));
      }
      expect((await bus.newest('query@1'))?.seq).toBe(30);
      expect(await place.archive.read({ service: 'query', schema: 'query@1', seq: 20 })).toBeDefined();
      expect(await place.archive.read({ service: 'query', schema: 'query@1', seq: 10 })).toBeUndefined();
    });

    it.each([
      ['get', '/snapshots/Query/query@1', 400, 'invalid_request'],
      ['get', '/snapshots/query/posts@1', 400, 'invalid_request'],
      ['get', '/snapshots/query/query@1/0', 400, 'invalid_request'],
      ['get', '/snapshots/query/query@1', 404, 'no_snapshot'],
      ['get', '/snapshots/query/query@1/9', 404, 'no_snapshot'],
      ['post', '/snapshots/query/query@1/claims', 400, 'invalid_request'],
    ] as const)('answers %s %s with %d JSON and its code', async (method, url, status, code) => {
      const res = await request(app)[method](url).set('authorization', `Bearer ${TOKEN}`);
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ error: expect.any(String), code });
    });

    it('answers a claim while another replica holds it, or for a seq no newer than the one kept, with 409 conflict', async () => {
      const claim = (seq: number) =>
        request(app).post('/snapshots/query/query@1/claims').set('authorization', `Bearer ${TOKEN}`).send({ seq });
      const first = await claim(10);
      expect(first.status).toBe(201);
      const held = await claim(11);
      expect(held.status).toBe(409);
      expect(held.body).toEqual({
        error: expect.stringMatching(/another replica is making a snapshot/),
        code: 'conflict',
      });
      await bus.upload('query@1', 10, (first.body as { claim: string }).claim, fileOf('a'));
      const kept = await claim(10);
      expect(kept.status).toBe(409);
      expect(kept.body).toEqual({ error: expect.stringMatching(/kept already/), code: 'conflict' });
    });

    it('asks for the events token', async () => {
      const res = await request(app).get('/snapshots/query/query@1');
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: expect.any(String), code: 'unauthorized' });
    });
  });
}
