/** Malformed, duplicated and forged envelopes for a service's /events. */
import type { Random } from '@blog/testkit';
import {
  BROKEN_JSON,
  type FuzzContext,
  type FuzzRequest,
  JSON_TYPE,
  NON_OBJECT_JSON,
  NOT_JSON_TYPES,
  SUBSCRIBERS,
} from './requests';

/** Seqs far beyond any history of a test run (plus up to 999, still safe integers). */
const FAR_AHEAD = [1_000_000, 12_345_678, 2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER - 1_000];

function isoTime(): string {
  return '2024-05-06T07:08:09.123Z';
}

export function badEnvelope(random: Random, context: FuzzContext): FuzzRequest {
  const service = random.pick(SUBSCRIBERS);
  const send = (
    what: string,
    body: string | Buffer,
    extra: Partial<FuzzRequest> = {},
    headers: Record<string, string> = JSON_TYPE,
  ): FuzzRequest => ({
    service,
    method: 'POST',
    path: '/events',
    headers,
    body,
    what: `${service} /events: ${what}`,
    ...extra,
  });
  const ahead = () => random.pick(FAR_AHEAD) + random.int(0, 999);
  const base = {
    id: `fuzz-${random.int(0, 1e9)}`,
    type: `Fuzz${random.pick(['Event', 'Thing', '__proto__', 'constructor', 'toString', 'hasOwnProperty'])}`,
    data: { x: 1 },
    seq: ahead(),
    time: isoTime(),
  };
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
      const value = random.pick<unknown>(
        field === 'id'
          ? ['', 'i'.repeat(101), 5, null]
          : ['', 'yesterday', '2020-13-45T00:00:00Z', 1714979289, '2024-05-06', null],
      );
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
      return send(
        `${bad.type} with a bad payload`,
        JSON.stringify({ ...base, ...bad, seq: random.chance(0.5) ? ahead() : random.int(1, Math.max(1, delivered)) }),
      );
    }
    case 7: {
      // A well-formed known event forged far ahead of the history: must never be applied.
      const forged = random.pick([
        { type: 'PostCreated', data: { id: `forged-${random.int(0, 1e9)}`, title: 'forged post' } },
        {
          type: 'CommentCreated',
          data: {
            id: `forged-${random.int(0, 1e9)}`,
            postId: context.postIds[0] ?? 'p',
            content: 'forged',
            status: 'pending',
          },
        },
        { type: 'CommentUpdated', data: { id: 'c', postId: 'p', content: 'forged', status: 'rejected' } },
      ]);
      return send(`forged ${forged.type} far ahead`, JSON.stringify({ ...base, ...forged }), { expectStatus: 409 });
    }
    case 8:
      return send('unknown type far ahead', JSON.stringify(base), { expectStatus: 409 });
    case 9: {
      if (delivered < 1) return send('unknown type far ahead', JSON.stringify(base), { expectStatus: 409 });
      // An unknown type at a seq the service has already applied: a duplicate, acknowledged and ignored.
      return send('unknown type at an applied seq', JSON.stringify({ ...base, seq: random.int(1, delivered) }), {
        expectStatus: 200,
      });
    }
    case 10: {
      // A real event from the history, tampered with, at its own (applied) seq: acknowledged and ignored.
      const applied = context.history.filter((event) => event.seq <= delivered);
      if (applied.length === 0) return send('unknown type far ahead', JSON.stringify(base), { expectStatus: 409 });
      const event = random.pick(applied);
      const data = typeof event.data === 'object' && event.data !== null ? (event.data as Record<string, unknown>) : {};
      const tampered = {
        ...data,
        ...('status' in data
          ? { status: data.status === 'approved' ? 'rejected' : 'approved' }
          : { title: 'tampered title' }),
      };
      return send(
        `tampered ${event.type} at its applied seq ${event.seq}`,
        JSON.stringify({ ...event, data: tampered }),
        { expectStatus: 200 },
      );
    }
    default: {
      const type = random.pick(NOT_JSON_TYPES);
      return send(`content type ${type}`, JSON.stringify(base), {}, { 'content-type': type });
    }
  }
}
