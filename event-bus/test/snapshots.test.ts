import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FileSnapshotArchive, MemorySnapshotClaims } from '../src/snapshots';
import { describeSnapshotArchiveContract } from './snapshot-archive-contract';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describeSnapshotArchiveContract('FileSnapshotArchive', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bus-snapshot-archive-'));
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
    await expect(archive.write({ service: 'query', schema: 'query@1', seq: 3 }, '0'.repeat(64), broken)).rejects.toThrow('connection reset');
    expect(readdirSync(path.join(dir, 'query', 'query@1'))).toEqual([]);
  });

  it('refuses a snapshot larger than its limit with 413', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bus-snapshot-archive-'));
    dirs.push(dir);
    const archive = new FileSnapshotArchive(dir, 10);
    await expect(archive.write({ service: 'query', schema: 'query@1', seq: 3 }, '0'.repeat(64), Readable.from([Buffer.alloc(11)]))).rejects.toMatchObject({ status: 413 });
    expect(await archive.newest('query', 'query@1')).toBeUndefined();
  });
});
