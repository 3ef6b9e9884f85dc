/**
 * The shapes of the public API and the input limits. No runtime dependencies, so the browser client
 * imports this module without pulling in zod.
 */
import type { ErrorCode } from './error-codes';

export const LIMITS = {
  titleLength: 200,
  contentLength: 1000,
  idLength: 100,
  eventTypeLength: 100,
  /** Request bodies larger than this are answered with 413. */
  bodyBytes: '16kb',
  /** Body limit of `POST /events/batch`, the bus's deliveries (which it keeps to about 1 MB). */
  batchBodyBytes: '4mb',
  /** Events per `POST /events/batch`. */
  batchEvents: 10_000,
} as const;

/**
 * Pages of the lists: `GET /posts` (posts and query) and `GET /posts/:id/comments` answer the newest
 * `limit` items (default and most: `maxLimit`), older ones with `?before=` the cursor the answer's
 * `Link: <…>; rel="next"` header names. Each post of query's view carries its newest `commentsPerPost`
 * comments, and `olderComments`, where the rest are, when it has more.
 */
export const PAGES = {
  defaultLimit: 1_000,
  maxLimit: 1_000,
  commentsPerPost: 100,
} as const;

/** The port each part of the blog listens on unless PORT says otherwise (the course's ports). */
export const DEFAULT_PORTS = {
  posts: 4000,
  comments: 4001,
  query: 4002,
  moderation: 4003,
  'event-bus': 4005,
  client: 3000,
} as const;

/** `http://localhost:<its default port>`: where the others find a part of the blog by default. */
/** A service on this machine: the IPv4 loopback every process listens on by default (HOST), whatever localhost resolves to. */
export const localUrl = (part: keyof typeof DEFAULT_PORTS): string => `http://127.0.0.1:${DEFAULT_PORTS[part]}`;

export const COMMENT_STATUSES = ['pending', 'approved', 'rejected'] as const;
export type CommentStatus = (typeof COMMENT_STATUSES)[number];

export interface Post {
  id: string;
  title: string;
}

export interface Comment {
  id: string;
  content: string;
  status: CommentStatus;
}

export interface PostWithComments extends Post {
  /** Its newest comments (all of them, up to PAGES.commentsPerPost), in the order they were made. */
  comments: Comment[];
  /** When it has older comments: the path that lists them (`GET /posts/:id/comments?before=…`). */
  olderComments?: string;
}

/** `GET /posts` of the query service. */
export type PostsView = Record<string, PostWithComments>;

/** A comment as a change of the stream carries it: with its post's id. */
export interface CommentChange extends Comment {
  postId: string;
}

/**
 * The messages of query's `GET /posts/stream` (Server-Sent Events): first `snapshot` (a `PostsView`), then
 * each change as applied, named by its event type, its seq as the message id.
 */
export const STREAM_CHANGE_TYPES = ['PostCreated', 'CommentCreated', 'CommentUpdated'] as const;
export type StreamChangeType = (typeof STREAM_CHANGE_TYPES)[number];
export type StreamChange =
  { type: 'PostCreated'; data: Post } | { type: 'CommentCreated' | 'CommentUpdated'; data: CommentChange };

export * from './error-codes';

/** Every error the services answer with: a message for people, and a code (ERROR_CODES) for programs. */
export interface ApiError {
  error: string;
  code: ErrorCode;
}

/** One entry of the event bus's `GET /subscribers`: where delivery to that subscriber stands. */
export interface SubscriberStatus {
  url: string;
  /** Seq of the last event this subscriber acknowledged (or rejected as invalid). */
  delivered: number;
  /** Events appended but not yet delivered. */
  lag: number;
  /** Failed attempts in a row for the event being delivered now. */
  failures: number;
  lastError: string | null;
}

// ---- Run-time checks of what a service answers, for code that must not trust it (the page, the tests) ----

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether a value is an error answer: its message at least (a server older than the codes sends none). */
export function isApiError(value: unknown): value is Pick<ApiError, 'error'> & { code?: unknown } {
  return isRecord(value) && typeof value.error === 'string' && value.error.trim() !== '';
}

export function isCommentStatus(value: unknown): value is CommentStatus {
  return typeof value === 'string' && (COMMENT_STATUSES as readonly string[]).includes(value);
}

export function isPost(value: unknown): value is Post {
  return isRecord(value) && typeof value.id === 'string' && typeof value.title === 'string';
}

export function isComment(value: unknown): value is Comment {
  return (
    isRecord(value) &&
    typeof value.id === 'string' &&
    typeof value.content === 'string' &&
    isCommentStatus(value.status)
  );
}

export function isPostWithComments(value: unknown): value is PostWithComments {
  return (
    isRecord(value) &&
    isPost(value) &&
    Array.isArray(value.comments) &&
    value.comments.every(isComment) &&
    (value.olderComments === undefined || isPagePath(value.olderComments, 'comments'))
  );
}

/**
 * Whether a value is a path the blog gives for a next page (a Link header's, a post's `olderComments`):
 * `/posts?…` or `/posts/<id>/comments?…` on the same site, never another origin's.
 */
export function isPagePath(value: unknown, of: 'posts' | 'comments'): value is string {
  if (typeof value !== 'string') return false;
  return of === 'posts'
    ? /^\/posts\?[\w=&%.-]*$/.test(value)
    : /^\/posts\/[^/?#\\]+\/comments\?[\w=&%.-]*$/.test(value);
}

/** The posts of a `GET /posts` view (`{[id]: post}`), oldest first; undefined when it is malformed. */
export function postsOfView(value: unknown): PostWithComments[] | undefined {
  if (!isRecord(value)) return undefined;
  const posts = Object.values(value);
  return posts.every(isPostWithComments) ? posts : undefined;
}

/** A stream message's event name and parsed data as a change; undefined when either is not one. */
export function asStreamChange(type: string, data: unknown): StreamChange | undefined {
  if (type === 'PostCreated') return isPost(data) ? { type, data: { id: data.id, title: data.title } } : undefined;
  if (type !== 'CommentCreated' && type !== 'CommentUpdated') return undefined;
  if (!isRecord(data) || !isComment(data) || typeof data.postId !== 'string') return undefined;
  const { id, content, status } = data;
  return { type, data: { id, postId: data.postId, content, status } };
}

/**
 * The event types each service may publish with its own credential (`<NAME>_EVENTS_TOKEN` on the bus):
 * the bus refuses any other type from it with 403. Query publishes nothing; it only reads the log.
 */
export const PUBLISHED_EVENT_TYPES = {
  posts: ['PostCreated'],
  comments: ['CommentCreated', 'CommentUpdated'],
  moderation: ['CommentModerated'],
  query: [],
} as const satisfies Record<string, readonly string[]>;

/** A service that reads the bus's log and may publish to it with a credential of its own. */
export type EventsClientName = keyof typeof PUBLISHED_EVENT_TYPES;
export const EVENTS_CLIENTS = Object.keys(PUBLISHED_EVENT_TYPES) as EventsClientName[];

/** The bus's variable holding a service's own events token, e.g. POSTS_EVENTS_TOKEN. */
export function eventsTokenVariable(client: EventsClientName): `${Uppercase<EventsClientName>}_EVENTS_TOKEN` {
  return `${client.toUpperCase() as Uppercase<EventsClientName>}_EVENTS_TOKEN`;
}
