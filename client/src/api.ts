/**
 * Typed access to the blog API. Paths are relative, so the same build works behind the Kubernetes
 * ingress and behind the local gateway.
 */
import {
  errorCodeFor,
  errorCodeOf,
  isApiError,
  isComment,
  isPagePath,
  isPost,
  postsOfView,
  type Comment,
  type ErrorCode,
  type Post,
  type PostWithComments,
} from '@blog/common/api';

/** How long one request may take before it is given up. */
const REQUEST_TIMEOUT_MS = 10_000;

/** A failed API call; `message` is meant to be shown to the user as is, `code` is what decides. */
export class ApiRequestError extends Error {
  /** The HTTP status, or 0 when no answer was received. */
  readonly status: number;
  /** What the answer means (see ERROR_CODES); undefined when no answer was received. */
  readonly code: ErrorCode | undefined;

  constructor(message: string, status: number, code?: ErrorCode) {
    super(message);
    this.name = 'ApiRequestError';
    this.status = status;
    this.code = code;
  }
}

/**
 * The code of an error answer. One without a code is read as the page read every answer before there were
 * codes: a service of the version before them may still answer while the blog is updated, and a proxy's
 * own error (the Ingress's 504) never carries one.
 */
function codeOfAnswer(status: number, value: unknown): ErrorCode {
  const code = errorCodeOf(value);
  if (code !== undefined) return code;
  if (status === 503 && isApiError(value) && /may or may not/.test(value.error)) return 'outcome_unknown';
  return errorCodeFor(status);
}

/** True for the rejection of a request that its caller aborted (not worth reporting). */
export function isAbortError(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong. Please try again.';
}

// ---- Transport ------------------------------------------------------------------------------------

interface RequestOptions {
  method?: 'GET' | 'POST';
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

interface JsonAnswer {
  status: number;
  value: unknown;
  /** The path of the next page its `Link: <…>; rel="next"` header names, if any. */
  nextPage: string | null;
}

/**
 * Sends one request and reads its JSON answer. Failures become an `ApiRequestError` whose message is
 * the server's `{error}` text when there is one; an abort by the caller is rethrown unchanged.
 */
async function requestJson(path: string, options: RequestOptions = {}): Promise<JsonAnswer> {
  const { method = 'GET', body, signal } = options;
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
  if (body !== undefined) headers['Content-Type'] = 'application/json';

  let response: Response;
  let text: string;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      cache: 'no-store',
    });
    text = await response.text();
  } catch (error) {
    if (signal?.aborted) throw error;
    if (timeout.aborted) throw new ApiRequestError('The server took too long to answer. Please try again.', 0);
    throw new ApiRequestError('Could not reach the server. Check your connection and try again.', 0);
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
    const code = codeOfAnswer(response.status, value);
    if (isJson && isApiError(value)) throw new ApiRequestError(value.error, response.status, code);
    const reason = response.statusText ? `${response.status} ${response.statusText}` : String(response.status);
    throw new ApiRequestError(`The server answered with an error (${reason}).`, response.status, code);
  }
  if (!isJson) {
    throw new ApiRequestError('The server sent an unexpected answer (not JSON).', response.status);
  }
  return { status: response.status, value, nextPage: nextPageOf(response.headers.get('link')) };
}

/** The target of a `Link` header's `rel="next"` (the blog's own paths only). */
function nextPageOf(link: string | null): string | null {
  const target = link === null ? undefined : /<([^>]*)>\s*;\s*rel=(?:"next"|next)(?=\s*(?:[;,]|$))/.exec(link)?.[1];
  return target !== undefined && (isPagePath(target, 'posts') || isPagePath(target, 'comments')) ? target : null;
}

function unexpectedShape(what: string, status: number): ApiRequestError {
  return new ApiRequestError(`The server sent ${what} in an unexpected format.`, status);
}

// ---- Endpoints ------------------------------------------------------------------------------------

/** A page of a list, oldest first, and the path of the next (older) page, null when there is none. */
export interface ListPage<T> {
  items: T[];
  older: string | null;
}

/**
 * `GET /posts`, or the older page a Link header named: the newest posts with their comments, oldest post
 * first (the map keeps creation order).
 */
export async function fetchPosts(signal?: AbortSignal, path = '/posts'): Promise<ListPage<PostWithComments>> {
  const { status, value, nextPage } = await requestJson(path, { signal });
  const posts = postsOfView(value);
  if (!posts) throw unexpectedShape('the posts', status);
  return { items: posts, older: nextPage };
}

/** The older comments of a post, at the path its `olderComments` (or the previous page's Link header) names. */
export async function fetchComments(path: string, signal?: AbortSignal): Promise<ListPage<Comment>> {
  const { status, value, nextPage } = await requestJson(path, { signal });
  if (!Array.isArray(value) || !value.every(isComment)) throw unexpectedShape('the comments', status);
  return { items: value, older: nextPage };
}

/** How often a create whose outcome is unknown is sent, in all, and how long to wait before each retry. */
const CREATE_ATTEMPTS = 3;
const RETRY_DELAY_MS = 1_000;

/** A key no other submission uses (crypto.randomUUID needs HTTPS; posts.com may be plain HTTP). */
function newIdempotencyKey(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** An answer that leaves the outcome unknown: no answer at all, or one saying so. */
function outcomeUnknown(error: unknown): boolean {
  return error instanceof ApiRequestError && (error.status === 0 || error.code === 'outcome_unknown');
}

/**
 * Sends a create with an Idempotency-Key, and sends it again with the same key while its outcome is
 * unknown: the service answers a repeat with what the first attempt created, never a second one.
 */
async function sendCreate(path: string, body: unknown, what: string): Promise<JsonAnswer> {
  const headers = { 'Idempotency-Key': newIdempotencyKey() };
  for (let attempt = 1; ; attempt++) {
    try {
      return await requestJson(path, { method: 'POST', body, headers });
    } catch (error) {
      if (!outcomeUnknown(error)) throw error;
      if (attempt >= CREATE_ATTEMPTS) {
        throw new ApiRequestError(
          `We could not confirm that your ${what} was saved. It may still appear in a moment; if it does not, please submit it again.`,
          (error as ApiRequestError).status,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
    }
  }
}

/** `POST /posts/create`. */
export async function createPost(title: string): Promise<Post> {
  const { status, value } = await sendCreate('/posts/create', { title }, 'post');
  if (!isPost(value)) throw unexpectedShape('the new post', status);
  return value;
}

/** `POST /posts/:id/comments`. */
export async function createComment(postId: string, content: string): Promise<Comment> {
  const { status, value } = await sendCreate(`/posts/${encodeURIComponent(postId)}/comments`, { content }, 'comment');
  if (!isComment(value)) throw unexpectedShape('the new comment', status);
  return value;
}
