import {
  answerCode,
  asStreamChange,
  ERROR_CODES,
  errorCodeOf,
  isApiError,
  postsOfView,
  STREAM_CHANGE_TYPES,
} from '@blog/common/api';

const comment = { id: 'c1', content: 'nice', status: 'approved' };

describe('the public shapes, checked at run time', () => {
  it('reads a GET /posts view in creation order, and refuses one with any malformed post or comment', () => {
    const view = {
      p1: { id: 'p1', title: 'first', comments: [comment] },
      p2: { id: 'p2', title: 'second', comments: [] },
    };
    expect(postsOfView(view)?.map((post) => post.id)).toEqual(['p1', 'p2']);
    expect(postsOfView({})).toEqual([]);
    for (const bad of [
      [],
      null,
      'posts',
      { p1: { id: 'p1', comments: [] } },
      { p1: { id: 'p1', title: 't', comments: [{ ...comment, status: 'maybe' }] } },
    ]) {
      expect(postsOfView(bad)).toBeUndefined();
    }
  });

  it('reads each change of the stream by its event name, keeping only the documented fields', () => {
    expect(STREAM_CHANGE_TYPES).toEqual(['PostCreated', 'CommentCreated', 'CommentUpdated']);
    expect(asStreamChange('PostCreated', { id: 'p1', title: 't', extra: 1 })).toEqual({
      type: 'PostCreated',
      data: { id: 'p1', title: 't' },
    });
    for (const type of ['CommentCreated', 'CommentUpdated']) {
      expect(asStreamChange(type, { ...comment, postId: 'p1', extra: 1 })).toEqual({
        type,
        data: { ...comment, postId: 'p1' },
      });
    }
  });

  it('refuses a change of another type, or with a payload of the wrong shape', () => {
    expect(asStreamChange('snapshot', {})).toBeUndefined();
    expect(asStreamChange('PostCreated', { id: 'p1' })).toBeUndefined();
    expect(asStreamChange('CommentCreated', comment)).toBeUndefined();
    expect(asStreamChange('CommentUpdated', { ...comment, postId: 'p1', status: 'unknown' })).toBeUndefined();
  });

  it('knows an API error by its non-empty message', () => {
    expect(isApiError({ error: 'title is required' })).toBe(true);
    expect(isApiError({ error: ' ' })).toBe(false);
    expect(isApiError({ message: 'x' })).toBe(false);
  });

  it('reads the code of an error answer: the one it carries when this version knows it, else none', () => {
    expect(errorCodeOf({ error: 'x', code: 'outcome_unknown' })).toBe('outcome_unknown');
    expect(errorCodeOf({ error: 'x' })).toBeUndefined();
    expect(errorCodeOf({ error: 'x', code: 'from_a_newer_version' })).toBeUndefined();
    expect(errorCodeOf('<html>')).toBeUndefined();
  });

  it('reads an answer without a code by its status', () => {
    expect(answerCode(503, { error: 'x', code: 'stream_changed' })).toBe('stream_changed');
    expect(
      [400, 401, 403, 404, 409, 411, 413, 415, 429, 500, 502, 503, 504].map((status) => answerCode(status, undefined)),
    ).toEqual([
      'invalid_request',
      'unauthorized',
      'forbidden',
      'not_found',
      'conflict',
      'invalid_request',
      'payload_too_large',
      'invalid_request',
      'rate_limited',
      'internal',
      'internal',
      'unavailable',
      'outcome_unknown',
    ]);
  });

  it('names every code in snake_case, once', () => {
    expect(ERROR_CODES.every((code) => /^[a-z]+(_[a-z]+)*$/.test(code))).toBe(true);
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });
});
