/** Malformed creates of posts and comments, sent to the services and through the client server. */
import type { Random, ServiceName } from '@blog/testkit';
import {
  blankStrings,
  BROKEN_JSON,
  type FuzzContext,
  type FuzzRequest,
  JSON_TYPE,
  NON_OBJECT_JSON,
  NOT_JSON_TYPES,
  WRONG_TYPES,
} from './requests';

export function badCreate(
  random: Random,
  context: FuzzContext,
  service: 'posts' | 'comments' | 'client',
  kind: 'post' | 'comment',
): FuzzRequest {
  const field = kind === 'post' ? 'title' : 'content';
  const limit = kind === 'post' ? 200 : 1000;
  const postId =
    context.postIds.length > 0 && random.chance(0.8)
      ? random.pick(context.postIds)
      : random.pick(['nope', '00000000-0000-4000-8000-000000000000', '%20', 'x'.repeat(300)]);
  const path =
    kind === 'post'
      ? random.pick(['/posts/create', '/posts', '/POSTS/create', '/posts/create/', '/posts/create?x=1'])
      : `/posts/${postId}/comments`;
  const target: ServiceName = service === 'client' ? 'client' : kind === 'post' ? 'posts' : 'comments';
  // the gateway sends POST /posts to query, which has no such route: still a JSON 404.
  const body = invalidBody(random, field, limit);
  return {
    service: target,
    method: 'POST',
    path,
    what: `${kind} create: ${body.what}`,
    headers: body.headers,
    body: body.body,
    mustFail: true,
  };
}

interface Body {
  what: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** A body that no create endpoint can accept. */
export function invalidBody(random: Random, field: string, limit: number): Body {
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
      return {
        what: `${field} of a wrong type`,
        headers: JSON_TYPE,
        body: JSON.stringify({ [field]: random.pick(WRONG_TYPES) }),
      };
    case 4:
      return {
        what: `blank ${field}`,
        headers: JSON_TYPE,
        body: JSON.stringify({ [field]: random.pick(blankStrings) }),
      };
    case 5: {
      const length = limit + random.int(1, 3_000);
      return {
        what: `${field} of ${length} characters`,
        headers: JSON_TYPE,
        body: JSON.stringify({ [field]: 'x'.repeat(length) }),
      };
    }
    case 6: {
      const size = random.pick([16 * 1024 + 1, 20_000, 100_000, 1_000_000]);
      return {
        what: `oversized body (${size} bytes)`,
        headers: JSON_TYPE,
        body: JSON.stringify({ [field]: 'x'.repeat(size) }),
      };
    }
    case 7: {
      const other = random.pick([
        {},
        { other: 'x' },
        { [field.toUpperCase()]: 'x' },
        { [` ${field}`]: 'x' },
        { __proto__: { [field]: 'x' } },
      ]);
      return {
        what: `no ${field} field`,
        headers: JSON_TYPE,
        body: random.chance(0.3) ? `{"__proto__": {"${field}": "x"}}` : JSON.stringify(other),
      };
    }
    case 8: {
      const type = random.pick(NOT_JSON_TYPES);
      return {
        what: `content type ${type}`,
        headers: { 'content-type': type },
        body: random.chance(0.5) ? valid : `${field}=hello`,
      };
    }
    case 9:
      return { what: 'no content type', headers: {}, body: valid };
    case 10: {
      const charset = random.pick(['utf-16', 'utf-16le', 'utf-32', 'iso-8859-1', 'koi8-r', 'bogus']);
      return {
        what: `charset ${charset}`,
        headers: { 'content-type': `application/json; charset=${charset}` },
        body: valid,
      };
    }
    case 11: {
      const encoding = random.pick(['gzip', 'deflate', 'br', 'compress', 'bogus', 'identity, gzip']);
      return {
        what: `content-encoding ${encoding} with a plain body`,
        headers: { ...JSON_TYPE, 'content-encoding': encoding },
        body: random.chance(0.5) ? 'garbage' : '{}',
      };
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
