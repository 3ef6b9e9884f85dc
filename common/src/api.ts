/**
 * The shapes of the public API and the input limits. No runtime dependencies, so the browser client
 * imports this module without pulling in zod.
 */
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
  comments: Comment[];
}

/** `GET /posts` of the query service. */
export type PostsView = Record<string, PostWithComments>;

/** Every error the services answer with. */
export interface ApiError {
  error: string;
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
