import { envelopeOf } from '@blog/common/testing';
import { LIMITS } from '../src/contracts/api';
import { EVENT_TYPES, parseEnvelope, parsePublishRequest } from '../src/contracts/events';

const comment = { id: 'c1', postId: 'p1', content: 'hello', status: 'pending' } as const;

describe('parseEnvelope', () => {
  it('accepts each known event type with a valid payload', () => {
    const events = [
      envelopeOf({ type: 'PostCreated', data: { id: 'p1', title: 'T' } }, 1),
      envelopeOf({ type: 'CommentCreated', data: comment }, 2),
      envelopeOf({ type: 'CommentModerated', data: { ...comment, status: 'approved' } }, 3),
      envelopeOf({ type: 'CommentUpdated', data: { ...comment, status: 'rejected' } }, 4),
    ];
    expect(events.map((e) => e.type)).toEqual(EVENT_TYPES);
    for (const event of events) {
      expect(parseEnvelope(JSON.parse(JSON.stringify(event)))).toEqual({ ok: true, known: true, envelope: event });
    }
  });

  it('accepts an unknown type as foreign, whatever its data', () => {
    const parsed = parseEnvelope({
      id: 'e1',
      type: 'PostLiked',
      data: [1, 2],
      seq: 7,
      time: '2026-01-01T00:00:00.000Z',
    });
    expect(parsed).toMatchObject({ ok: true, known: false, envelope: { type: 'PostLiked', seq: 7 } });
  });

  it.each([
    ['a missing seq', { id: 'e', type: 'PostCreated', data: { id: 'p', title: 't' }, time: '2026-01-01T00:00:00Z' }],
    ['a zero seq', { ...envelopeOf({ type: 'PostCreated', data: { id: 'p', title: 't' } }, 1), seq: 0 }],
    ['a fractional seq', { ...envelopeOf({ type: 'PostCreated', data: { id: 'p', title: 't' } }, 1), seq: 1.5 }],
    ['a bad time', { ...envelopeOf({ type: 'PostCreated', data: { id: 'p', title: 't' } }, 1), time: 'yesterday' }],
    ['an empty type', { ...envelopeOf({ type: 'PostCreated', data: { id: 'p', title: 't' } }, 1), type: '' }],
    [
      'a known type with a bad payload',
      { ...envelopeOf({ type: 'PostCreated', data: { id: 'p', title: 't' } }, 1), data: { id: 'p' } },
    ],
    ['a bad status', envelopeOf({ type: 'CommentUpdated', data: { ...comment, status: 'maybe' as 'approved' } }, 1)],
    ['an array', []],
    ['null', null],
    ['a string', 'PostCreated'],
  ])('rejects %s with a readable error', (_name, input) => {
    const parsed = parseEnvelope(input);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.length).toBeGreaterThan(0);
  });

  it('names the offending field', () => {
    const parsed = parseEnvelope({
      ...envelopeOf({ type: 'PostCreated', data: { id: 'p', title: 't' } }, 1),
      data: { id: 'p', title: 5 },
    });
    expect(parsed).toEqual({ ok: false, error: expect.stringMatching(/^invalid PostCreated data: title:/) });
  });

  it('limits the length of titles and contents', () => {
    const long = envelopeOf({ type: 'PostCreated', data: { id: 'p', title: 'x'.repeat(LIMITS.titleLength + 1) } }, 1);
    expect(parseEnvelope(long).ok).toBe(false);
  });
});

describe('parsePublishRequest', () => {
  it('accepts course-style {type, data} without id and time', () => {
    expect(parsePublishRequest({ type: 'PostCreated', data: { id: 'p', title: 'T' } })).toEqual({
      ok: true,
      event: { type: 'PostCreated', data: { id: 'p', title: 'T' } },
    });
  });

  it('validates the payload of known types and passes unknown types through', () => {
    expect(parsePublishRequest({ type: 'CommentCreated', data: {} }).ok).toBe(false);
    expect(parsePublishRequest({ type: 'Custom', data: 'anything' })).toEqual({
      ok: true,
      event: { type: 'Custom', data: 'anything' },
    });
    expect(parsePublishRequest({ data: {} }).ok).toBe(false);
  });
});
