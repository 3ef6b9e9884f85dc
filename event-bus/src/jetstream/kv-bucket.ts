import { sleep } from '@blog/common';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { isStreamNotFound } from './api-errors';

/** How long opening a bucket may wait for the cluster to create it and elect its leader. */
const BUCKET_READY_TIMEOUT_MS = 60_000;
const PROBE_KEY = 'ready-probe';

/**
 * Opens a key-value bucket, creating it when it does not exist yet (several replicas may race to; a bus
 * whose user may not create streams finds it made at setup), and returns once it answers a read. Binding to
 * a bucket checks nothing, so a create that failed (the cluster did not answer in time) would leave a handle
 * on a stream that does not exist: every use of it would fail.
 */
export async function bucket(
  connection: NatsConnection,
  name: string,
  options: { replicas: number; ttl?: number },
): Promise<KV> {
  const kvm = new Kvm(connection);
  const deadline = Date.now() + BUCKET_READY_TIMEOUT_MS;
  for (;;) {
    try {
      return await readable(await kvm.open(name));
    } catch (openFailed) {
      let failure = openFailed;
      try {
        // No direct gets: a read answered by a lagging replica would hand compare-and-set a stale revision.
        if (isStreamNotFound(openFailed))
          return await readable(
            await kvm.create(name, { replicas: options.replicas, history: 1, ttl: options.ttl, allow_direct: false }),
          );
      } catch (createFailed) {
        failure = createFailed;
      }
      if (Date.now() >= deadline) throw failure;
      await sleep(500);
    }
  }
}

async function readable(kv: KV): Promise<KV> {
  await kv.get(PROBE_KEY);
  return kv;
}
