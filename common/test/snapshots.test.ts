import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { copyFile, readFile, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '@blog/common';
import {
  openServiceState,
  Snapshotter,
  StateDb,
  type SnapshotInfo,
  type SnapshotStore,
  type StateConfig,
  type StateSchema,
} from '@blog/common/state';

const SCHEMA: StateSchema = {
  service: 'query',
  version: 1,
  tables: 'CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY)',
};

/** The bus's snapshots, as files in a folder. */
class FolderSnapshots implements SnapshotStore {
  readonly kept: SnapshotInfo[] = [];
  downloads = 0;
  claimedBy: string | undefined;
  constructor(private readonly dir: string) {}

  newest(schema: string): Promise<SnapshotInfo | undefined> {
    return Promise.resolve(this.kept.filter((info) => info.schema === schema).sort((a, b) => b.seq - a.seq)[0]);
  }
  async download(info: SnapshotInfo, file: string): Promise<void> {
    this.downloads++;
    await copyFile(this.fileOf(info), file);
    const sha256 = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    if (sha256 !== info.sha256) throw new Error("the snapshot's bytes do not match it");
  }
  async claim(schema: string, seq: number): Promise<string | undefined> {
    if (this.claimedBy !== undefined || ((await this.newest(schema))?.seq ?? 0) >= seq) return undefined;
    this.claimedBy = `claim-${seq}`;
    return this.claimedBy;
  }
  async upload(schema: string, seq: number, claim: string, file: string): Promise<void> {
    if (claim !== this.claimedBy) throw new Error('not the live claim');
    const { size } = await stat(file);
    this.keep({ service: 'query', schema, seq, bytes: size, sha256: '' }, file);
    this.claimedBy = undefined;
  }
  release(): Promise<void> {
    this.claimedBy = undefined;
    return Promise.resolve();
  }
  /** Keeps a copy of `file` as this snapshot (its sha256 computed unless given). */
  keep(info: SnapshotInfo, file: string): void {
    copyFileSync(file, this.fileOf(info));
    this.kept.push({ ...info, sha256: info.sha256 || createHash('sha256').update(readFileSync(file)).digest('hex') });
  }
  private fileOf(info: Pick<SnapshotInfo, 'schema' | 'seq'>): string {
    return path.join(this.dir, `${info.schema}-${info.seq}.sqlite`);
  }
}

let dir: string;
let snapshots: FolderSnapshots;
const opened: StateDb[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'blog-snapshots-'));
  mkdirSync(path.join(dir, 'bus'));
  snapshots = new FolderSnapshots(path.join(dir, 'bus'));
});
afterEach(() => {
  for (const state of opened.splice(0)) if (state.db.open) state.close();
  rmSync(dir, { recursive: true, force: true });
});

const config = (replica: string, overrides: Partial<StateConfig> = {}): StateConfig => ({
  STATE_DIR: path.join(dir, replica),
  STATE_CACHE_MIB: 4,
  SNAPSHOT_EVERY_EVENTS: 10,
  SNAPSHOT_RESTORE: true,
  ...overrides,
});

async function open(replica: string, overrides: Partial<StateConfig> = {}, schema = SCHEMA): Promise<StateDb> {
  const state = await openServiceState(config(replica, overrides), schema, silentLogger(), snapshots);
  opened.push(state);
  return state;
}

/** Applies posts p<from>…p<to> as the events of those seqs would. */
function apply(state: StateDb, from: number, to: number): void {
  const insert = state.db.prepare('INSERT INTO posts (id) VALUES (?)');
  state.transaction(() => {
    for (let seq = from; seq <= to; seq++) insert.run(`p${seq}`);
    state.advance({ seq: to, eventId: `e${to}` });
  });
}

const posts = (state: StateDb) => (state.db.prepare('SELECT count(*) AS n FROM posts').get() as { n: number }).n;

function snapshotter(state: StateDb, replica: string): Snapshotter {
  return new Snapshotter({
    db: state.db,
    position: () => state.position.seq,
    schema: 'query@1',
    store: snapshots,
    everyEvents: 10,
    dir: path.join(dir, replica),
    logger: silentLogger(),
  });
}

describe('a fresh replica and the snapshots', () => {
  it('starts from the newest snapshot another replica made, at its position, with its rows', async () => {
    const first = await open('replica-1');
    apply(first, 1, 25);
    await snapshotter(first, 'replica-1').makeIfDue();
    expect(snapshots.kept.map(({ seq }) => seq)).toEqual([25]);

    const fresh = await open('replica-2');
    expect(fresh.position).toEqual({ seq: 25, eventId: 'e25' });
    expect(posts(fresh)).toBe(25);
    // The download was moved into place: nothing of it is left beside the state.
    expect(readdirSync(path.join(dir, 'replica-2')).filter((name) => name.startsWith('download-'))).toEqual([]);
  });

  it('keeps a state that is less than SNAPSHOT_EVERY_EVENTS behind the newest snapshot', async () => {
    const first = await open('replica-1');
    apply(first, 1, 30);
    await snapshotter(first, 'replica-1').makeIfDue();
    const own = await open('replica-2', { SNAPSHOT_RESTORE: false });
    apply(own, 1, 25);
    own.close();
    const reopened = await open('replica-2');
    expect(reopened.position.seq).toBe(25);
    expect(snapshots.downloads).toBe(0);
  });

  it('passes over a snapshot whose bytes do not match it, and one of another schema, and builds from the log instead', async () => {
    const first = await open('replica-1');
    apply(first, 1, 20);
    await snapshotter(first, 'replica-1').makeIfDue();
    snapshots.kept[0]!.sha256 = '0'.repeat(64);
    const fresh = await open('replica-2');
    expect(fresh.position.seq).toBe(0);
    expect(posts(fresh)).toBe(0);

    // A file made for another service, listed under this schema.
    const other = StateDb.open({ file: path.join(dir, 'other.sqlite'), schema: { ...SCHEMA, service: 'posts' } });
    other.transaction(() => other.advance({ seq: 40, eventId: 'e40' }));
    other.close();
    snapshots.keep(
      { service: 'query', schema: 'query@1', seq: 40, bytes: 0, sha256: '' },
      path.join(dir, 'other.sqlite'),
    );
    const again = await open('replica-3');
    expect(again.position.seq).toBe(0);
  });

  it('deletes what a killed download or upload left in the state folder', async () => {
    mkdirSync(path.join(dir, 'replica-1'));
    const left = path.join(dir, 'replica-1', 'download-0f8fad5b-d9cb-469f-a165-70867728950e.sqlite');
    writeFileSync(left, 'half a file');
    await open('replica-1');
    expect(existsSync(left)).toBe(false);
  });
});

describe('Snapshotter', () => {
  it('makes none before the state is SNAPSHOT_EVERY_EVENTS past the newest, nor while another replica holds the claim', async () => {
    const state = await open('replica-1');
    const maker = snapshotter(state, 'replica-1');
    apply(state, 1, 9);
    await maker.makeIfDue();
    expect(snapshots.kept).toEqual([]);
    apply(state, 10, 12);
    snapshots.claimedBy = 'another replica';
    await maker.makeIfDue();
    expect(snapshots.kept).toEqual([]);
    snapshots.claimedBy = undefined;
    await maker.makeIfDue();
    expect(snapshots.kept.map(({ seq }) => seq)).toEqual([12]);
    apply(state, 13, 15);
    await maker.makeIfDue();
    expect(snapshots.kept.map(({ seq }) => seq)).toEqual([12]);
    // No copy is left in the state's folder.
    expect(readdirSync(path.join(dir, 'replica-1')).filter((name) => name.startsWith('upload-'))).toEqual([]);
  });
});
