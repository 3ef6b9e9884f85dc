/**
 * What the replicated event log will rely on, checked on a real 3-node JetStream cluster on 127.0.0.1
 * (`npm run test:cluster`; it needs a nats-server 2.10.23 or later: tools/scripts/nats-server.sh):
 * an event id published again is stored once and answered with its first seq; seqs have no holes; a
 * publish retried with the same id across a kill -9 of the stream's leader is stored exactly once; and a
 * node started again catches up, as its own copy of the stream shows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { delay, startNatsCluster, waitFor, type NatsCluster } from '@blog/testkit';

const STREAM = 'EVENTS';
let dir: string;
let cluster: NatsCluster;
let nc: NatsConnection;
let js: JetStreamClient;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'nats-cluster-'));
  cluster = await startNatsCluster({ dir });
  nc = await connect({
    servers: cluster.urls,
    user: cluster.identities.admin.user,
    pass: cluster.identities.admin.password,
    reconnectTimeWait: 100,
    maxReconnectAttempts: -1,
  });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: STREAM,
    subjects: ['events.>'],
    num_replicas: 3,
    duplicate_window: 120 * 1_000_000_000,
  });
  js = jetstream(nc);
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Publishes with the event id as Nats-Msg-Id, retrying the same id until JetStream acknowledges it. */
async function publishUntilAcknowledged(id: string, deadline: number): Promise<{ seq: number; duplicate: boolean }> {
  for (;;) {
    try {
      const ack = await js.publish('events.test', JSON.stringify({ id }), { msgID: id, timeout: 2_000 });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await delay(100);
    }
  }
}

const streamLeader = () => cluster.streamLeader(STREAM);
const ownCopy = (node: number) => cluster.streamCopy(node, STREAM);

describe('JetStream on a 3-node cluster', () => {
  test('an id published again is stored once and answered with its first seq; seqs have no holes', async () => {
    const first = await publishUntilAcknowledged('a', Date.now() + 10_000);
    const again = await publishUntilAcknowledged('a', Date.now() + 10_000);
    const next = await publishUntilAcknowledged('b', Date.now() + 10_000);
    expect(again).toEqual({ seq: first.seq, duplicate: true });
    expect(next).toEqual({ seq: first.seq + 1, duplicate: false });
  });

  test("kill -9 of the stream's leader under publishing: every id acknowledged, stored exactly once, in a contiguous run", async () => {
    const before = (await ownCopy(0)).last;
    const leader = await streamLeader();
    const ids = Array.from({ length: 200 }, (_, i) => `leader-kill-${i}`);
    const deadline = Date.now() + 30_000;
    let next = 0;
    const publishers = Array.from({ length: 8 }, async () => {
      const acks: { id: string; seq: number }[] = [];
      while (next < ids.length) {
        const id = ids[next++] as string;
        acks.push({ id, seq: (await publishUntilAcknowledged(id, deadline)).seq });
      }
      return acks;
    });
    await delay(50);
    await cluster.kill(leader);
    const acks = (await Promise.all(publishers)).flat();
    const seqs = acks.map((ack) => ack.seq).sort((a, b) => a - b);
    expect(new Set(acks.map((ack) => ack.id)).size).toBe(ids.length);
    expect(seqs).toEqual(Array.from({ length: ids.length }, (_, i) => before + 1 + i));

    // The killed node, started again on its store, catches up: its own copy ends where the others' do.
    await cluster.start(leader);
    const survivor = leader === 0 ? 1 : 0;
    await waitFor(
      async () => {
        const [own, other] = await Promise.all([ownCopy(leader), ownCopy(survivor)]);
        return own.last === other.last && own.messages === other.messages && own.last === before + ids.length;
      },
      { what: 'the restarted node to catch up', timeoutMs: 30_000 },
    );
  });
});
