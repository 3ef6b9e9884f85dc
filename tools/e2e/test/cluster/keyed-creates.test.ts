/**
 * Keyed creates on two replicas of every service and of the bus, on a 3-node NATS JetStream cluster (see
 * ../keyed-creates.ts), with a short duplicate window so that a test can outlive it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNatsCluster, startReplicatedStack, type NatsCluster } from '@blog/testkit';
import { describeKeyedCreatesAcrossReplicas, ID_MEMORY } from '../keyed-creates';

const DUPLICATE_WINDOW_MS = 3_000;

let dir: string;
let nats: NatsCluster | undefined;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'blog-keyed-nats-'));
  nats = await startNatsCluster({ dir });
}, 120_000);

afterAll(async () => {
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describeKeyedCreatesAcrossReplicas('keyed creates on two replicas of every service and of the bus, on NATS JetStream', {
  start: (logDir) => {
    if (!nats) throw new Error('the NATS cluster did not start');
    return startReplicatedStack({
      nats,
      logDir,
      // The window must outlast the bus's own retries of a publish.
      busEnv: {
        EVENT_IDS_REMEMBERED: String(ID_MEMORY),
        NATS_DUPLICATE_WINDOW_MS: String(DUPLICATE_WINDOW_MS),
        NATS_PUBLISH_TIMEOUT_MS: String(DUPLICATE_WINDOW_MS - 1_000),
      },
    });
  },
  duplicateWindowMs: DUPLICATE_WINDOW_MS,
});
