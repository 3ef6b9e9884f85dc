/**
 * Seeded generator of malformed requests for every endpoint of every service, and a raw HTTP sender
 * (node:http, keep-alive) that can send what fetch refuses to (TRACE, odd bodies with any content type).
 *
 * Every generated request is invalid by construction — a create never carries a usable title or content,
 * a publish to the bus never carries a valid event, an envelope for a service's /events is either
 * malformed, a duplicate of an event the service has already applied (seq at or below its position), or
 * forged far ahead of the history (which must be answered 409) — so that the fuzz changes no state.
 */
import http from 'node:http';
import { Random } from '@blog/testkit';
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
  /** What an event request needs to pass the token check (the stack's `eventHeaders()`). */
  eventHeaders: Record<string, string>;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const NOT_JSON_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/xml',
  'multipart/form-data; boundary=xyz',
  'application/octet-stream',
  'text/json-ish',
];
const BROKEN_JSON = [
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
const NON_OBJECT_JSON = ['[]', '[{"title":"hi"}]', '[{"content":"hi"}]', '"just a string"', '42', 'null', 'true', '-0', '[[[[[[]]]]]]', '1e400'];
const ODD_METHODS = ['PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND', 'SEARCH', 'LOCK', 'MKCOL', 'PURGE', 'COPY', 'MOVE', 'REPORT'];
const ODD_PATHS = [
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
const WRONG_TYPES: unknown[] = [0, 42, -1.5, true, false, null, [], ['hi'], {}, { $gt: '' }, { toString: 'x' }];
/** Strings that fail a 1..limit trimmed-length rule. */
const blankStrings = ['', ' ', '   ', '\n\t', '\u00a0\u00a0', '\r\n'];

export function generateFuzz(seed: number, count: number, context: FuzzContext): FuzzRequest[] {
  const random = new Random(seed);
  const generators: [number, () => FuzzRequest][] = [
    [18, () => badCreate(random, context, random.pick(['posts', 'client'] as const), 'post')],
    [18, () => badCreate(random, context, random.pick(['comments', 'client'] as const), 'comment')],
    [20, () => badEnvelope(random, context)],
    [10, () => badPublish(random)],
    [8, () => badHistoryQuery(random)],
    [10, () => oddMethod(random, context)],
    [8, () => oddPath(random)],
    [4, () => oddRead(random, context)],
  ];
  const total = generators.reduce((sum, [weight]) => sum + weight, 0);
  const requests: FuzzRequest[] = [];
  for (let i = 0; i < count; i++) {
    let roll = random.next() * total;
    for (const [weight, generate] of generators) {
      roll -= weight;
      if (roll < 0) {
        requests.push(withEventToken(generate(), random, context));
        break;
      }
    }
  }
  return requests;
}

/**
 * Event requests carry the token, so that the fuzz reaches the parsers behind the check; one in ten goes
 * without (or with a wrong one), and must then be refused like any other garbage.
 */
function withEventToken(request: FuzzRequest, random: Random, context: FuzzContext): FuzzRequest {
  if (request.service === 'client' || !request.path.toLowerCase().startsWith('/events')) return request;
  if (request.expectStatus !== undefined || !random.chance(0.1)) return { ...request, headers: { ...request.headers, ...context.eventHeaders } };
  const wrong: Record<string, string> = random.chance(0.5) ? { authorization: random.pick(['Bearer', 'Bearer x', 'Basic dXNlcjpwYXNz', `Bearer ${'a'.repeat(5000)}`]) } : {};
  return { ...request, headers: { ...request.headers, ...wrong }, what: `${request.what}, without the events token` };
}

// ---- Creates (posts, comments, and the same through the gateway) ---------------------------------

function badCreate(random: Random, context: FuzzContext, service: 'posts' | 'comments' | 'client', kind: 'post' | 'comment'): FuzzRequest {
  const field = kind === 'post' ? 'title' : 'content';
  const limit = kind === 'post' ? 200 : 1000;
  const postId = context.postIds.length > 0 && random.chance(0.8) ? random.pick(context.postIds) : random.pick(['nope', '00000000-0000-4000-8000-000000000000', '%20', 'x'.repeat(300)]);
  const path = kind === 'post' ? random.pick(['/posts/create', '/posts', '/POSTS/create', '/posts/create/', '/posts/create?x=1']) : `/posts/${postId}/comments`;
  const target: ServiceName = service === 'client' ? 'client' : kind === 'post' ? 'posts' : 'comments';
  // the gateway sends POST /posts to query, which has no such route: still a JSON 404.
  const body = invalidBody(random, field, limit);
  return { service: target, method: 'POST', path, what: `${kind} create: ${body.what}`, headers: body.headers, body: body.body, mustFail: true };
}

interface Body {
  what: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** A body that no create endpoint can accept. */
function invalidBody(random: Random, field: string, limit: number): Body {
  const valid = JSON.stringify({ [field]: 'a perfectly good text' });
  switch (random.int(0, 12)) {
    case 0:
      return { what: 'broken JSON', headers: JSON_TYPE, body: random.pick(BROKEN_JSON) };
    case 1: {
      // Every strict prefix of a JSON object is invalid JSON (or empty).
      const cut = random.int(0, valid.length - 1);
      return { what: `truncated JSON (${cut} bytes)`, headers: JSON_TYPE, body: valid.slice(0, cut) };
    }
    case 2:
      return { what: 'JSON that is not an object', headers: JSON_TYPE, body: random.pick(NON_OBJECT_JSON) };
    case 3:
      return { what: `${field} of a wrong type`, headers: JSON_TYPE, body: JSON.stringify({ [field]: random.pick(WRONG_TYPES) }) };
    case 4:
      return { what: `blank ${field}`, headers: JSON_TYPE, body: JSON.stringify({ [field]: random.pick(blankStrings) }) };
    case 5: {
      const length = limit + random.int(1, 3_000);
      return { what: `${field} of ${length} characters`, headers: JSON_TYPE, body: JSON.stringify({ [field]: 'x'.repeat(length) }) };
    }
    case 6: {
      const size = random.pick([16 * 1024 + 1, 20_000, 100_000, 1_000_000]);
      return { what: `oversized body (${size} bytes)`, headers: JSON_TYPE, body: JSON.stringify({ [field]: 'x'.repeat(size) }) };
    }
    case 7: {
      const other = random.pick([{}, { other: 'x' }, { [field.toUpperCase()]: 'x' }, { [` ${field}`]: 'x' }, { __proto__: { [field]: 'x' } }]);
      return { what: `no ${field} field`, headers: JSON_TYPE, body: random.chance(0.3) ? `{"__proto__": {"${field}": "x"}}` : JSON.stringify(other) };
    }
    case 8: {
      const type = random.pick(NOT_JSON_TYPES);
      return { what: `content type ${type}`, headers: { 'content-type': type }, body: random.chance(0.5) ? valid : `${field}=hello` };
    }
    case 9:
      return { what: 'no content type', headers: {}, body: valid };
    case 10: {
      const charset = random.pick(['utf-16', 'utf-16le', 'utf-32', 'iso-8859-1', 'koi8-r', 'bogus']);
      return { what: `charset ${charset}`, headers: { 'content-type': `application/json; charset=${charset}` }, body: valid };
    }
    case 11: {
      const encoding = random.pick(['gzip', 'deflate', 'br', 'compress', 'bogus', 'identity, gzip']);
      return { what: `content-encoding ${encoding} with a plain body`, headers: { ...JSON_TYPE, 'content-encoding': encoding }, body: random.chance(0.5) ? 'garbage' : '{}' };
    }
    default: {
      const bytes = Buffer.alloc(random.int(1, 2_000));
      for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(0, 255);
      // A random byte string that happened to start a valid object is made invalid by a missing brace.
      if (bytes[0] === 0x7b) bytes[0] = 0x5b;
      return { what: `${bytes.length} random bytes`, headers: JSON_TYPE, body: bytes };
    }
  }
}

// ---- A service's /events (posts, comments, query, moderation) ------------------------------------

/** Seqs far beyond any history of a test run (plus up to 999, still safe integers). */
const FAR_AHEAD = [1_000_000, 12_345_678, 2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER - 1_000];

function isoTime(): string {
  return '2024-05-06T07:08:09.123Z';
}

function badEnvelope(random: Random, context: FuzzContext): FuzzRequest {
  const service = random.pick(SUBSCRIBERS);
  const send = (what: string, body: string | Buffer, extra: Partial<FuzzRequest> = {}, headers: Record<string, string> = JSON_TYPE): FuzzRequest => ({
    service,
    method: 'POST',
    path: '/events',
    headers,
    body,
    what: `${service} /events: ${what}`,
    ...extra,
  });
  const ahead = () => random.pick(FAR_AHEAD) + random.int(0, 999);
  const base = { id: `fuzz-${random.int(0, 1e9)}`, type: `Fuzz${random.pick(['Event', 'Thing', '__proto__', 'constructor', 'toString', 'hasOwnProperty'])}`, data: { x: 1 }, seq: ahead(), time: isoTime() };
  const delivered = context.delivered[service];
  switch (random.int(0, 11)) {
    case 0:
      return send('broken JSON', random.pick(BROKEN_JSON));
    case 1:
      return send('not an object', random.pick(NON_OBJECT_JSON));
    case 2: {
      const field = random.pick(['id', 'type', 'data', 'seq', 'time'] as const);
      const rest: Record<string, unknown> = { ...base };
      delete rest[field];
      return send(`envelope without ${field}`, JSON.stringify(rest));
    }
    case 3: {
      const seq = random.pick<unknown>([0, -1, -1e6, 1.5, '7', '1e6', null, true, [], {}, 2 ** 53 + 2]);
      return send(`seq ${JSON.stringify(seq)}`, JSON.stringify({ ...base, seq }));
    }
    case 4: {
      const type = random.pick<unknown>(['', 'x'.repeat(101), 5, null, [], { a: 1 }]);
      return send(`type ${JSON.stringify(type).slice(0, 20)}`, JSON.stringify({ ...base, type }));
    }
    case 5: {
      const field = random.pick(['id', 'time'] as const);
      const value = random.pick<unknown>(field === 'id' ? ['', 'i'.repeat(101), 5, null] : ['', 'yesterday', '2020-13-45T00:00:00Z', 1714979289, '2024-05-06', null]);
      return send(`${field} ${JSON.stringify(value).slice(0, 20)}`, JSON.stringify({ ...base, [field]: value }));
    }
    case 6: {
      // Known types with bad payloads are refused whatever the seq.
      const bad = random.pick([
        { type: 'PostCreated', data: { id: 'p', title: '' } },
        { type: 'PostCreated', data: { id: 5, title: 't' } },
        { type: 'PostCreated', data: null },
        { type: 'CommentCreated', data: { id: 'c', content: 'hi', status: 'pending' } },
        { type: 'CommentModerated', data: { id: 'c', postId: 'p', content: 'hi', status: 'maybe' } },
        { type: 'CommentUpdated', data: { id: 'c', postId: 'p', content: 'x'.repeat(1001), status: 'approved' } },
        { type: 'CommentUpdated', data: 'approved' },
      ]);
      return send(`${bad.type} with a bad payload`, JSON.stringify({ ...base, ...bad, seq: random.chance(0.5) ? ahead() : random.int(1, Math.max(1, delivered)) }));
    }
    case 7: {
      // A well-formed known event forged far ahead of the history: must never be applied.
      const forged = random.pick([
        { type: 'PostCreated', data: { id: `forged-${random.int(0, 1e9)}`, title: 'forged post' } },
        { type: 'CommentCreated', data: { id: `forged-${random.int(0, 1e9)}`, postId: context.postIds[0] ?? 'p', content: 'forged', status: 'pending' } },
        { type: 'CommentUpdated', data: { id: 'c', postId: 'p', content: 'forged', status: 'rejected' } },
      ]);
      return send(`forged ${forged.type} far ahead`, JSON.stringify({ ...base, ...forged }), { expectStatus: 409 });
    }
    case 8:
      return send('unknown type far ahead', JSON.stringify(base), { expectStatus: 409 });
    case 9: {
      if (delivered < 1) return send('unknown type far ahead', JSON.stringify(base), { expectStatus: 409 });
      // An unknown type at a seq the service has already applied: a duplicate, acknowledged and ignored.
      return send('unknown type at an applied seq', JSON.stringify({ ...base, seq: random.int(1, delivered) }), { expectStatus: 200 });
    }
    case 10: {
      // A real event from the history, tampered with, at its own (applied) seq: acknowledged and ignored.
      const applied = context.history.filter((event) => event.seq <= delivered);
      if (applied.length === 0) return send('unknown type far ahead', JSON.stringify(base), { expectStatus: 409 });
      const event = random.pick(applied);
      const data = typeof event.data === 'object' && event.data !== null ? (event.data as Record<string, unknown>) : {};
      const tampered = { ...data, ...('status' in data ? { status: data.status === 'approved' ? 'rejected' : 'approved' } : { title: 'tampered title' }) };
      return send(`tampered ${event.type} at its applied seq ${event.seq}`, JSON.stringify({ ...event, data: tampered }), { expectStatus: 200 });
    }
    default: {
      const type = random.pick(NOT_JSON_TYPES);
      return send(`content type ${type}`, JSON.stringify(base), {}, { 'content-type': type });
    }
  }
}

// ---- The bus ---------------------------------------------------------------------------------------

function badPublish(random: Random): FuzzRequest {
  const send = (what: string, body: string | Buffer, headers: Record<string, string> = JSON_TYPE): FuzzRequest => ({
    service: 'event-bus',
    method: 'POST',
    path: '/events',
    headers,
    body,
    what: `bus publish: ${what}`,
    mustFail: true,
  });
  switch (random.int(0, 7)) {
    case 0:
      return send('broken JSON', random.pick(BROKEN_JSON));
    case 1:
      return send('not an object', random.pick(NON_OBJECT_JSON));
    case 2:
      return send('no type', JSON.stringify({ data: { a: 1 }, id: 'x' }));
    case 3: {
      const type = random.pick<unknown>(['', 'T'.repeat(101), 7, null, ['PostCreated'], { type: 'PostCreated' }]);
      return send(`type ${JSON.stringify(type).slice(0, 30)}`, JSON.stringify({ type, data: {} }));
    }
    case 4: {
      const bad = random.pick([
        { type: 'PostCreated', data: { id: 'p', title: '' } },
        { type: 'PostCreated', data: { title: 'no id' } },
        { type: 'PostCreated', data: { id: 'p', title: 'x'.repeat(201) } },
        { type: 'CommentCreated', data: { id: 'c', postId: 'p', content: 'hi', status: 'unknown' } },
        { type: 'CommentModerated', data: { id: 'c', content: 'no post id', status: 'approved' } },
        { type: 'CommentUpdated', data: [] },
      ]);
      return send(`${bad.type} with a bad payload`, JSON.stringify(bad));
    }
    case 5: {
      const field = random.pick(['id', 'time'] as const);
      const value = random.pick<unknown>(field === 'id' ? ['', 'i'.repeat(101), 12, null] : ['', 'now', '2020-02-30T25:00:00Z', 0, null]);
      return send(`${field} ${JSON.stringify(value).slice(0, 20)}`, JSON.stringify({ type: 'FuzzEvent', data: {}, [field]: value }));
    }
    case 6: {
      const size = random.pick([16 * 1024 + 1, 50_000, 500_000]);
      return send(`oversized (${size} bytes)`, JSON.stringify({ type: 'FuzzEvent', data: 'x'.repeat(size) }));
    }
    default: {
      const type = random.pick(NOT_JSON_TYPES);
      return send(`content type ${type}`, JSON.stringify({ type: 'FuzzEvent', data: {} }), { 'content-type': type });
    }
  }
}

function badHistoryQuery(random: Random): FuzzRequest {
  const query = random.pick([
    'after=-1',
    'after=abc',
    'after=1.5',
    'after=1e400',
    'after=99999999999999999999',
    'after=%zz',
    'after=1&after=2',
    'after=&limit=0',
    'limit=0',
    'limit=-5',
    'limit=10001',
    'limit=abc',
    'limit=1.5',
    'limit=1&limit=2',
    'after=0x10&limit=1',
    'after[]=1&limit=1',
    'after=1e2&limit=1',
    'after=Infinity&limit=1',
    'after=NaN&limit=1',
    'after=%00&limit=1',
    `after=${'9'.repeat(400)}`,
    'limit=1&unknown=param',
  ]);
  return { service: 'event-bus', method: 'GET', path: `/events?${query}`, headers: {}, what: `bus history ?${query}` };
}

// ---- Methods, paths, reads -------------------------------------------------------------------------

const KNOWN_PATHS: Record<ServiceName, readonly string[]> = {
  'event-bus': ['/events', '/subscribers', '/healthz', '/readyz'],
  posts: ['/posts/create', '/posts', '/events', '/healthz', '/readyz'],
  comments: ['/posts/P/comments', '/events', '/healthz', '/readyz'],
  query: ['/posts', '/events', '/healthz', '/readyz'],
  moderation: ['/events', '/healthz', '/readyz'],
  client: ['/posts/create', '/posts/P/comments', '/posts', '/', '/healthz', '/readyz'],
};
const ALL_SERVICES = Object.keys(KNOWN_PATHS) as ServiceName[];

function oddMethod(random: Random, context: FuzzContext): FuzzRequest {
  const service = random.pick(ALL_SERVICES);
  const path = random.pick(KNOWN_PATHS[service]).replace('P', context.postIds[0] ?? 'p');
  const method = random.pick([...ODD_METHODS, 'POST']);
  // A POST to a read-only path, or another method to any path; never a usable create or event.
  const body = method === 'HEAD' || random.chance(0.4) ? undefined : invalidBody(random, random.pick(['title', 'content']), 200);
  const mustFail = method === 'POST' && (path === '/events' || path.endsWith('/create') || path.endsWith('/comments'));
  return { service, method, path, headers: body?.headers ?? {}, ...(body?.body !== undefined ? { body: body.body } : {}), what: `${method} ${service} ${path}${body ? ` (${body.what})` : ''}`, mustFail };
}

function oddPath(random: Random): FuzzRequest {
  const service = random.pick(ALL_SERVICES);
  const path = random.pick(ODD_PATHS);
  const method = random.pick(['GET', 'POST', 'DELETE']);
  const headers: Record<string, string> = random.chance(0.5) ? { accept: random.pick(['application/json', 'text/html', '*/*', 'image/png']) } : {};
  if (method === 'POST') {
    const body = invalidBody(random, random.pick(['title', 'content']), 200);
    return { service, method, path, headers: { ...headers, ...body.headers }, ...(body.body !== undefined ? { body: body.body } : {}), what: `POST ${service} ${path.slice(0, 60)} (${body.what})`, mustFail: true };
  }
  return { service, method, path, headers, what: `${method} ${service} ${path.slice(0, 60)}` };
}

function oddRead(random: Random, context: FuzzContext): FuzzRequest {
  const service = random.pick(['query', 'comments', 'posts', 'client', 'event-bus'] as const);
  const postId = random.pick([...context.postIds.slice(0, 3), '%E2%82%AC', 'a'.repeat(2000), '..', '%2e%2e']);
  const path = random.pick(['/posts?limit=-1&after=x', `/posts/${postId}/comments?x=%`, '/posts?__proto__[x]=1', '/subscribers?x=1', '/healthz?x=%zz']);
  return { service, method: 'GET', path, headers: { accept: random.pick(['application/json', '*/*', 'text/html']) }, what: `GET ${service} ${path.slice(0, 60)}` };
}

// ---- Sending ---------------------------------------------------------------------------------------

export interface RawAnswer {
  status: number;
  contentType: string;
  text: string;
}

/**
 * Sends one request to 127.0.0.1:port as is. Rejects when no answer came (network error, timeout).
 * A request that failed on a reused keep-alive connection (the server had closed it, e.g. after answering
 * an oversized body early) is sent once more on a new connection, as Node's documentation recommends.
 */
export async function sendRaw(port: number, request: FuzzRequest, agent: http.Agent, timeoutMs = 5_000): Promise<RawAnswer> {
  try {
    return await sendOnce(port, request, agent, timeoutMs);
  } catch (err) {
    if ((err as { reusedSocket?: boolean }).reusedSocket !== true) throw err;
    return sendOnce(port, request, false, timeoutMs);
  }
}

function sendOnce(port: number, request: FuzzRequest, agent: http.Agent | false, timeoutMs: number): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, method: request.method, path: request.path, headers: request.headers, agent, timeout: timeoutMs }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    // A server may answer (413) and close before a large body is fully written: the answer counts.
    req.on('error', (err) => {
      if (!answered) reject(Object.assign(err, { reusedSocket: req.reusedSocket }));
    });
    req.end(request.body);
  });
}
