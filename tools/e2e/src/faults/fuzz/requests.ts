/** The fuzz's requests: their shape, what they are sent with, and the malformed pieces they are built from. */
import type { ServiceName } from '@blog/testkit';

export type Subscriber = 'posts' | 'comments' | 'query' | 'moderation';
export const SUBSCRIBERS: readonly Subscriber[] = ['posts', 'comments', 'query', 'moderation'];

export interface FuzzRequest {
  service: ServiceName;
  method: string;
  /** Path and query, sent as is. */
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
  /** What the request probes, for messages. */
  what: string;
  /** The status it must get, when there is exactly one right answer (409 for an event far ahead). */
  expectStatus?: number;
  /** A 2xx would mean garbage was accepted (a create, a publish): reported as a problem. */
  mustFail?: boolean;
}

export interface FuzzContext {
  /** Seq of the last event every subscriber has acknowledged (from the bus's /subscribers). */
  delivered: Record<Subscriber, number>;
  /** Events of the history (seq ≤ every position), to replay as tampered duplicates. */
  history: readonly { seq: number; type: string; data: unknown; id: string; time: string }[];
  /** Ids of existing posts, for comment paths. */
  postIds: readonly string[];
  /** What an event request to the bus needs to pass the token check (the stack's `eventHeaders()`). */
  eventHeaders: Record<string, string>;
  /** What a delivery to a service needs to pass the signature check: the bus's signature of its body. */
  deliveryHeaders: (body: string | Buffer | undefined) => Record<string, string>;
}

export const JSON_TYPE = { 'content-type': 'application/json' };
export const NOT_JSON_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/xml',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'text/json-ish',
];
export const BROKEN_JSON = [
  '{',
  '}',
  '{"title": ',
  '{"content": "abc"',
  '{"a":1,}',
  "{'title': 'single quotes'}",
  '{title: "unquoted key"}',
  'nul',
  'NaN',
  'undefined',
  '[1, 2',
  '{"x": 01}',
  '{"x": "\\u12"}',
  '\u0000\u0001\u0002',
  '{"title": "a" "b"}',
  ' ',
  '{"seq": 1e}',
  '\ufeff{',
  '<xml/>',
  '{"type": "PostCreated",,}',
];
export const NON_OBJECT_JSON = [
  '[]',
  '[{"title":"hi"}]',
  '[{"content":"hi"}]',
  '"just a string"',
  '42',
  'null',
  'true',
  '-0',
  '[[[[[[]]]]]]',
  '1e400',
];
export const ODD_METHODS = [
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'HEAD',
  'TRACE',
  'PROPFIND',
  'SEARCH',
  'LOCK',
  'MKCOL',
  'PURGE',
  'COPY',
  'MOVE',
  'REPORT',
];
export const ODD_PATHS = [
  '/',
  '/posts/create/extra',
  '/posts//comments',
  '/posts/%ZZ/comments',
  '/posts/%/comments',
  '/posts/%F0%9F%98%80/comments',
  '/posts/..%2F..%2Fetc%2Fpasswd/comments',
  '/../../etc/passwd',
  '/events/1',
  '/EVENTS',
  '/events%00',
  '/subscribers/x',
  '/healthz/x',
  '/readyz?x=%',
  '/posts?after=%zz',
  '//',
  '///x',
  '/%ZZ',
  '/assets/%ZZ',
  '/posts/undefined/comments/x',
  `/${'a'.repeat(4000)}`,
  '/posts/create?title=hi',
  '/index.html/..',
  '/.env',
  '/favicon.ico',
];

/** Values of the wrong type for a string field. */
export const WRONG_TYPES: unknown[] = [0, 42, -1.5, true, false, null, [], ['hi'], {}, { $gt: '' }, { toString: 'x' }];
/** Strings that fail a 1..limit trimmed-length rule. */
export const blankStrings = ['', ' ', '   ', '\n\t', '\u00a0\u00a0', '\r\n'];
