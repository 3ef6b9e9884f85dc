/**
 * What the snapshot fault tests share: the bus's newest snapshot downloaded and described, or one stored
 * as a replica would; a process frozen (SIGSTOP) for a moment and always thawed, or run step by step; a
 * service's log watched; whether an upload to a port is stalled in the sockets (Linux: /proc/net/tcp);
 * events straight into the bus; how far a service has applied them, and query's whole view.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  watch,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { describeSnapshotFile, type SnapshotInfo } from '@blog/common/state';
import { http } from '@blog/testkit';

/** The newest snapshot of `schema` the bus at `busUrl` names, or undefined when it keeps none. */
export async function newestSnapshot(
  busUrl: string,
  headers: Record<string, string>,
  schema = 'query@1',
): Promise<SnapshotInfo | undefined> {
  const service = schema.split('@')[0] as string;
  const answer = await http(`${busUrl}/snapshots/${service}/${schema}`, { headers, timeoutMs: 30_000 });
  if (answer.status === 404) return undefined;
  if (answer.status !== 200) throw new Error(`GET the newest snapshot: ${answer.status} ${answer.text}`);
  return answer.json as SnapshotInfo;
}

/** What a kept snapshot's bytes are, as a replica would check them after downloading them. */
export interface SnapshotBytes {
  bytes: number;
  sha256: string;
  /** What the file says it holds, or why it cannot be opened as a state. */
  holds: { schema: string; seq: number } | { error: string };
}

/** Downloads a kept snapshot into `dir` (deleted again) and describes its bytes. */
export async function downloadSnapshot(
  busUrl: string,
  headers: Record<string, string>,
  info: SnapshotInfo,
  dir: string,
): Promise<SnapshotBytes> {
  const response = await fetch(`${busUrl}/snapshots/${info.service}/${info.schema}/${info.seq}`, {
    headers,
    signal: AbortSignal.timeout(60_000),
  });
  if (response.status !== 200) throw new Error(`GET snapshot ${info.seq}: ${response.status} ${await response.text()}`);
  const body = Buffer.from(await response.arrayBuffer());
  const file = path.join(dir, `downloaded-${info.schema}-${info.seq}.sqlite`);
  writeFileSync(file, body);
  try {
    let holds: SnapshotBytes['holds'];
    try {
      const made = describeSnapshotFile(file);
      holds = { schema: made.schema, seq: made.seq };
    } catch (err) {
      holds = { error: (err as Error).message };
    }
    return { bytes: body.length, sha256: createHash('sha256').update(body).digest('hex'), holds };
  } finally {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(`${file}${suffix}`, { force: true });
  }
}

/** Processes stopped with SIGSTOP, to be continued whatever happens: `thawAll()` in afterAll. */
export class Freezer {
  private readonly frozen = new Set<number>();

  freeze(pid: number): void {
    process.kill(pid, 'SIGSTOP');
    this.frozen.add(pid);
  }

  thaw(pid: number): void {
    if (!this.frozen.delete(pid)) return;
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // Gone meanwhile.
    }
  }

  thawAll(): void {
    for (const pid of [...this.frozen]) this.thaw(pid);
  }
}

/**
 * Lets a frozen process run in slices of about a millisecond, frozen again after each, until `reached()`
 * holds: a kill that follows lands at that point, also on a machine too busy to act within the few
 * milliseconds the point lasts.
 */
export async function stepUntil(
  freezer: Freezer,
  pid: number,
  reached: () => boolean,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!reached()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    freezer.thaw(pid);
    await new Promise((resolve) => setTimeout(resolve, 1));
    freezer.freeze(pid);
  }
}

/** A log file read from a point on: the lines written since, read as they come (only the new bytes each time). */
export class LogWatch {
  private offset: number;
  private seen = '';

  constructor(private readonly file: string) {
    this.offset = existsSync(file) ? statSync(file).size : 0;
  }

  text(): string {
    const fd = openSync(this.file, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size > this.offset) {
        const chunk = Buffer.alloc(size - this.offset);
        const read = readSync(fd, chunk, 0, chunk.length, this.offset);
        this.offset += read;
        this.seen += chunk.subarray(0, read).toString('utf8');
      }
    } finally {
      closeSync(fd);
    }
    return this.seen;
  }

  has(pattern: RegExp): boolean {
    return pattern.test(this.text());
  }

  /**
   * Waits for a line matching `pattern`, woken by the file's change notifications (and a poll besides): a
   * fault test acts on the line within a millisecond or two of its writing.
   */
  async waitFor(pattern: RegExp, what: string, timeoutMs = 60_000): Promise<void> {
    if (this.has(pattern)) return;
    await new Promise<void>((resolve, reject) => {
      const finish = (err?: Error) => {
        watcher.close();
        clearInterval(poll);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (this.has(pattern)) finish();
      };
      const watcher = watch(this.file, check);
      const poll = setInterval(check, 20);
      const timer = setTimeout(
        () =>
          finish(
            new Error(
              `timed out after ${timeoutMs}ms waiting for ${what}; the log since: ${this.text().slice(-2_000)}`,
            ),
          ),
        timeoutMs,
      );
    });
  }
}

/**
 * Whether a connection to `port` on this machine has bytes it cannot send: the receiver has stopped
 * reading and its socket is full. An upload to a frozen process is in flight and stalled then.
 */
export function uploadStalledTo(port: number): boolean {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const [, , remote, state, queues] = line.trim().split(/\s+/);
      if (remote === undefined || state !== '01' || queues === undefined) continue;
      const remotePort = parseInt(remote.split(':').pop() ?? '', 16);
      const txQueue = parseInt(queues.split(':')[0] ?? '', 16);
      if (remotePort === port && txQueue > 0) return true;
    }
  }
  return false;
}

/** Events straight into the bus, `batch` at a time. */
async function appendEvents(
  busUrl: string,
  headers: Record<string, string>,
  count: number,
  batch: number,
  event: (i: number) => { type: string; data: unknown },
): Promise<void> {
  for (let first = 0; first < count; first += batch) {
    const events = Array.from({ length: Math.min(batch, count - first) }, (_, i) => event(first + i));
    const stored = await http(`${busUrl}/events/batch`, { body: events, headers, timeoutMs: 60_000 });
    if (stored.status !== 201) throw new Error(`POST /events/batch: ${stored.status} ${stored.text.slice(0, 200)}`);
  }
}

/** Posts `<label>-0`, `<label>-1`… straight into the bus, `batch` at a time, their titles padded to `title` characters. */
export function appendPosts(
  busUrl: string,
  headers: Record<string, string>,
  { count, label, title = 0, batch = 5_000 }: { count: number; label: string; title?: number; batch?: number },
): Promise<void> {
  return appendEvents(busUrl, headers, count, batch, (i) => ({
    type: 'PostCreated',
    data: { id: `${label}-${i}`, title: `${label} ${i} `.padEnd(title, 'x').trim() },
  }));
}

/** `count` comments of `length` characters, the i-th on the post `postOf(i)`, straight into the bus: a state of that many bytes more. */
export function appendComments(
  busUrl: string,
  headers: Record<string, string>,
  { count, length, label, postOf }: { count: number; length: number; label: string; postOf: (i: number) => string },
): Promise<void> {
  // Batches of about 3 MB: the bus takes 4 MB at most.
  const batch = Math.max(1, Math.floor(3_000_000 / (length + 200)));
  return appendEvents(busUrl, headers, count, batch, (i) => ({
    type: 'CommentCreated',
    data: { id: `${label}-${i}`, postId: postOf(i), content: `${label} ${i} `.padEnd(length, 'x'), status: 'approved' },
  }));
}

/** Keeps `bytes` as the bus's snapshot of `schema` at `seq`, through its routes as a replica would (claim, then PUT). */
export async function storeSnapshot(
  busUrl: string,
  headers: Record<string, string>,
  { schema, seq, bytes }: { schema: string; seq: number; bytes: Buffer },
): Promise<void> {
  const service = schema.split('@')[0] as string;
  const claim = await http(`${busUrl}/snapshots/${service}/${schema}/claims`, { body: { seq }, headers });
  if (claim.status !== 201) throw new Error(`claiming a snapshot at seq ${seq}: ${claim.status} ${claim.text}`);
  const stored = await fetch(`${busUrl}/snapshots/${service}/${schema}/${seq}`, {
    method: 'PUT',
    headers: {
      ...headers,
      'content-type': 'application/vnd.sqlite3',
      'snapshot-claim': (claim.json as { claim: string }).claim,
      'snapshot-sha256': createHash('sha256').update(bytes).digest('hex'),
    },
    body: new Uint8Array(bytes),
    signal: AbortSignal.timeout(60_000),
  });
  if (stored.status !== 201)
    throw new Error(`storing a snapshot at seq ${seq}: ${stored.status} ${await stored.text()}`);
}

/** One event the services ignore, straight into the bus: its seq, the end of the log once it is stored. */
export async function appendFiller(busUrl: string, headers: Record<string, string>): Promise<number> {
  const answer = await http(`${busUrl}/events`, { body: { type: 'Filler', data: {} }, headers });
  if (answer.status !== 201) throw new Error(`POST /events: ${answer.status} ${answer.text}`);
  return (answer.json as { seq: number }).seq;
}

/** How many events a service process has applied since it started (its `events_applied_total`), or undefined when it does not answer. */
export async function eventsApplied(serviceUrl: string): Promise<number | undefined> {
  try {
    const answer = await http(`${serviceUrl}/metrics`, { timeoutMs: 2_000 });
    if (answer.status !== 200) return undefined;
    let total = 0;
    for (const [, value] of answer.text.matchAll(/^events_applied_total(?:\{[^}]*\})? (\d+(?:\.\d+)?)$/gm))
      total += Number(value);
    return total;
  } catch {
    return undefined;
  }
}

/** Query's whole view, page after page (Link rel="next"): its posts in the order shown, and any shown twice. */
export async function wholeView(queryUrl: string): Promise<{ posts: [string, unknown][]; repeated: string[] }> {
  const posts: [string, unknown][] = [];
  const seen = new Set<string>();
  const repeated: string[] = [];
  for (let next: string | undefined = '/posts'; next !== undefined;) {
    const answer = await http(`${queryUrl}${next}`, { timeoutMs: 30_000 });
    if (answer.status !== 200) throw new Error(`GET ${next}: ${answer.status} ${answer.text.slice(0, 200)}`);
    for (const [id, post] of Object.entries(answer.json as Record<string, unknown>)) {
      if (seen.has(id)) repeated.push(id);
      seen.add(id);
      posts.push([id, post]);
    }
    next = /<([^>]+)>; rel="next"/.exec(answer.headers.get('link') ?? '')?.[1];
  }
  return { posts, repeated };
}
