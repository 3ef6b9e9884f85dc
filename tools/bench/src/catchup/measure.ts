/** What the catch-up phase measures on a process it started: its first ready answer, its pages, its memory. */
import { delay, peakResidentBytes, percentile, type Stack } from '@blog/testkit';
import { JsonClient } from '../http';
import { readWholeView } from '../whole-view';

const READY_POLL_MS = 10;
const MiB = 2 ** 20;

/**
 * performance.now() of the first 200 from the service's /readyz; gives up when its start fails, or when
 * `stopped()` names a reason to (a process it depends on has exited).
 */
export async function firstReady(
  serviceUrl: string,
  starting: Promise<unknown>,
  stopped: () => string | undefined = () => undefined,
): Promise<number> {
  let startFailed: Error | undefined;
  starting.catch((err: unknown) => {
    startFailed = err instanceof Error ? err : new Error('the service did not start', { cause: err });
  });
  const client = new JsonClient(serviceUrl, { connections: 1, timeoutMs: 1_000 });
  try {
    for (;;) {
      if (startFailed !== undefined) throw startFailed;
      const reason = stopped();
      if (reason !== undefined) throw new Error(`${serviceUrl} was not ready: ${reason}`);
      try {
        const { status } = await client.get('/readyz');
        if (status === 200) return performance.now();
      } catch {
        // not listening yet
      }
      await delay(READY_POLL_MS);
    }
  } finally {
    await client.close();
  }
}

export interface Percentiles {
  p50: number | null;
  p99: number | null;
}

/**
 * `GET /posts` (the first page) on each query, one request at a time, taking turns: each query gets the
 * same moments of the machine, so their figures compare within the run even when its speed drifts.
 */
export async function timeGetPosts(queryUrls: readonly string[], rounds: number): Promise<Percentiles[]> {
  const clients = queryUrls.map((url) => new JsonClient(url, { connections: 1, timeoutMs: 30_000 }));
  const times = clients.map((): number[] => []);
  try {
    for (let round = 0; round < rounds; round++) {
      // Each goes first in every other round.
      const order = round % 2 === 0 ? clients.keys() : [...clients.keys()].reverse();
      for (const index of order) {
        const started = performance.now();
        const { status } = await (clients[index] as JsonClient).get('/posts');
        if (status !== 200) throw new Error(`GET /posts on ${queryUrls[index]} answered ${status}`);
        times[index]?.push(performance.now() - started);
      }
    }
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
  return times.map((samples) => {
    samples.sort((a, b) => a - b);
    return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
  });
}

export interface Shown {
  posts: number;
  comments: number;
  approved: number;
  rejected: number;
  pending: number;
}

/** Every post and comment of query's whole view, counted by status. */
export async function countView(queryUrl: string): Promise<Shown> {
  const query = new JsonClient(queryUrl, { connections: 1, timeoutMs: 60_000 });
  try {
    const shown: Shown = { posts: 0, comments: 0, approved: 0, rejected: 0, pending: 0 };
    // Comments of a post fit in its page here (at most 5 a post): no comments service is needed.
    for (const post of Object.values(await readWholeView(query, query))) {
      shown.posts++;
      for (const comment of post.comments) {
        shown.comments++;
        shown[comment.status]++;
      }
    }
    return shown;
  } finally {
    await query.close();
  }
}

/** Waits until the bus keeps a snapshot of `schema` (e.g. `query@1`) holding at least `seq` events. */
export async function snapshotKept(
  bus: Stack,
  service: string,
  schema: string,
  seq: number,
  timeoutMs: number,
): Promise<{ seq: number; bytes: number }> {
  const client = new JsonClient(bus.url('event-bus'), { connections: 1, timeoutMs: 10_000 });
  const deadline = performance.now() + timeoutMs;
  try {
    for (;;) {
      const { status, body } = await client.get(`/snapshots/${service}/${schema}`, bus.eventHeaders());
      const kept = status === 200 ? (body as { seq: number; bytes: number }) : undefined;
      if (kept && kept.seq >= seq) return kept;
      if (performance.now() > deadline)
        throw new Error(`the bus kept no snapshot of ${schema} at seq ${seq} within ${timeoutMs / 1000} s`);
      await delay(50);
    }
  } finally {
    await client.close();
  }
}

/** The peak resident set of a service of the stack, in MiB, while it runs. */
export function peakRssMiB(stack: Stack, service: Parameters<Stack['pid']>[0]): number | null {
  const pid = stack.pid(service);
  const peak = pid === undefined ? undefined : peakResidentBytes(pid);
  return peak === undefined ? null : peak / MiB;
}
