/** Malformed publishes to the bus, and bad queries of its history. */
import type { Random } from '@blog/testkit';
import { BROKEN_JSON, type FuzzRequest, JSON_TYPE, NON_OBJECT_JSON, NOT_JSON_TYPES } from './requests';

export function badPublish(random: Random): FuzzRequest {
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
      const value = random.pick<unknown>(
        field === 'id' ? ['', 'i'.repeat(101), 12, null] : ['', 'now', '2020-02-30T25:00:00Z', 0, null],
      );
      return send(
        `${field} ${JSON.stringify(value).slice(0, 20)}`,
        JSON.stringify({ type: 'FuzzEvent', data: {}, [field]: value }),
      );
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

export function badHistoryQuery(random: Random): FuzzRequest {
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
