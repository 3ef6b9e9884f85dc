/**
 * Snapshots on the scaled-out blog (`npm run test:cluster`): the bus replicas keep query's snapshot in a
 * JetStream object store; a query replica that lost its state (a new pod) starts from it, also when it
 * is killed with -9 while it does, and ends with the same view as the other replica. The faults of the
 * issue on this log too: a query replica killed while it sends a snapshot to the object store, and again
 * and again while it builds its state from event 1 (its store's transactions); snapshots that cannot be
 * used (not a database, another service's, another schema version's) passed over. Each ends with every
 * post once, and the other replica's view.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PostsView } from '@blog/common';
import { describeSnapshotFile, StateDb } from '@blog/common/state';
import {
  http,
  startNatsCluster,
  startReplicatedStack,
  waitFor,
  type NatsCluster,
  type ReplicatedStack,
} from '@blog/testkit';
import {
  appendFiller,
  appendPosts,
  downloadSnapshot,
  eventsApplied,
  Freezer,
  LogWatch,
  newestSnapshot,
  storeSnapshot,
  stepUntil,
  uploadStalledTo,
  wholeView,
} from '../../src/faults/snapshots';

/** A claim held by a replica killed while it made a snapshot lapses after this long. */
const CLAIM_TTL_MS = 5_000;

let dir: string;
let nats: NatsCluster;
let stack: ReplicatedStack;
const freezer = new Freezer();

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'blog-cluster-snapshots-'));
  nats = await startNatsCluster({ dir: path.join(dir, 'nats') });
  stack = await startReplicatedStack({
    nats,
    logDir: path.join(dir, 'logs'),
    busEnv: { SNAPSHOT_CLAIM_TTL_MS: String(CLAIM_TTL_MS) },
    serviceEnv: { query: { SNAPSHOT_EVERY_EVENTS: '40' } },
  });
}, 120_000);

afterAll(async () => {
  freezer.thawAll();
  await stack?.stopAll();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function createPosts(count: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await http(`${stack.url('posts', i % 2)}/posts/create`, {
      body: { title: `${label} ${i}` },
      timeoutMs: 30_000,
    });
    expect(answer.status).toBe(201);
    ids.push((answer.json as { id: string }).id);
  }
  return ids;
}

const viewOf = async (replica: number) => (await http(`${stack.url('query', replica)}/posts`)).json as PostsView;

test('a query replica that lost its state starts from the snapshot in the object store, also after being killed while it does', async () => {
  const before = await createPosts(60, 'before');
  const snapshot = await waitFor(
    async () => {
      const answer = await http(`${stack.url('event-bus', 1)}/snapshots/query/query@1`, {
        headers: stack.eventHeaders(),
      });
      return answer.status === 200 ? (answer.json as { seq: number }) : undefined;
    },
    { what: 'a snapshot of query in the object store, served by either bus replica', timeoutMs: 30_000 },
  );
  expect(snapshot.seq).toBeGreaterThanOrEqual(40);

  await stack.kill('query', 1);
  const after = await createPosts(10, 'after');
  for (const afterMs of [200, 500]) {
    rmSync(stack.stateDir('query', 1), { recursive: true, force: true });
    const starting = stack.start('query', 1).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, afterMs));
    await stack.kill('query', 1);
    await starting;
  }
  rmSync(stack.stateDir('query', 1), { recursive: true, force: true });
  await stack.start('query', 1);
  expect(readFileSync(stack.logFile('query', 1), 'utf8')).toMatch(/state restored from the newest snapshot/);

  const ids = [...before, ...after];
  const [first, second] = await waitFor(
    async () => {
      const views = await Promise.all([viewOf(0), viewOf(1)]);
      return views.every((view) => ids.every((id) => view[id] !== undefined)) ? views : undefined;
    },
    { what: 'both query replicas showing every post', timeoutMs: 30_000 },
  );
  expect(Object.keys(second)).toEqual(Object.keys(first));
}, 120_000);

/** Bus replica 0, where the tests put events and read snapshots. */
const bus = () => stack.url('event-bus', 0);

/**
 * Posts with titles of 200 characters straight into the bus, once for the file: a state of some 17 MB,
 * more than the sockets between a query replica and a bus hold, and six of query's catch-up pages (and
 * transactions) of 10,000 events. Every replica that follows the log is stopped first, as each slows the
 * bus's appends many times over; posts, comments and moderation stay stopped: only query is checked from
 * here on.
 */
const LONG_POSTS = 60_000;
let longHistory: Promise<void> | undefined;
function withLongHistory(): Promise<void> {
  longHistory ??= (async () => {
    for (const service of ['posts', 'comments', 'moderation', 'query'] as const) {
      for (let replica = 0; replica < stack.replicas; replica++) await stack.kill(service, replica);
    }
    // Batches of 1,000: with larger ones, a bus replica falls behind the stream it follows, and appends slow down many times over.
    await appendPosts(bus(), stack.eventHeaders(), { count: LONG_POSTS, label: 'long', title: 200, batch: 1_000 });
  })();
  return longHistory;
}

/** Starts query replica `replica` unless it runs, making no snapshots: the replica under test makes them. */
async function startQuietly(replica: number): Promise<void> {
  if (stack.pid('query', replica) === undefined)
    await stack.start('query', replica, { env: { SNAPSHOT_EVERY_EVENTS: '0' } });
}

/** Both query replicas' whole views: the same posts in the same order, each once, the long history's among them. */
async function expectSameWholeViews(): Promise<void> {
  await startQuietly(0);
  const [first, second] = await Promise.all([wholeView(stack.url('query', 0)), wholeView(stack.url('query', 1))]);
  expect(first.repeated).toEqual([]);
  expect(second.repeated).toEqual([]);
  const ids = new Set(second.posts.map(([id]) => id));
  expect(Array.from({ length: LONG_POSTS }, (_, i) => `long-${i}`).filter((id) => !ids.has(id))).toEqual([]);
  expect(second.posts).toEqual(first.posts);
}

/** A snapshot both bus replicas name as the newest, and whose bytes are whole: their SHA-256, query's state at its seq. */
async function expectWholeNewest(): Promise<number | undefined> {
  const newest = await newestSnapshot(bus(), stack.eventHeaders());
  expect(await newestSnapshot(stack.url('event-bus', 1), stack.eventHeaders())).toEqual(newest);
  if (newest === undefined) return undefined;
  expect(await downloadSnapshot(stack.url('event-bus', 1), stack.eventHeaders(), newest, dir)).toEqual({
    bytes: newest.bytes,
    sha256: newest.sha256,
    holds: { schema: 'query@1', seq: newest.seq },
  });
  return newest.seq;
}

test("a query replica killed while it makes its snapshot, copying its state and then sending it to the object store, leaves none of it; the next is made whole, and a fresh replica from it shows the other replica's view", async () => {
  // Every query replica is stopped while the history grows: the snapshot made next is replica 1's.
  await withLongHistory();
  await stack.kill('query', 0);
  await stack.kill('query', 1);
  const before = await expectWholeNewest();

  // Replica 1 catches up, then claims the next snapshot: killed as soon as SQLite's backup has begun the
  // copy. Its claim lapses after SNAPSHOT_CLAIM_TTL_MS, the claims bucket's TTL.
  const copying = new LogWatch(stack.logFile('query', 1));
  let starting = stack.start('query', 1).catch(() => undefined);
  await copying.waitFor(/claimed the next snapshot; copying the state/, 'query replica 2 claiming the next snapshot');
  // Frozen at once, then run step by step until the copy's file is there: the kill lands during the copy.
  const queryPid = stack.pid('query', 1) as number;
  freezer.freeze(queryPid);
  const copyOf = () =>
    readdirSync(stack.stateDir('query', 1)).find((name) => /^upload-[0-9a-f-]{36}\.sqlite$/.test(name));
  await stepUntil(freezer, queryPid, () => copyOf() !== undefined, 'the copy of the state under way');
  const copy = copyOf();
  await stack.kill('query', 1);
  freezer.thaw(queryPid);
  await starting;
  expect(copying.has(/state copied; sending the snapshot/)).toBe(false);
  // Left for the next start to delete.
  expect(readdirSync(stack.stateDir('query', 1))).toContain(copy);
  expect(await expectWholeNewest()).toBe(before);

  // Started again, it claims once the first claim has lapsed: its bus replica is frozen at once, so that
  // the upload stalls in the sockets, and replica 1 is killed then; the bus continued after.
  const busPid = stack.pid('event-bus', 1) as number;
  const watch = new LogWatch(stack.logFile('query', 1));
  const busWatch = new LogWatch(stack.logFile('event-bus', 1));
  starting = stack.start('query', 1).catch(() => undefined);
  await watch.waitFor(
    /claimed the next snapshot; copying the state/,
    'query replica 2 claiming the next snapshot once the first claim lapsed',
  );
  freezer.freeze(busPid);
  try {
    await watch.waitFor(/state copied; sending the snapshot/, 'query replica 2 sending the snapshot');
    await waitFor(() => uploadStalledTo(Number(new URL(stack.url('event-bus', 1)).port)), {
      what: 'the upload stalled in the sockets to the frozen bus replica',
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    await stack.kill('query', 1);
  } finally {
    freezer.thaw(busPid);
  }
  await starting;
  await busWatch.waitFor(
    /snapshot upload broke off before its whole body came; nothing of it kept/,
    'bus replica 2 noticing the broken upload',
  );
  const killedSeq = Number(/"seq":(\d+)[^\n]*state copied; sending the snapshot/.exec(watch.text())?.[1]);
  expect(watch.has(/snapshot made and stored/)).toBe(false);
  expect(await expectWholeNewest()).toBe(before);

  // Started again, replica 1 makes the next snapshot: the broken upload gave its claim up.
  const again = new LogWatch(stack.logFile('query', 1));
  await stack.start('query', 1);
  await again.waitFor(/snapshot made and stored by the event bus/, 'query replica 2 making the next snapshot');
  const made = await expectWholeNewest();
  expect(made).toBeGreaterThanOrEqual(killedSeq);

  // A fresh replica starts from it; the other replica, started again, shows the same.
  await stack.kill('query', 1);
  rmSync(stack.stateDir('query', 1), { recursive: true, force: true });
  const fresh = new LogWatch(stack.logFile('query', 1));
  await stack.start('query', 1);
  expect(fresh.has(new RegExp(`"seq":${made}[^\\n]*state restored from the newest snapshot`))).toBe(true);
  await expectSameWholeViews();
}, 120_000);

test("a query replica killed again and again while it builds its state from event 1 on the JetStream log keeps each transaction whole: it ends with every post once, and the other replica's view", async () => {
  await withLongHistory();
  await stack.kill('query', 1);
  const end = await appendFiller(bus(), stack.eventHeaders());
  rmSync(stack.stateDir('query', 1), { recursive: true, force: true });
  // From the log only: no snapshot taken, none made.
  const env = { SNAPSHOT_RESTORE: 'false', SNAPSHOT_EVERY_EVENTS: '0' };
  const positions: number[] = [];
  for (let round = 0; round < 3; round++) {
    const starting = stack.start('query', 1, { env }).catch(() => undefined);
    // Killed once its first page of events is committed: while it reads or applies the next.
    await waitFor(async () => ((await eventsApplied(stack.url('query', 1))) ?? 0) > 0, {
      what: 'query replica 2 applying events',
      timeoutMs: 60_000,
      intervalMs: 10,
    });
    await stack.kill('query', 1);
    await starting;
    // The kill landed mid-build, and this start went on from where the last committed transaction left it.
    const state = describeSnapshotFile(path.join(stack.stateDir('query', 1), 'state.sqlite'));
    expect(state.schema).toBe('query@1');
    expect(state.seq).toBeGreaterThan(positions.at(-1) ?? 0);
    expect(state.seq).toBeLessThan(end);
    positions.push(state.seq);
  }
  await stack.start('query', 1, { env });
  await expectSameWholeViews();
}, 120_000);

test('a snapshot in the object store that is not a database, one of another service and one of another schema version are passed over: the replica builds from the log and says why', async () => {
  await withLongHistory();
  const garbage = Buffer.from('not a database '.repeat(1_000));
  const stateOf = (service: string, version: number) => {
    const file = path.join(dir, `${service}-${version}.sqlite`);
    rmSync(file, { force: true });
    return (seq: number) => {
      const state = StateDb.open({
        file,
        schema: { service, version, tables: 'CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY)' },
      });
      state.transaction(() => state.advance({ seq, eventId: 'e' }));
      state.close();
      return readFileSync(file);
    };
  };
  const cases = [
    { what: 'not a database', bytes: () => garbage, reason: 'file is not a database' },
    { what: 'posts@1', bytes: stateOf('posts', 1), reason: 'it holds posts@1' },
    { what: 'query@2', bytes: stateOf('query', 2), reason: 'it holds query@2' },
  ];
  for (const { bytes, reason } of cases) {
    await stack.kill('query', 1);
    // A newer seq for each: the bus keeps none past the end of its log, and each must be newer than the last.
    const seq = await appendFiller(bus(), stack.eventHeaders());
    await storeSnapshot(bus(), stack.eventHeaders(), { schema: 'query@1', seq, bytes: bytes(seq) });
    rmSync(stack.stateDir('query', 1), { recursive: true, force: true });
    const watch = new LogWatch(stack.logFile('query', 1));
    await stack.start('query', 1);
    expect(watch.text()).toMatch(
      new RegExp(
        `"seq":${seq},"reason":"${reason}[^\\n]*snapshot not used; building the state from the event log instead`,
      ),
    );
    expect(watch.has(/state restored from the newest snapshot/)).toBe(false);
    await expectSameWholeViews();
  }
}, 120_000);

test("the bus replicas did all that with their NATS user's permissions: the servers logged no violation", () => {
  expect(nats.violations()).toEqual([]);
});
