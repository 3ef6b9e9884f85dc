/**
 * Typed access to the blog API. Paths are relative, so the same build works behind the Kubernetes
 * ingress and behind the local gateway.
 */
import { COMMENT_STATUSES } from '@blog/common/api';
import type { ApiError, Comment, CommentStatus, Post, PostWithComments } from '@blog/common/api';

/** How long one request may take before it is given up. */
const REQUEST_TIMEOUT_MS = 10_000;

/** A failed API call; `message` is meant to be shown to the user as is. */
export class ApiRequestError extends Error {
  /** The HTTP status, or 0 when no answer was received. */
  readonly status: number;

  constructor(message: string, status: number) {
    super(message);
    this.name = 'ApiRequestError';
    this.status = status;
  }
}

/** True for the rejection of a request that its caller aborted (not worth reporting). */
export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong. Please try again.';
}

// ---- Shape checks ---------------------------------------------------------------------------------

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isApiError(value: unknown): value is ApiError {
  return isRecord(value) && typeof value.error === 'string' && value.error.trim() !== '';
}

function isCommentStatus(value: unknown): value is CommentStatus {
  return typeof value === 'string' && (COMMENT_STATUSES as readonly string[]).includes(value);
}

function isPost(value: unknown): value is Post {
  return isRecord(value) && typeof value.id === 'string' && typeof value.title === 'string';
}

function isComment(value: unknown): value is Comment {
  return (
    isRecord(value) &&
    typeof value.id === 'string' &&
    typeof value.content === 'string' &&
    isCommentStatus(value.status)
  );
}

function isPostWithComments(value: unknown): value is PostWithComments {
  return isRecord(value) && isPost(value) && Array.isArray(value.comments) && value.comments.every(isComment);
}

/**
 * The keys of the top-level object of a JSON text, in the order they are written. `JSON.parse` does
 * not keep that order for integer-like keys ("42" would come before "abc"), and the order of the
 * posts map is its creation order. Only called on text that `JSON.parse` has accepted.
 */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i += 1) {
    const ch = json[i];
    if (ch === '"') {
      let end = i + 1;
      while (end < json.length && json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key: unknown = JSON.parse(json.slice(i, end + 1));
        if (typeof key === 'string') keys.push(key);
        expectKey = false;
      }
      i = end;
    } else if (ch === '{' || ch === '[') {
      depth += 1;
      expectKey = depth === 1 && ch === '{';
    } else if (ch === '}' || ch === ']') {
      depth -= 1;
    } else if (ch === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return keys;
}

// ---- Transport ------------------------------------------------------------------------------------

interface RequestOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  signal?: AbortSignal | undefined;
}

interface JsonAnswer {
  status: number;
  text: string;
  value: unknown;
}

/**
 * Sends one request and reads its JSON answer. Failures become an `ApiRequestError` whose message is
 * the server's `{error}` text when there is one; an abort by the caller is rethrown unchanged.
 */
async function requestJson(path: string, options: RequestOptions = {}): Promise<JsonAnswer> {
  const { method = 'GET', body, signal } = options;
  const controller = new AbortController();
  let timedOut = false;
  const timer = window.setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, REQUEST_TIMEOUT_MS);
  const onCallerAbort = (): void => controller.abort();
  if (signal?.aborted) controller.abort();
  signal?.addEventListener('abort', onCallerAbort, { once: true });

  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  let response: Response;
  let text: string;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      signal: controller.signal,
      cache: 'no-store',
    });
    text = await response.text();
  } catch (error) {
    if (timedOut) throw new ApiRequestError('The server took too long to answer. Please try again.', 0);
    if (signal?.aborted || isAbortError(error)) throw error;
    throw new ApiRequestError('Could not reach the server. Check your connection and try again.', 0);
  } finally {
    window.clearTimeout(timer);
    signal?.removeEventListener('abort', onCallerAbort);
  }

  let value: unknown;
  let isJson = false;
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
      isJson = true;
    } catch {
      isJson = false;
    }
  }

  if (!response.ok) {
    if (isJson && isApiError(value)) throw new ApiRequestError(value.error, response.status);
    const reason = response.statusText ? `${response.status} ${response.statusText}` : String(response.status);
    throw new ApiRequestError(`The server answered with an error (${reason}).`, response.status);
  }
  if (!isJson) {
    throw new ApiRequestError('The server sent an unexpected answer (not JSON).', response.status);
  }
  return { status: response.status, text, value };
}

function unexpectedShape(what: string, status: number): ApiRequestError {
  return new ApiRequestError(`The server sent ${what} in an unexpected format.`, status);
}

// ---- Endpoints ------------------------------------------------------------------------------------

/** `GET /posts`: every post with its comments, oldest post first. */
export async function fetchPosts(signal?: AbortSignal): Promise<PostWithComments[]> {
  const { status, text, value } = await requestJson('/posts', { signal });
  if (!isRecord(value)) throw unexpectedShape('the posts', status);

  const order = [...new Set([...topLevelKeys(text), ...Object.keys(value)])];
  const posts: PostWithComments[] = [];
  for (const key of order) {
    if (!Object.hasOwn(value, key)) continue;
    const post = value[key];
    if (!isPostWithComments(post)) throw unexpectedShape('the posts', status);
    posts.push(post);
  }
  return posts;
}

/** `POST /posts/create`. */
export async function createPost(title: string): Promise<Post> {
  const { status, value } = await requestJson('/posts/create', { method: 'POST', body: { title } });
  if (!isPost(value)) throw unexpectedShape('the new post', status);
  return value;
}

/** `POST /posts/:id/comments`. */
export async function createComment(postId: string, content: string): Promise<Comment> {
  const { status, value } = await requestJson(`/posts/${encodeURIComponent(postId)}/comments`, {
    method: 'POST',
    body: { content },
  });
  if (!isComment(value)) throw unexpectedShape('the new comment', status);
  return value;
}
