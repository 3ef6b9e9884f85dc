/**
 * One verification of the whole stack against the Ledger: every acknowledged request there once, nothing
 * refused there, the right moderation status, the services agreeing, one reaction of each kind per comment.
 */
import type { Stack } from '@blog/testkit';
import { type Comment, isRecord, type Post, type PostWithComments, type SubscriberStatus } from '@blog/common/api';
import {
  type CommentRecord,
  expectedStatus,
  type FinalStatus,
  type Ledger,
  type LoadRecord,
  type PostRecord,
} from '../load';
import type { Anomaly, AnomalyKind, Verification } from './anomalies';
import { type BusEvent, getJson, type HistoryReader, pooled } from './reading';

const asRecord = (value: unknown): Record<string, unknown> => (isRecord(value) ? value : {});
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/** The marker in a title or content written by the load generator, if it is one. */
function markerOf(text: string | undefined, runId: string): string | undefined {
  if (text === undefined) return undefined;
  const word = text.startsWith('post ') ? text.slice(5) : text.split(' ')[0];
  return word !== undefined && word.startsWith(`${runId}-`) ? word : undefined;
}

export interface VerifyOptions {
  /** Where the services are: one stack, or one replica of each service of a scaled-out one. */
  stack: Pick<Stack, 'url' | 'eventHeaders'>;
  ledger: Ledger;
  runId: string;
  history: HistoryReader;
  /** Also read every post's list from the comments service (one request per post). Default true. */
  readCommentLists?: boolean;
}

/** Reads the whole stack once and lists every anomaly. Throws when a service does not answer. */
export async function verifyOnce({
  stack,
  ledger,
  runId,
  history,
  readCommentLists = true,
}: VerifyOptions): Promise<Verification> {
  const anomalies: Anomaly[] = [];
  const add = (kind: AnomalyKind, key: string, permanent: boolean, detail: string, record?: LoadRecord) =>
    anomalies.push({
      kind,
      key: `${kind}:${key}`,
      permanent,
      detail,
      ...(record ? { scenario: record.scenario } : {}),
    });

  const [events, query, posts, subscribers] = await Promise.all([
    history.read(),
    getJson<Record<string, PostWithComments>>(`${stack.url('query')}/posts`),
    getJson<Record<string, Post>>(`${stack.url('posts')}/posts`),
    getJson<SubscriberStatus[]>(`${stack.url('event-bus')}/subscribers`, stack.eventHeaders()),
  ]);

  for (const subscriber of subscribers) {
    if (subscriber.lag > 0)
      add(
        'unsettled',
        `lag:${subscriber.url}`,
        false,
        `bus → ${subscriber.url}: ${subscriber.lag} events not delivered yet (${subscriber.lastError ?? 'no error'})`,
      );
  }

  // -- The bus log ---------------------------------------------------------------------------------
  events.forEach((event, index) => {
    if (event.seq !== index + 1)
      add('wrong', `seq:${index + 1}`, true, `history position ${index + 1} holds seq ${event.seq}`);
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
  for (const [id, list] of postEvents)
    if (list.length > 1)
      add('duplicated', `PostCreated:${id}`, true, `post ${id}: ${list.length} PostCreated (seq ${seqs(list)})`);
  for (const [marker, list] of postEventsByMarker) {
    if (list.length > 1)
      add(
        'duplicated',
        `post:${marker}`,
        true,
        `${list.length} PostCreated with the title of ${marker} (seq ${seqs(list)})`,
      );
  }
  for (const [marker, list] of createdByMarker) {
    if (list.length > 1)
      add(
        'duplicated',
        `comment:${marker}`,
        true,
        `${list.length} CommentCreated with the content of ${marker} (seq ${seqs(list)})`,
      );
  }
  for (const [id, list] of created) {
    const createdEvent = list[0] as BusEvent;
    if (list.length > 1)
      add(
        'duplicated',
        `CommentCreated:${id}`,
        true,
        `comment ${id}: ${list.length} CommentCreated (seq ${seqs(list)})`,
      );
    const content = str(asRecord(createdEvent.data).content) ?? '';
    const rule: FinalStatus = expectedStatus(content);
    const decisions = moderated.get(id) ?? [];
    const updates = updated.get(id) ?? [];
    if (decisions.length > 1)
      add(
        'duplicated',
        `CommentModerated:${id}`,
        true,
        `comment ${id} "${content}": ${decisions.length} CommentModerated (seq ${seqs(decisions)})`,
      );
    if (updates.length > 1)
      add(
        'duplicated',
        `CommentUpdated:${id}`,
        true,
        `comment ${id} "${content}": ${updates.length} CommentUpdated (seq ${seqs(updates)})`,
      );
    if (decisions.length === 0)
      add(
        'unsettled',
        `CommentModerated:${id}`,
        false,
        `comment ${id} "${content}" (seq ${createdEvent.seq}): no CommentModerated yet`,
      );
    if (updates.length === 0)
      add(
        'unsettled',
        `CommentUpdated:${id}`,
        false,
        `comment ${id} "${content}" (seq ${createdEvent.seq}): no CommentUpdated yet`,
      );
    for (const event of [...decisions, ...updates]) {
      const status = str(asRecord(event.data).status);
      if (status !== rule)
        add(
          'wrong',
          `status:${event.type}:${id}`,
          true,
          `comment ${id} "${content}": ${event.type} (seq ${event.seq}) says ${status}, the orange rule says ${rule}`,
        );
      if (event.seq < createdEvent.seq)
        add(
          'wrong',
          `order:${event.type}:${id}`,
          true,
          `comment ${id}: ${event.type} (seq ${event.seq}) before its CommentCreated (seq ${createdEvent.seq})`,
        );
    }
  }
  for (const [id, list] of [...moderated, ...updated]) {
    if (!created.has(id))
      add(
        'wrong',
        `orphan:${id}`,
        true,
        `${list.length} reaction(s) for comment ${id} that was never created (seq ${seqs(list)})`,
      );
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
  for (const [id, list] of queryComments)
    if (list.length > 1)
      add('duplicated', `query-comment:${id}`, false, `query lists comment ${id} ${list.length} times`);

  const postIds = [...new Set([...Object.keys(query), ...Object.keys(posts)])];
  const commentLists = new Map<string, Comment[]>();
  if (readCommentLists) {
    const lists = await pooled(postIds, 8, (postId) =>
      getJson<Comment[]>(`${stack.url('comments')}/posts/${encodeURIComponent(postId)}/comments`),
    );
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
    add(
      'disagree',
      'post-order',
      false,
      `posts and query list posts in another order from position ${firstDifference}: ${postsOrder[firstDifference]} vs ${queryOrder[firstDifference]}`,
    );
  }
  for (const postId of postIds) {
    const inQuery = query[postId];
    const inPosts = posts[postId];
    if (!inQuery || !inPosts) {
      const where = inQuery ? 'query but not in posts' : 'posts but not in query';
      add(
        inQuery ? 'disagree' : 'unsettled',
        `post-views:${postId}`,
        false,
        `post ${postId} "${(inQuery ?? inPosts)?.title}" is in ${where}`,
      );
    } else if (inQuery.title !== inPosts.title) {
      add(
        'disagree',
        `post-title:${postId}`,
        false,
        `post ${postId}: query says "${inQuery.title}", posts says "${inPosts.title}"`,
      );
    }
    const marker = markerOf((inQuery ?? inPosts)?.title, runId);
    if (marker === undefined || records.get(marker)?.kind !== 'post') {
      add(
        'phantom',
        `post-unknown:${postId}`,
        false,
        `post ${postId} "${(inQuery ?? inPosts)?.title}" was never requested`,
      );
    }
    const list = commentLists.get(postId);
    if (list && inQuery) {
      const fromQuery = inQuery.comments.map(({ id, content, status }) => `${id}|${content}|${status}`);
      const fromComments = list.map(({ id, content, status }) => `${id}|${content}|${status}`);
      if (fromQuery.join('\n') !== fromComments.join('\n')) {
        if ([...fromQuery].sort().join('\n') === [...fromComments].sort().join('\n')) {
          add(
            'disagree',
            `comment-order:${postId}`,
            false,
            `post ${postId}: the comments service lists the same comments as query in another order`,
          );
        } else {
          const onlyQuery = fromQuery.filter((item) => !fromComments.includes(item));
          const onlyComments = fromComments.filter((item) => !fromQuery.includes(item));
          add(
            'unsettled',
            `comment-views:${postId}`,
            false,
            `post ${postId}: only in query [${onlyQuery.join('; ')}], only in comments [${onlyComments.join('; ')}]`,
          );
        }
      }
      if (new Set(list.map((comment) => comment.id)).size !== list.length)
        add(
          'duplicated',
          `comments-list:${postId}`,
          false,
          `the comments service lists a comment twice for post ${postId}`,
        );
    }
    for (const comment of inQuery?.comments ?? []) {
      const commentMarker = markerOf(comment.content, runId);
      if (commentMarker === undefined || records.get(commentMarker)?.kind !== 'comment') {
        add(
          'phantom',
          `comment-unknown:${comment.id}`,
          false,
          `comment ${comment.id} "${comment.content}" on post ${postId} was never requested`,
        );
      }
    }
  }

  // -- Every request of the ledger -----------------------------------------------------------------
  for (const record of ledger.records()) {
    const inLog =
      record.kind === 'post'
        ? (postEventsByMarker.get(record.marker) ?? [])
        : (createdByMarker.get(record.marker) ?? []);
    if (record.outcome === 'refused' || record.outcome === 'rejected' || record.outcome === 'unreached') {
      if (inLog.length > 0) {
        add(
          'phantom',
          `${record.kind}:${record.marker}`,
          true,
          `${describe(record)} is in the bus log (seq ${seqs(inLog)})`,
          record,
        );
      }
      continue;
    }
    if ((record.outcome === 'ambiguous' || record.outcome === 'unconfirmed') && inLog.length === 0) continue; // never created: fine
    const id = record.outcome === 'acknowledged' ? record.id : str(asRecord(inLog[0]?.data).id);
    if (id === undefined) continue;
    if (record.outcome === 'acknowledged' && !inLog.some((event) => str(asRecord(event.data).id) === id)) {
      add(
        'lost',
        `${record.kind}:${record.marker}`,
        true,
        `${describe(record)} was acknowledged as ${id} but its event is not in the bus log`,
        record,
      );
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
  const answer =
    record.outcome === 'acknowledged'
      ? ''
      : `, ${record.httpStatus ?? 'no answer'} after ${record.latencyMs} ms${record.error ? `: ${record.error.slice(0, 160)}` : ''}`;
  return record.kind === 'post'
    ? `post "${record.title}" (${record.outcome}${answer})`
    : `comment "${record.content}" (${record.outcome}${answer})`;
}

function checkPost(
  record: PostRecord,
  id: string,
  query: Record<string, PostWithComments>,
  posts: Record<string, Post>,
  add: Add,
): void {
  for (const [service, post] of [
    ['query', query[id]],
    ['posts', posts[id]],
  ] as const) {
    if (!post)
      add(
        'unsettled',
        `${service}-post:${record.marker}`,
        false,
        `${describe(record)}: ${service} does not show post ${id}`,
        record,
      );
    else if (post.title !== record.title)
      add(
        'wrong',
        `${service}-title:${record.marker}`,
        false,
        `${describe(record)}: ${service} shows title "${post.title}"`,
        record,
      );
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
  if (readCommentLists)
    views.push(['comments', commentLists.get(record.postId)?.find((comment) => comment.id === id), record.postId]);
  for (const [service, comment, postId] of views) {
    if (!comment) {
      add(
        'unsettled',
        `${service}-comment:${record.marker}`,
        false,
        `${describe(record)}: ${service} does not show comment ${id} on post ${record.postId}`,
        record,
      );
    } else if (postId !== record.postId) {
      add(
        'wrong',
        `${service}-comment-post:${record.marker}`,
        false,
        `${describe(record)}: ${service} shows it on post ${postId}, not ${record.postId}`,
        record,
      );
    } else if (comment.content !== record.content) {
      add(
        'wrong',
        `${service}-content:${record.marker}`,
        false,
        `${describe(record)}: ${service} shows content "${comment.content}"`,
        record,
      );
    } else if (comment.status !== record.expected) {
      const kind = comment.status === 'pending' ? 'unsettled' : 'wrong';
      add(
        kind,
        `${service}-status:${record.marker}`,
        false,
        `${describe(record)}: ${service} shows ${comment.status}, expected ${record.expected}`,
        record,
      );
    }
  }
}
