/**
 * Snapshots on the scaled-out blog (`npm run test:cluster`): the bus replicas keep query's snapshot in a
 * JetStream object store; a query replica that lost its state (a new pod) starts from it, also when it
 * is killed with -9 while it does, and ends with the same view as the other replica.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PostsView } from '@blog/common';
import { http, startNatsCluster, startReplicatedStack, waitFor, type NatsCluster, type ReplicatedStack } from '@blog/testkit';

let dir: string;
let nats: NatsCluster;
let stack: ReplicatedStack;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'blog-cluster-snapshots-'));
  nats = await startNatsCluster({ dir: path.join(dir, 'nats') });
  stack = await startReplicatedStack({ nats, logDir: path.join(dir, 'logs'), serviceEnv: { query: { SNAPSHOT_EVERY_EVENTS: '40' } } });
}, 120_000);

afterAll(async () => {
  await stack?.stopAll();
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function createPosts(count: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const answer = await http(`${stack.url('posts', i % 2)}/posts/create`, { body: { title: `${label} ${i}` }, timeoutMs: 30_000 });
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
      const answer = await http(`${stack.url('event-bus', 1)}/snapshots/query/query@1`, { headers: stack.eventHeaders() });
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
  expect(Object.keys(second as PostsView)).toEqual(Object.keys(first as PostsView));
}, 120_000);
