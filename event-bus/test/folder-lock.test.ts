import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync, symlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { silentLogger } from '@blog/common';
import { FileEventLog } from '../src/file-storage/file-event-log';
import { FolderLock, FolderLockedError } from '../src/file-storage/folder-lock';
import { tempDirs } from './support';

const freshDir = tempDirs('folder-lock-');
const open = (dir: string) => FileEventLog.open({ dir, logger: silentLogger() });
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Another process that takes the folder's lock and keeps it until killed; resolves once it holds it. */
function otherHolder(dir: string): Promise<ChildProcess> {
  const lockModule = path.join(__dirname, '..', 'dist', 'file-storage', 'folder-lock.js');
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(lockModule)}).FolderLock.take(${JSON.stringify(dir)}).then(() => console.log('held'), (e) => { console.error(e.message); process.exit(1); }); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => (chunk.toString().includes('held') ? resolve(child) : undefined));
    child.on('exit', (code) => reject(new Error(`the other holder exited with ${code}`)));
  });
}

/** Another process trying to take the folder: resolves with 'held' (it keeps it until killed) or its error. */
function tryingTaker(dir: string): Promise<string> {
  const lockModule = path.join(__dirname, '..', 'dist', 'file-storage', 'folder-lock.js');
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(lockModule)}).FolderLock.take(${JSON.stringify(dir)}).then(() => console.log('held'), (e) => { console.log(e.message); process.exit(1); }); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  return new Promise((resolve) => child.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );

describe('one process per log folder', () => {
  it('refuses a second log on a folder this process holds, and takes it again once the first is closed', async () => {
    const dir = freshDir();
    const first = await open(dir);
    await expect(open(dir)).rejects.toThrow(
      new FolderLockedError(
        `${dir} belongs to another process (pid ${process.pid}): one process at a time may keep a log in a folder`,
      ),
    );
    await first.close();
    const again = await open(dir);
    await again.close();
  });

  it('refuses while another process holds the folder, naming its pid, and takes it over at once when that process is killed', async () => {
    const dir = freshDir();
    const other = await otherHolder(dir);
    await expect(open(dir)).rejects.toThrow(`${dir} belongs to another process (pid ${other.pid})`);
    other.kill('SIGKILL');
    await exited(other);
    const log = await open(dir);
    expect(JSON.parse(readlinkSync(path.join(dir, 'owner.lock')))).toMatchObject({ pid: process.pid });
    await log.close();
  });

  it('lets exactly one of two processes take over a lock left by a process that is gone, started at the same moment', async () => {
    for (let round = 0; round < 5; round++) {
      const dir = freshDir();
      symlinkSync(JSON.stringify({ host: hostname(), pid: 999_999_999 }), path.join(dir, 'owner.lock'));
      const outcomes = await Promise.all([tryingTaker(dir), tryingTaker(dir)]);
      expect(outcomes.filter((outcome) => outcome === 'held')).toHaveLength(1);
      expect(outcomes.find((outcome) => outcome !== 'held')).toMatch(/belongs to another process/);
      for (const child of children.splice(0)) child.kill('SIGKILL');
    }
  });

  it('never takes over a lock held from another host (a shared volume): it says how to clear it', async () => {
    const dir = freshDir();
    symlinkSync(JSON.stringify({ host: 'another-host', pid: 1 }), path.join(dir, 'owner.lock'));
    await expect(FolderLock.take(dir)).rejects.toThrow(
      `${dir} belongs to another process (pid 1 on host another-host): one process at a time may keep a log in a folder; if that process is gone, delete ${path.join(dir, 'owner.lock')}`,
    );
  });

  it('takes over a lock left under its own pid by an earlier process (a container restarted as pid 1)', async () => {
    const dir = freshDir();
    symlinkSync(JSON.stringify({ host: hostname(), pid: process.pid, started: '0' }), path.join(dir, 'owner.lock'));
    const lock = await FolderLock.take(dir);
    await lock.release();
  });
});
