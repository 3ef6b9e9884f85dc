import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startNatsCluster, startReplicatedStack, type NatsCluster, type ReplicatedStack } from '@blog/testkit';

export interface ScaledOutBlog {
  nats(): NatsCluster;
  stack(): ReplicatedStack;
  /** The test file's own folder (NATS stores and logs inside); deleted after its tests. */
  dir(): string;
}

/**
 * The blog scaled out for the tests of one file: a 3-node NATS cluster (named `clusterName` if given) and
 * 2 replicas of the bus and of every service, started before the tests and stopped after them.
 */
export function useScaledOutBlog(prefix: string, { clusterName }: { clusterName?: string } = {}): ScaledOutBlog {
  let dir: string | undefined;
  let nats: NatsCluster | undefined;
  let stack: ReplicatedStack | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    nats = await startNatsCluster({ dir: path.join(dir, 'nats'), name: clusterName });
    stack = await startReplicatedStack({ nats, logDir: path.join(dir, 'logs') });
  }, 120_000);
  afterAll(async () => {
    await stack?.stopAll();
    await nats?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const running = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not running`);
    return value;
  };
  return {
    nats: () => running(nats, 'the NATS cluster'),
    stack: () => running(stack, 'the scaled-out blog'),
    dir: () => running(dir, 'the test folder'),
  };
}
