/**
 * A fresh query replica starts from the snapshot the bus keeps of query's state, plus the events after
 * it, instead of from the first event: the whole stack as real processes on the file log.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { PostsView } from '@blog/common';
import { eventually, http, startStack, waitFor, type Stack } from '@blog/testkit';

const LOGS = path.join(__dirname, '..', 'artifacts', 'logs');
const EVERY = 40;

let stack: Stack;

beforeAll(async () => {
  const snapshotEvery = { SNAPSHOT_EVERY_EVENTS: String(EVERY) };
  stack = await startStack({
    logDir: path.join(LOGS, 'snapshots'),
    env: { query: snapshotEvery, comments: snapshotEvery },
  });
}, 30_000);

afterAll(async () => {
  await stack?.stopAll({ timeoutMs: 10_000 });
});

async function createPosts(count: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const post = await http(`${stack.url('posts')}/posts`, { body: { title: `${label} ${i}` } });
    expect(post.status).toBe(201);
    const { id } = post.json as { id: string };
    ids.push(id);
    expect(
      (
        await http(`${stack.url('comments')}/posts/${id}/comments`, {
          body: { content: i % 2 === 0 ? 'fine' : 'orange' },
        })
      ).status,
    ).toBe(201);
  }
  return ids;
}

/** The view once every comment of `ids` is moderated. */
async function settledView(ids: readonly string[]): Promise<PostsView> {
  return waitFor(
    async () => {
      const view = (await http(`${stack.url('query')}/posts`)).json as PostsView;
      const settled = ids.every((id) => view[id]?.comments.length === 1 && view[id]?.comments[0]?.status !== 'pending');
      return settled ? view : undefined;
    },
    { what: 'every comment moderated in query', timeoutMs: 15_000 },
  );
}

const newestSnapshot = async (schema: string) => {
  const answer = await http(`${stack.url('event-bus')}/snapshots/${schema.split('@')[0]}/${schema}`, {
    headers: stack.eventHeaders(),
  });
  return answer.status === 200 ? (answer.json as { seq: number }) : undefined;
};

test('a fresh query replica starts from the newest snapshot and reads only the events after it', async () => {
  const before = await createPosts(15, 'before the snapshot');
  await settledView(before);
  const snapshot = await waitFor(async () => newestSnapshot('query@1'), {
    what: 'a snapshot of query kept by the bus',
    timeoutMs: 15_000,
  });
  expect(snapshot.seq).toBeGreaterThanOrEqual(EVERY);
  // Comments, also snapshotted, keeps its own.
  await waitFor(async () => newestSnapshot('comments@2'), {
    what: 'a snapshot of comments kept by the bus',
    timeoutMs: 15_000,
  });

  // A new replica: no state of its own. Events go on while it is away.
  await stack.stop('query');
  rmSync(path.join(stack.stateDir, 'query'), { recursive: true, force: true });
  const after = await createPosts(5, 'after the snapshot');
  await stack.start('query');

  const log = readFileSync(stack.logFile('query'), 'utf8');
  const restored = log
    .split('\n')
    .filter((line) => line.includes('state restored from the newest snapshot'))
    .map((line) => JSON.parse(line) as { seq: number })
    .at(-1);
  expect(restored?.seq).toBeGreaterThanOrEqual(snapshot.seq);
  const caughtUp = log
    .split('\n')
    .filter((line) => line.includes('caught up with the event history'))
    .map((line) => JSON.parse(line) as { resumedFrom: number })
    .at(-1);
  expect(caughtUp?.resumedFrom).toBe(restored?.seq);

  const view = await settledView([...before, ...after]);
  for (const [index, id] of [...before, ...after].entries()) {
    const comments = view[id]?.comments ?? [];
    expect(comments).toHaveLength(1);
    expect(comments[0]?.status).toBe(
      (index < before.length ? index : index - before.length) % 2 === 0 ? 'approved' : 'rejected',
    );
  }
});

test('a killed replica resumes from its own state, not from the snapshot or the first event', async () => {
  const ids = await createPosts(3, 'before the kill');
  await settledView(ids);
  const restores = () =>
    readFileSync(stack.logFile('query'), 'utf8').split('state restored from the newest snapshot').length;
  const restoredBefore = restores();
  await stack.kill('query');
  await stack.start('query');
  expect(restores()).toBe(restoredBefore);
  const log = readFileSync(stack.logFile('query'), 'utf8').split('\n');
  const caughtUp = log
    .filter((line) => line.includes('caught up with the event history'))
    .map((line) => JSON.parse(line) as { resumedFrom: number; position: number })
    .at(-1);
  expect(caughtUp?.resumedFrom).toBeGreaterThan(0);
  await eventually(
    async () =>
      expect(Object.keys((await http(`${stack.url('query')}/posts`)).json as PostsView)).toEqual(
        expect.arrayContaining(ids),
      ),
    { timeoutMs: 10_000 },
  );
});
