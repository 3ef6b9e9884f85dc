/**
 * Fault injection on the services' own state (file log): query killed with `kill -9` in the middle of its
 * store's transactions while it builds its state, while it starts from a snapshot, and while it makes one
 * (copying its state, then sending it); snapshots the bus keeps that cannot be used (not a database,
 * another service's). Each case ends with the whole history in query's view exactly once: every post
 * once, nothing missing, nothing applied twice.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PostsView } from '@blog/common';
import { StateDb } from '@blog/common/state';
import { delay, startStack, waitFor, type Stack } from '@blog/testkit';
import {
  appendComments,
  appendFiller,
  appendPosts,
  downloadSnapshot,
  Freezer,
  LogWatch,
  newestSnapshot,
  stepUntil,
  storeSnapshot,
  uploadStalledTo,
  wholeView,
} from '../../src/faults/snapshots';

const LOGS = path.join(__dirname, '..', '..', 'artifacts', 'logs');
const POSTS = 60_000;
const BATCH = 5_000;

/** A claim to make a snapshot, held by a replica killed while it made one, lapses after this long. */
const CLAIM_TTL_MS = 5_000;

let stack: Stack;
let posts = 0;
let comments = 0;
const freezer = new Freezer();

beforeAll(async () => {
  stack = await startStack({
    services: ['event-bus', 'query'],
    logDir: path.join(LOGS, 'faults-state'),
    env: { query: { SNAPSHOT_EVERY_EVENTS: '20000' }, 'event-bus': { SNAPSHOT_CLAIM_TTL_MS: String(CLAIM_TTL_MS) } },
  });
  // A history long enough that building query's state takes a while: posts straight into the bus.
  await appendPosts(stack.url('event-bus'), stack.eventHeaders(), { count: POSTS, label: 'post', batch: BATCH });
  posts = POSTS;
}, 120_000);

afterAll(async () => {
  freezer.thawAll();
  await stack?.stopAll({ timeoutMs: 10_000 });
});

/** Every page of query's view: each post and comment of the history once, and nothing else. */
async function expectWholeHistoryOnce(): Promise<void> {
  const view = await wholeView(stack.url('query'));
  const seenComments = new Map<string, number>();
  for (const [, post] of view.posts) {
    for (const comment of (post as PostsView[string]).comments)
      seenComments.set(comment.id, (seenComments.get(comment.id) ?? 0) + 1);
  }
  expect(view.posts.length - view.repeated.length).toBe(posts);
  expect(view.repeated).toEqual([]);
  expect(seenComments.size).toBe(comments);
  expect([...seenComments.values()].filter((count) => count > 1)).toEqual([]);
}

const queryLog = () => readFileSync(stack.logFile('query'), 'utf8');
const restoredCount = () => queryLog().split('state restored from the newest snapshot').length - 1;

/** Starts query and kills it (-9) `afterMs` later, whether it is ready by then or not. */
async function startAndKill(afterMs: number): Promise<void> {
  const starting = stack.start('query').catch(() => undefined);
  await delay(afterMs);
  await stack.kill('query');
  await starting;
}

test('query killed again and again while it builds its state from event 1 ends with every post once', async () => {
  await stack.stop('query');
  rmSync(path.join(stack.stateDir, 'query'), { recursive: true, force: true });
  for (const afterMs of [400, 900, 1_500, 2_200]) await startAndKill(afterMs);
  await stack.start('query');
  await expectWholeHistoryOnce();
}, 120_000);

test('query killed while it starts from a snapshot, and again while it reads the events after it, ends with every post once', async () => {
  // Query, running, makes a snapshot of the whole history.
  await waitFor(async () => (await newestSnapshot(stack.url('event-bus'), stack.eventHeaders())) !== undefined, {
    what: 'a snapshot of query kept by the bus',
    timeoutMs: 60_000,
  });
  await stack.stop('query');
  // Events after the snapshot, for the fresh replica to read after it.
  const TAIL = 3_000;
  await appendPosts(stack.url('event-bus'), stack.eventHeaders(), { count: TAIL, label: 'tail' });
  posts += TAIL;

  const restoredBefore = restoredCount();
  for (const afterMs of [150, 350, 700]) {
    rmSync(path.join(stack.stateDir, 'query'), { recursive: true, force: true });
    await startAndKill(afterMs);
  }
  await stack.start('query');
  expect(restoredCount()).toBeGreaterThan(restoredBefore);
  await expectWholeHistoryOnce();
}, 120_000);

test('a snapshot that is not a database, and one of another service, are passed over: the state is built from the log', async () => {
  await stack.stop('query');
  const keep = (file: string, seq: number) =>
    storeSnapshot(stack.url('event-bus'), stack.eventHeaders(), { schema: 'query@1', seq, bytes: readFileSync(file) });
  // Two more events: the bus keeps no snapshot past the end of its log, and each one must be newer than the last.
  const [garbageSeq, foreignSeq] = [
    await appendFiller(stack.url('event-bus'), stack.eventHeaders()),
    await appendFiller(stack.url('event-bus'), stack.eventHeaders()),
  ];
  const garbage = path.join(stack.logDir, 'garbage.sqlite');
  writeFileSync(garbage, 'not a database '.repeat(1_000));
  await keep(garbage, garbageSeq);
  rmSync(path.join(stack.stateDir, 'query'), { recursive: true, force: true });
  await stack.start('query');
  await expectWholeHistoryOnce();
  expect(queryLog()).toMatch(/snapshot not used; building the state from the event log instead/);

  await stack.stop('query');
  const foreign = path.join(stack.logDir, 'posts-state.sqlite');
  const posts = StateDb.open({
    file: foreign,
    schema: { service: 'posts', version: 1, tables: 'CREATE TABLE IF NOT EXISTS posts (id TEXT PRIMARY KEY)' },
  });
  posts.transaction(() => posts.advance({ seq: foreignSeq, eventId: 'e' }));
  posts.close();
  await keep(foreign, foreignSeq);
  rmSync(path.join(stack.stateDir, 'query'), { recursive: true, force: true });
  await stack.start('query');
  await expectWholeHistoryOnce();
  expect(queryLog()).toMatch(/it holds posts@1[^\n]*snapshot not used/);
}, 120_000);

test('query killed while it makes a snapshot, copying its state and then sending it, leaves no partial snapshot; the next one is made, and a fresh replica from it shows every post once', async () => {
  const bus = stack.url('event-bus');
  const headers = stack.eventHeaders();
  const stateDir = path.join(stack.stateDir, 'query');
  const leftCopies = () => readdirSync(stateDir).filter((name) => name.startsWith('upload-'));
  const kept = path.join(stack.eventLogDir, 'snapshots', 'query', 'query@1');
  const before = await newestSnapshot(bus, headers);

  await stack.stop('query');
  // SNAPSHOT_EVERY_EVENTS past the newest snapshot, as comments of 1,000 characters: a copy of some 30 MB,
  // more than the sockets between query and the bus hold, so that a killed upload leaves the bus part of a body.
  const long = 21_000;
  await appendComments(bus, headers, { count: long, length: 1_000, label: 'long', postOf: (i) => `post-${i}` });
  comments += long;

  // 1. Killed as soon as SQLite's backup has begun the copy of its state, after its claim.
  let watch = new LogWatch(stack.logFile('query'));
  let starting = stack.start('query').catch(() => undefined);
  await watch.waitFor(/claimed the next snapshot; copying the state/, 'query claiming the next snapshot');
  // Frozen at once, then run step by step until the copy's file is there: the kill lands during the copy.
  const queryPid = stack.pid('query') as number;
  freezer.freeze(queryPid);
  const copyOf = () => readdirSync(stateDir).find((name) => /^upload-[0-9a-f-]{36}\.sqlite$/.test(name));
  await stepUntil(freezer, queryPid, () => copyOf() !== undefined, 'the copy of the state under way');
  const copy = copyOf();
  await stack.kill('query');
  freezer.thaw(queryPid);
  await starting;
  expect(watch.has(/state copied; sending the snapshot/)).toBe(false);
  // The copy it was making is left, for the next start to delete.
  expect(leftCopies()).toContain(copy);
  expect((await newestSnapshot(bus, headers))?.seq).toBe(before?.seq);

  // 2. Killed while it sends the copy: the bus frozen as query claims (its first claim lapses after
  // SNAPSHOT_CLAIM_TTL_MS), query killed once the upload is stalled in the sockets, then the bus continued.
  const busPid = stack.pid('event-bus') as number;
  watch = new LogWatch(stack.logFile('query'));
  const busWatch = new LogWatch(stack.logFile('event-bus'));
  starting = stack.start('query').catch(() => undefined);
  await watch.waitFor(
    /claimed the next snapshot; copying the state/,
    'query claiming the next snapshot once the first claim lapsed',
    CLAIM_TTL_MS + 60_000,
  );
  freezer.freeze(busPid);
  try {
    await watch.waitFor(/state copied; sending the snapshot/, 'query sending the snapshot');
    await waitFor(() => uploadStalledTo(stack.ports['event-bus']), {
      what: 'the upload stalled in the sockets to the frozen bus',
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    await stack.kill('query');
  } finally {
    freezer.thaw(busPid);
  }
  await starting;
  await busWatch.waitFor(
    /snapshot upload broke off before its whole body came; nothing of it kept/,
    'the bus noticing the broken upload',
  );
  expect(watch.has(/snapshot made and stored/)).toBe(false);
  expect((await newestSnapshot(bus, headers))?.seq).toBe(before?.seq);
  expect(readdirSync(kept).filter((name) => !/^\d+\.(sqlite|json)$/.test(name))).toEqual([]);

  // 3. Left alone, query makes the next snapshot: the broken upload gave its claim up.
  watch = new LogWatch(stack.logFile('query'));
  await stack.start('query');
  expect(leftCopies()).toEqual([]);
  await watch.waitFor(/snapshot made and stored by the event bus/, 'query making the next snapshot');
  const made = await newestSnapshot(bus, headers);
  expect(made?.seq).toBeGreaterThanOrEqual((before?.seq ?? 0) + 20_000);
  if (!made) throw new Error('no snapshot kept');
  expect(await downloadSnapshot(bus, headers, made, stack.logDir)).toEqual({
    bytes: made.bytes,
    sha256: made.sha256,
    holds: { schema: 'query@1', seq: made.seq },
  });
  expect(made.bytes).toBeGreaterThan(20_000 * 1_000);

  // 4. A fresh replica starts from it, and shows every post and comment once.
  await stack.stop('query');
  rmSync(stateDir, { recursive: true, force: true });
  watch = new LogWatch(stack.logFile('query'));
  await stack.start('query');
  expect(watch.has(new RegExp(`"seq":${made.seq}[^\\n]*state restored from the newest snapshot`))).toBe(true);
  await expectWholeHistoryOnce();
}, 120_000);
