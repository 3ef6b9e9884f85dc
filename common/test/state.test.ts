import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, silentLogger } from '@blog/common';
import { openServiceState, StateDb, StateInUseError, stateConfigSchema, type StateSchema } from '@blog/common/state';
import { z } from 'zod';

const SCHEMA: StateSchema = {
  service: 'test',
  version: 1,
  tables: 'CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY)',
};

let dir: string;
const open: StateDb[] = [];
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'blog-state-'));
});
afterEach(() => {
  for (const state of open.splice(0)) if (state.db.open) state.close();
  rmSync(dir, { recursive: true, force: true });
});

function openState(schema = SCHEMA, file = path.join(dir, 'state.sqlite')): StateDb {
  const state = StateDb.open({ file, schema, lockWaitMs: 20, logger: silentLogger() });
  open.push(state);
  return state;
}

const items = (state: StateDb) => state.db.prepare('SELECT id FROM items ORDER BY id').pluck().all();
const insert = (state: StateDb, id: string) => state.db.prepare('INSERT INTO items (id) VALUES (?)').run(id);

describe('StateDb', () => {
  it('keeps the state and the position it was built up to across a restart', () => {
    const first = openState();
    expect(first.position).toEqual({ seq: 0, eventId: undefined });
    first.transaction(() => {
      insert(first, 'a');
      first.advance({ seq: 7, eventId: 'e7' });
    });
    first.close();
    const again = openState();
    expect(again.position).toEqual({ seq: 7, eventId: 'e7' });
    expect(items(again)).toEqual(['a']);
  });

  it('keeps neither the changes nor the position of a transaction that throws', () => {
    const state = openState();
    expect(() =>
      state.transaction(() => {
        insert(state, 'a');
        state.advance({ seq: 1, eventId: 'e1' });
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    // Not even in memory: a consumer that goes back to this position applies those events again.
    expect(state.position.seq).toBe(0);
    state.close();
    const again = openState();
    expect(items(again)).toEqual([]);
    expect(again.position.seq).toBe(0);
  });

  it('undoes only the inner unit of a nested transaction that throws', () => {
    const state = openState();
    state.transaction(() => {
      insert(state, 'kept');
      expect(() =>
        state.transaction(() => {
          insert(state, 'undone');
          throw new Error('bad event');
        }),
      ).toThrow('bad event');
      state.advance({ seq: 2, eventId: 'e2' });
    });
    expect(items(state)).toEqual(['kept']);
    expect(state.position.seq).toBe(2);
  });

  it('rebuilds a state file of another schema version or another service from nothing', () => {
    const first = openState();
    first.transaction(() => {
      insert(first, 'a');
      first.advance({ seq: 3, eventId: 'e3' });
    });
    first.close();
    const newer = openState({ ...SCHEMA, version: 2 });
    expect(newer.position.seq).toBe(0);
    expect(items(newer)).toEqual([]);
    newer.transaction(() => newer.advance({ seq: 1, eventId: 'x' }));
    newer.close();
    const other = openState({ ...SCHEMA, service: 'other' });
    expect(other.position.seq).toBe(0);
  });

  it('rebuilds a file that is not a database', () => {
    const file = path.join(dir, 'state.sqlite');
    writeFileSync(file, 'this is not SQLite '.repeat(300));
    const state = openState(SCHEMA, file);
    expect(state.position.seq).toBe(0);
    insert(state, 'a');
    expect(items(state)).toEqual(['a']);
  });

  it('refuses a second process on the same file', () => {
    openState();
    // Another connection in this process stands for another replica given the same folder.
    expect(() => openState()).toThrow(StateInUseError);
    expect(() => openState()).toThrow(/give each replica a STATE_DIR of its own/);
  });

  it('clear() empties every table and goes back to before the first event', () => {
    const state = openState();
    state.transaction(() => {
      insert(state, 'a');
      state.advance({ seq: 9, eventId: 'e9' });
    });
    state.clear();
    expect(items(state)).toEqual([]);
    expect(state.position).toEqual({ seq: 0, eventId: undefined });
    state.close();
    expect(openState().position.seq).toBe(0);
  });
});

describe('state configuration', () => {
  const schema = z.object(stateConfigSchema('posts'));

  it("defaults to the repository's .data/<service> and a 16 MiB cache", () => {
    const config = loadConfig(schema, {});
    expect(config.STATE_DIR).toBe(path.resolve(__dirname, '..', '..', '.data', 'posts'));
    expect(config.STATE_CACHE_MIB).toBe(16);
    expect(config.SNAPSHOT_EVERY_EVENTS).toBe(100_000);
    expect(config.SNAPSHOT_RESTORE).toBe(true);
  });

  it.each(['-1', 'often', '2.5'])('refuses SNAPSHOT_EVERY_EVENTS=%p naming the variable', (value) => {
    expect(() => loadConfig(schema, { SNAPSHOT_EVERY_EVENTS: value })).toThrow(/SNAPSHOT_EVERY_EVENTS/);
  });

  it.each(['0', '-1', '1.5', 'lots', '4097'])('refuses STATE_CACHE_MIB=%p naming the variable', (value) => {
    expect(() => loadConfig(schema, { STATE_CACHE_MIB: value })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { STATE_CACHE_MIB: value })).toThrow(/STATE_CACHE_MIB/);
  });

  it('opens state.sqlite in STATE_DIR, making the folder', async () => {
    const state = await openServiceState(
      {
        STATE_DIR: path.join(dir, 'nested', 'posts'),
        STATE_CACHE_MIB: 4,
        SNAPSHOT_EVERY_EVENTS: 0,
        SNAPSHOT_RESTORE: false,
      },
      SCHEMA,
      silentLogger(),
    );
    open.push(state);
    expect(state.db.name).toBe(path.join(dir, 'nested', 'posts', 'state.sqlite'));
    expect(state.db.pragma('cache_size', { simple: true })).toBe(-4096);
  });
});
