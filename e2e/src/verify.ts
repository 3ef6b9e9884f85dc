/**
 * Verification of the whole stack's state against a Ledger of requests: reads the bus history, the query
 * view, the posts service and the comments service, and lists every anomaly — an acknowledged request
 * missing (lost), anything there twice (duplicated), anything that was refused showing up (phantom),
 * a wrong moderation status, services that disagree, or a state not settled yet.
 */
import { performance } from 'node:perf_hooks';
import { delay, http, type Stack } from '@blog/testkit';
import { expectedStatus, type CommentRecord, type FinalStatus, type Ledger, type LoadRecord, type PostRecord } from './load';
import type { Comment, Post, PostWithComments, SubscriberStatus } from '@blog/common/api';

// ---- What the services answer --------------------------------------------------------------------

export interface BusEvent {
  seq: number;
  id: string;
  type: string;
  time: string;
  data: unknown;
}



// ---- Anomalies -----------------------------------------------------------------------------------

/**
 * - lost: an acknowledged request is missing from the bus log or from a service;
 * - duplicated: something is there twice (an event in the log, a comment in a list, a reaction);
 * - phantom: a request that was not acknowledged (503, 4xx, connection refused) left something behind,
 *   or something exists that nobody asked for;
 * - wrong: a comment with the wrong final status, or an event that contradicts another;
 * - disagree: posts, comments and query do not show the same thing (or not in the same order);
 * - unsettled: not there yet, but on its way (a subscriber lags, a comment is still pending).
 */
export type AnomalyKind = 'lost' | 'duplicated' | 'phantom' | 'wrong' | 'disagree' | 'unsettled';

export interface Anomaly {
  kind: AnomalyKind;
  /** Stable identity of the problem, so that one seen after an earlier scenario is not counted again. */
  key: string;
  /** Whether waiting cannot fix it (it is in the bus log, which is append-only). */
  permanent: boolean;
  /** Scenario of the request concerned, when there is one. */
  scenario?: string;
  detail: string;
}

export interface Verification {
  anomalies: Anomaly[];
  /** Things checked, for the report. */
  checked: { events: number; posts: number; comments: number };
  subscribers: SubscriberStatus[];
}

// ---- Reading the stack ---------------------------------------------------------------------------

async function getJson<T>(url: string, headers: Record<string, string> = {}): Promise<T> {
  const answer = await http(url, { headers, timeoutMs: 10_000 });
  if (answer.status !== 200) throw new Error(`GET ${url}: HTTP ${answer.status} ${answer.text.slice(0, 200)}`);
  return answer.json as T;
}

/**
 * The bus history, read incrementally: the log is append-only, so events already read are kept and only
 * newer ones fetched (the last cached event is read again to check it did not change).
 */
export class HistoryReader {
  private events: BusEvent[] = [];
  private static readonly PAGE = 10_000;

  /** `stack` may be replaced meanwhile (a test restarting the stack): it is read at each call. */
  constructor(private readonly stack: () => Pick<Stack, 'url' | 'eventHeaders'>) {}

  private page(after: number, limit: number): Promise<BusEvent[]> {
    const stack = this.stack();
    return getJson<BusEvent[]>(`${stack.url('event-bus')}/events?after=${after}&limit=${limit}`, stack.eventHeaders());
  }

  async read(): Promise<BusEvent[]> {
    if (this.events.length > 0) {
      const last = this.events[this.events.length - 1] as BusEvent;
      const [again] = await this.page(last.seq - 1, 1);
      if (again?.id !== last.id) this.events = [];
    }
    for (;;) {
      const after = this.events.length;
      const page = await this.page(after, HistoryReader.PAGE);
      this.events.push(...page);
      if (page.length < HistoryReader.PAGE) return this.events;
    }
  }
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function pooled<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ---- The checks ----------------------------------------------------------------------------------

const asRecord = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The marker in a title or content written by the load generator, if it is one. */
function markerOf(text: string | undefined, runId: string): string | undefined {
  if (text === undefined) return undefined;
  const word = text.startsWith('post ') ? text.slice(5) : text.split(' ')[0];
  return word !== undefined && word.startsWith(`${runId}-`) ? word : undefined;
}

export interface VerifyOptions {
  stack: Stack;
  ledger: Ledger;
  runId: string;
  history: HistoryReader;
  /** Also read every post's list from the comments service (one request per post). Default true. */
  readCommentLists?: boolean;
}

/** Reads the whole stack once and lists every anomaly. Throws when a service does not answer. */
export async function verifyOnce({ stack, ledger, runId, history, readCommentLists = true }: VerifyOptions): Promise<Verification> {
  const anomalies: Anomaly[] = [];
  const add = (kind: AnomalyKind, key: string, permanent: boolean, detail: string, record?: LoadRecord) =>
    anomalies.push({ kind, key: `${kind}:${key}`, permanent, detail, ...(record ? { scenario: record.scenario } : {}) });

  const [events, query, posts, subscribers] = await Promise.all([
    history.read(),
    getJson<Record<string, PostWithComments>>(`${stack.url('query')}/posts`),
    getJson<Record<string, Post>>(`${stack.url('posts')}/posts`),
    getJson<SubscriberStatus[]>(`${stack.url('event-bus')}/subscribers`),
  ]);

  for (const subscriber of subscribers) {
    if (subscriber.lag > 0) add('unsettled', `lag:${subscriber.url}`, false, `bus → ${subscriber.url}: ${subscriber.lag} events not delivered yet (${subscriber.lastError ?? 'no error'})`);
  }

  // -- The bus log ---------------------------------------------------------------------------------
  events.forEach((event, index) => {
    if (event.seq !== index + 1) add('wrong', `seq:${index + 1}`, true, `history position ${index + 1} holds seq ${event.seq}`);
  });
  const postEvents = new Map<string, BusEvent[]>(); // PostCreated by post id
  const postEventsByMarker = new Map<string, BusEvent[]>();
  const created = new Map<string, BusEvent[]>(); // CommentCreated by comment id
  const createdByMarker = new Map<string, BusEvent[]>();
  const moderated = new Map<string, BusEvent[]>();
  const updated = new Map<string, BusEvent[]>();
  const push = (map: Map<string, BusEvent[]>, key: string | undefined, event: BusEvent) => {
    if (key === undefined) return;
    const list = map.get(key);
    if (list) list.push(event);
    else map.set(key, [event]);
  };
  for (const event of events) {
    const data = asRecord(event.data);
    const id = str(data.id);
    switch (event.type) {
      case 'PostCreated':
        push(postEvents, id, event);
        push(postEventsByMarker, markerOf(str(data.title), runId) ?? `unmarked:${id}`, event);
        break;
      case 'CommentCreated':
        push(created, id, event);
        push(createdByMarker, markerOf(str(data.content), runId) ?? `unmarked:${id}`, event);
        break;
      case 'CommentModerated':
        push(moderated, id, event);
        break;
      case 'CommentUpdated':
        push(updated, id, event);
        break;
      default:
        add('phantom', `event:${event.seq}`, true, `unexpected ${event.type} event at seq ${event.seq}`);
    }
  }
  const seqs = (list: readonly BusEvent[] | undefined) => (list ?? []).map((event) => event.seq).join(',');
  for (const [id, list] of postEvents) if (list.length > 1) add('duplicated', `PostCreated:${id}`, true, `post ${id}: ${list.length} PostCreated (seq ${seqs(list)})`);
  for (const [marker, list] of postEventsByMarker) {
    if (list.length > 1) add('duplicated', `post:${marker}`, true, `${list.length} PostCreated with the title of ${marker} (seq ${seqs(list)})`);
  }
  for (const [marker, list] of createdByMarker) {
    if (list.length > 1) add('duplicated', `comment:${marker}`, true, `${list.length} CommentCreated with the content of ${marker} (seq ${seqs(list)})`);
  }
  for (const [id, list] of created) {
    const createdEvent = list[0] as BusEvent;
    if (list.length > 1) add('duplicated', `CommentCreated:${id}`, true, `comment ${id}: ${list.length} CommentCreated (seq ${seqs(list)})`);
    const content = str(asRecord(createdEvent.data).content) ?? '';
    const rule: FinalStatus = expectedStatus(content);
    const decisions = moderated.get(id) ?? [];
    const updates = updated.get(id) ?? [];
    if (decisions.length > 1) add('duplicated', `CommentModerated:${id}`, true, `comment ${id} "${content}": ${decisions.length} CommentModerated (seq ${seqs(decisions)})`);
    if (updates.length > 1) add('duplicated', `CommentUpdated:${id}`, true, `comment ${id} "${content}": ${updates.length} CommentUpdated (seq ${seqs(updates)})`);
    if (decisions.length === 0) add('unsettled', `CommentModerated:${id}`, false, `comment ${id} "${content}" (seq ${createdEvent.seq}): no CommentModerated yet`);
    if (updates.length === 0) add('unsettled', `CommentUpdated:${id}`, false, `comment ${id} "${content}" (seq ${createdEvent.seq}): no CommentUpdated yet`);
    for (const event of [...decisions, ...updates]) {
      const status = str(asRecord(event.data).status);
      if (status !== rule) add('wrong', `status:${event.type}:${id}`, true, `comment ${id} "${content}": ${event.type} (seq ${event.seq}) says ${status}, the orange rule says ${rule}`);
      if (event.seq < createdEvent.seq) add('wrong', `order:${event.type}:${id}`, true, `comment ${id}: ${event.type} (seq ${event.seq}) before its CommentCreated (seq ${createdEvent.seq})`);
    }
  }
  for (const [id, list] of [...moderated, ...updated]) {
    if (!created.has(id)) add('wrong', `orphan:${id}`, true, `${list.length} reaction(s) for comment ${id} that was never created (seq ${seqs(list)})`);
  }

  // -- The views -----------------------------------------------------------------------------------
  const queryPosts = Object.values(query);
  const queryComments = new Map<string, { postId: string; comment: Comment }[]>();
  for (const post of queryPosts) {
    for (const comment of post.comments) {
      const list = queryComments.get(comment.id);
      const entry = { postId: post.id, comment };
      if (list) list.push(entry);
      else queryComments.set(comment.id, [entry]);
    }
  }
  for (const [id, list] of queryComments) if (list.length > 1) add('duplicated', `query-comment:${id}`, false, `query lists comment ${id} ${list.length} times`);

  const postIds = [...new Set([...Object.keys(query), ...Object.keys(posts)])];
  const commentLists = new Map<string, Comment[]>();
  if (readCommentLists) {
    const lists = await pooled(postIds, 8, (postId) => getJson<Comment[]>(`${stack.url('comments')}/posts/${encodeURIComponent(postId)}/comments`));
    postIds.forEach((postId, index) => commentLists.set(postId, lists[index] as Comment[]));
  }

  // Every post shown anywhere was asked for, and the three services show the same posts and comments.
  const records = new Map<string, LoadRecord>();
  for (const record of ledger.records()) records.set(record.marker, record);
  // Both list posts oldest first (in the order of their events).
  const inBoth = new Set(Object.keys(posts).filter((id) => query[id] !== undefined));
  const postsOrder = Object.keys(posts).filter((id) => inBoth.has(id));
  const queryOrder = Object.keys(query).filter((id) => inBoth.has(id));
  const firstDifference = postsOrder.findIndex((id, index) => queryOrder[index] !== id);
  if (firstDifference >= 0) {
    add('disagree', 'post-order', false, `posts and query list posts in another order from position ${firstDifference}: ${postsOrder[firstDifference]} vs ${queryOrder[firstDifference]}`);
  }
  for (const postId of postIds) {
    const inQuery = query[postId];
    const inPosts = posts[postId];
    if (!inQuery || !inPosts) {
      const where = inQuery ? 'query but not in posts' : 'posts but not in query';
      add(inQuery ? 'disagree' : 'unsettled', `post-views:${postId}`, false, `post ${postId} "${(inQuery ?? inPosts)?.title}" is in ${where}`);
    } else if (inQuery.title !== inPosts.title) {
      add('disagree', `post-title:${postId}`, false, `post ${postId}: query says "${inQuery.title}", posts says "${inPosts.title}"`);
    }
    const marker = markerOf((inQuery ?? inPosts)?.title, runId);
    if (marker === undefined || records.get(marker)?.kind !== 'post') {
      add('phantom', `post-unknown:${postId}`, false, `post ${postId} "${(inQuery ?? inPosts)?.title}" was never requested`);
    }
    const list = commentLists.get(postId);
    if (list && inQuery) {
      const fromQuery = inQuery.comments.map(({ id, content, status }) => `${id}|${content}|${status}`);
      const fromComments = list.map(({ id, content, status }) => `${id}|${content}|${status}`);
      if (fromQuery.join('\n') !== fromComments.join('\n')) {
        if ([...fromQuery].sort().join('\n') === [...fromComments].sort().join('\n')) {
          add('disagree', `comment-order:${postId}`, false, `post ${postId}: the comments service lists the same comments as query in another order`);
        } else {
          const onlyQuery = fromQuery.filter((item) => !fromComments.includes(item));
          const onlyComments = fromComments.filter((item) => !fromQuery.includes(item));
          add('unsettled', `comment-views:${postId}`, false, `post ${postId}: only in query [${onlyQuery.join('; ')}], only in comments [${onlyComments.join('; ')}]`);
        }
      }
      if (new Set(list.map((comment) => comment.id)).size !== list.length) add('duplicated', `comments-list:${postId}`, false, `the comments service lists a comment twice for post ${postId}`);
    }
    for (const comment of inQuery?.comments ?? []) {
      const commentMarker = markerOf(comment.content, runId);
      if (commentMarker === undefined || records.get(commentMarker)?.kind !== 'comment') {
        add('phantom', `comment-unknown:${comment.id}`, false, `comment ${comment.id} "${comment.content}" on post ${postId} was never requested`);
      }
    }
  }

  // -- Every request of the ledger -----------------------------------------------------------------
  for (const record of ledger.records()) {
    const inLog = record.kind === 'post' ? (postEventsByMarker.get(record.marker) ?? []) : (createdByMarker.get(record.marker) ?? []);
    if (record.outcome === 'refused' || record.outcome === 'rejected' || record.outcome === 'unreached') {
      if (inLog.length > 0) {
        add('phantom', `${record.kind}:${record.marker}`, true, `${describe(record)} is in the bus log (seq ${seqs(inLog)})`, record);
      }
      continue;
    }
    if ((record.outcome === 'ambiguous' || record.outcome === 'unconfirmed') && inLog.length === 0) continue; // never created: fine
    const id = record.outcome === 'acknowledged' ? record.id : str(asRecord(inLog[0]?.data).id);
    if (id === undefined) continue;
    if (record.outcome === 'acknowledged' && !inLog.some((event) => str(asRecord(event.data).id) === id)) {
      add('lost', `${record.kind}:${record.marker}`, true, `${describe(record)} was acknowledged as ${id} but its event is not in the bus log`, record);
      continue;
    }
    if (record.kind === 'post') checkPost(record, id, query, posts, add);
    else checkComment(record, id, queryComments, commentLists, readCommentLists, add);
  }

  return {
    anomalies,
    checked: { events: events.length, posts: postIds.length, comments: queryComments.size },
    subscribers,
  };
}

type Add = (kind: AnomalyKind, key: string, permanent: boolean, detail: string, record?: LoadRecord) => void;

function describe(record: LoadRecord): string {
  const answer = record.outcome === 'acknowledged' ? '' : `, ${record.httpStatus ?? 'no answer'} after ${record.latencyMs} ms${record.error ? `: ${record.error.slice(0, 160)}` : ''}`;
  return record.kind === 'post' ? `post "${record.title}" (${record.outcome}${answer})` : `comment "${record.content}" (${record.outcome}${answer})`;
}

function checkPost(record: PostRecord, id: string, query: Record<string, PostWithComments>, posts: Record<string, Post>, add: Add): void {
  for (const [service, post] of [
    ['query', query[id]],
    ['posts', posts[id]],
  ] as const) {
    if (!post) add('unsettled', `${service}-post:${record.marker}`, false, `${describe(record)}: ${service} does not show post ${id}`, record);
    else if (post.title !== record.title) add('wrong', `${service}-title:${record.marker}`, false, `${describe(record)}: ${service} shows title "${post.title}"`, record);
  }
}

function checkComment(
  record: CommentRecord,
  id: string,
  queryComments: Map<string, { postId: string; comment: Comment }[]>,
  commentLists: Map<string, Comment[]>,
  readCommentLists: boolean,
  add: Add,
): void {
  const shown = queryComments.get(id) ?? [];
  const views: [string, Comment | undefined, string | undefined][] = [['query', shown[0]?.comment, shown[0]?.postId]];
  if (readCommentLists) views.push(['comments', commentLists.get(record.postId)?.find((comment) => comment.id === id), record.postId]);
  for (const [service, comment, postId] of views) {
    if (!comment) {
      add('unsettled', `${service}-comment:${record.marker}`, false, `${describe(record)}: ${service} does not show comment ${id} on post ${record.postId}`, record);
    } else if (postId !== record.postId) {
      add('wrong', `${service}-comment-post:${record.marker}`, false, `${describe(record)}: ${service} shows it on post ${postId}, not ${record.postId}`, record);
    } else if (comment.content !== record.content) {
      add('wrong', `${service}-content:${record.marker}`, false, `${describe(record)}: ${service} shows content "${comment.content}"`, record);
    } else if (comment.status !== record.expected) {
      const kind = comment.status === 'pending' ? 'unsettled' : 'wrong';
      add(kind, `${service}-status:${record.marker}`, false, `${describe(record)}: ${service} shows ${comment.status}, expected ${record.expected}`, record);
    }
  }
}

// ---- Polling until it passes ---------------------------------------------------------------------

export interface PollOptions extends VerifyOptions {
  /** Anomaly keys already reported earlier: not counted again. */
  known: ReadonlySet<string>;
  /** Give up at this performance.now() time. */
  deadline: number;
  intervalMs?: number;
  /** Called after every check (for debugging slow recoveries). */
  onCheck?: (fresh: readonly Anomaly[], last: Verification) => void;
}

export interface PollResult {
  passed: boolean;
  /** performance.now() when the first passing verification completed. */
  passedAt?: number;
  /** The last verification, and its anomalies not in `known`. */
  last: Verification;
  fresh: Anomaly[];
  polls: number;
}

/**
 * Verifies again and again until there is no new anomaly (then once more with the comments service's lists,
 * which cost a request per post), or until the deadline. Gives up early when the only new anomalies left
 * are permanent ones (in the append-only bus log) and have not changed for 2 s with every subscriber
 * caught up.
 */
export async function verifyUntilPassing(options: PollOptions): Promise<PollResult> {
  const { known, deadline, intervalMs = 250, onCheck } = options;
  let polls = 0;
  let last: Verification | undefined;
  let fresh: Anomaly[] = [];
  let lastError: unknown;
  let stableSince: number | undefined;
  let stableKeys = '';
  while (performance.now() < deadline || last === undefined) {
    polls++;
    try {
      // While the bus is still delivering, reading every view would only slow it down: wait for lag 0
      // first (one small request), then the checks without the comment lists, then the full one.
      const subscribers = await getJson<SubscriberStatus[]>(`${options.stack.url('event-bus')}/subscribers`);
      const lagging = subscribers.filter((subscriber) => subscriber.lag > 0);
      if (lagging.length > 0 && last !== undefined) {
        const lags: Anomaly[] = lagging.map((subscriber) => ({
          kind: 'unsettled',
          key: `unsettled:lag:${subscriber.url}`,
          permanent: false,
          detail: `bus → ${subscriber.url}: ${subscriber.lag} events not delivered yet (${subscriber.lastError ?? 'no error'})`,
        }));
        fresh = [...lags, ...fresh.filter((anomaly) => !anomaly.key.startsWith('unsettled:lag:'))];
        last = { ...last, subscribers };
        onCheck?.(fresh, last);
        stableKeys = '';
        stableSince = undefined;
        await delay(intervalMs);
        continue;
      }
      last = await verifyOnce({ ...options, readCommentLists: false });
      fresh = last.anomalies.filter((anomaly) => !known.has(anomaly.key));
      if (fresh.length === 0) {
        last = await verifyOnce({ ...options, readCommentLists: true });
        fresh = last.anomalies.filter((anomaly) => !known.has(anomaly.key));
      }
      onCheck?.(fresh, last);
      if (fresh.length === 0) return { passed: true, passedAt: performance.now(), last, fresh, polls };
      const keys = fresh.map((anomaly) => anomaly.key).sort().join('\n');
      const settled = fresh.every((anomaly) => anomaly.permanent) && last.subscribers.every((subscriber) => subscriber.lag === 0);
      if (!settled || keys !== stableKeys) {
        stableKeys = keys;
        stableSince = settled ? performance.now() : undefined;
      } else if (stableSince !== undefined && performance.now() - stableSince > 2_000) {
        break;
      }
    } catch (err) {
      lastError = err;
      if (performance.now() >= deadline && last === undefined) throw err;
    }
    await delay(intervalMs);
  }
  if (!last) throw lastError instanceof Error ? lastError : new Error(String(lastError));
  return { passed: false, last, fresh, polls };
}

/** A short summary of anomalies for an assertion message: counts by kind, then the first few in full. */
export function summarize(anomalies: readonly Anomaly[], limit = 15): string {
  if (anomalies.length === 0) return 'no anomalies';
  const counts = new Map<AnomalyKind, number>();
  for (const anomaly of anomalies) counts.set(anomaly.kind, (counts.get(anomaly.kind) ?? 0) + 1);
  const head = [...counts].map(([kind, count]) => `${count} ${kind}`).join(', ');
  const lines = anomalies.slice(0, limit).map((anomaly) => `  - [${anomaly.kind}${anomaly.permanent ? ', permanent' : ''}] ${anomaly.detail}`);
  const more = anomalies.length > limit ? [`  … and ${anomalies.length - limit} more`] : [];
  return [head, ...lines, ...more].join('\n');
}
