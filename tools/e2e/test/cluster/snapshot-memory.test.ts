/**
 * A bus on JetStream sends a snapshot larger than its own memory limit to a replica that reads it slowly:
 * the bus runs in a memory cgroup (a pod's limit), the snapshot is bigger than that limit, and the bus
 * must send it whole, at the reader's pace, without being killed for memory. (A fresh replica on 10M
 * events downloads a snapshot of several hundred MB; the bus's limit in infra/k8s is 512 MiB.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MemoryCgroup, natsBusEnv, startNatsServer, startStack, type NatsServer, type Stack } from '@blog/testkit';
import { appendFiller, storeSnapshot } from '../../src/faults/snapshots';

const MiB = 2 ** 20;
const BUS_LIMIT_BYTES = 160 * MiB;
const SNAPSHOT_BYTES = 240 * MiB;

let dir: string;
let nats: NatsServer | undefined;
let stack: Stack | undefined;
let cgroup: MemoryCgroup | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'blog-snapshot-memory-'));
  const made = MemoryCgroup.create(`blog-test-${process.pid}-snapshot-memory`, BUS_LIMIT_BYTES);
  if (typeof made === 'string') throw new Error(made);
  cgroup = made;
  nats = await startNatsServer({ dir: path.join(dir, 'nats') });
  stack = await startStack({
    services: ['event-bus'],
    logDir: path.join(dir, 'logs'),
    env: { 'event-bus': { ...natsBusEnv([nats.url], nats.identities), NATS_REPLICAS: '1', EVENT_SUBSCRIBERS: 'none' } },
    onSpawn: (_name, pid) => cgroup?.add(pid),
  });
}, 120_000);

afterAll(async () => {
  await stack?.stopAll();
  await nats?.stop();
  cgroup?.remove();
  rmSync(dir, { recursive: true, force: true });
});

test("a snapshot larger than the bus's memory limit goes to a slow reader whole, and the bus is never killed for memory", async () => {
  const bus = (stack as Stack).url('event-bus');
  const headers = (stack as Stack).eventHeaders();
  const bytes = randomBytes(SNAPSHOT_BYTES);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const seq = await appendFiller(bus, headers);
  await storeSnapshot(bus, headers, { schema: 'query@1', seq, bytes });

  // Read slowly: a pause after every chunk, so that the bus would hold most of the snapshot if it did not wait.
  const response = await fetch(`${bus}/snapshots/query/query@1/${seq}`, {
    headers,
    signal: AbortSignal.timeout(300_000),
  });
  expect(response.status).toBe(200);
  const received = createHash('sha256');
  let length = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    received.update(chunk);
    length += chunk.length;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  expect([length, received.digest('hex')]).toEqual([SNAPSHOT_BYTES, sha256]);
  expect((cgroup as MemoryCgroup).memory().oomKills).toBe(0);
  expect((stack as Stack).isRunning('event-bus')).toBe(true);
}, 300_000);
