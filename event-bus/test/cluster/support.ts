import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsCluster, type NatsCluster } from '@blog/testkit';

export interface NatsClusterFixture {
  cluster(): NatsCluster;
  /** A connection of its own, as each bus replica has, as the administrator or the bus's user; closed after the file's tests. */
  connection(as?: 'admin' | 'bus'): Promise<NatsConnection>;
  /** A name no other test of the file uses, for a stream or a bucket. */
  unique(prefix: string): string;
}

/** A 3-node JetStream cluster on 127.0.0.1 for the tests of one file: started before them, stopped after. */
export function useNatsCluster(): NatsClusterFixture {
  let dir: string;
  let cluster: NatsCluster | undefined;
  const connections: NatsConnection[] = [];
  let names = 0;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'bus-nats-'));
    cluster = await startNatsCluster({ dir });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(connections.map((connection) => connection.close()));
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    cluster: () => {
      if (!cluster) throw new Error('the NATS cluster is not running');
      return cluster;
    },
    connection: async (as = 'admin') => {
      if (!cluster) throw new Error('the NATS cluster is not running');
      const { user, password } = cluster.identities[as];
      const connected = await connect({
        servers: cluster.urls,
        user,
        pass: password,
        reconnectTimeWait: 100,
        maxReconnectAttempts: -1,
      });
      connections.push(connected);
      return connected;
    },
    unique: (prefix) => `${prefix}_${++names}`,
  };
}
