import type { KV, KvEntry } from '@nats-io/kv';
import { KvLease } from '../src/jetstream/kv-lease';

/**
 * A lease bucket as a server cut off from the others answers it: the key still names this replica (a
 * stale read), while another replica took the lease through the quorum, so every write of this one fails.
 */
function staleBucket() {
  const state = { updates: 0, quorumTakesWrites: false, holder: '' };
  const kv = {
    create: () => Promise.reject(new Error('wrong last sequence: the key exists')),
    get: () => Promise.resolve({ operation: 'PUT', revision: 7, string: () => state.holder } as unknown as KvEntry),
    update: () => {
      state.updates++;
      if (!state.quorumTakesWrites) return Promise.reject(new Error('wrong last sequence: 9'));
      return Promise.resolve(10);
    },
    delete: () => Promise.resolve(),
  };
  return { kv: kv as unknown as KV, state };
}

describe('the delivery lease on JetStream', () => {
  it('is never held on a read of its own name: only once a write of it is taken', async () => {
    const { kv, state } = staleBucket();
    const lease = KvLease.over(kv);
    state.holder = lease.holder;
    const stop = new AbortController();
    let held = false;
    const acquiring = lease.acquire(stop.signal).then(() => (held = true));
    try {
      await new Promise<void>((resolve) => {
        const check = setInterval(() => (state.updates >= 2 || held) && (clearInterval(check), resolve()), 20);
      });
      expect(held).toBe(false);
      state.quorumTakesWrites = true;
      await acquiring;
      expect(held).toBe(true);
    } finally {
      stop.abort();
    }
  });
});
