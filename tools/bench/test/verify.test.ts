import type { Attempt } from '../src/load';
import { acknowledgedCommentId, acknowledgedId } from '../src/phases/outcomes';
import { judgeComments, judgePosts } from '../src/verify';

const P = 'bench-x ';
const attempt = (status: number | null, body: unknown): Attempt => ({ index: 0, sentAt: 0, doneAt: 1, status, body });

describe('acknowledged ids', () => {
  it('takes the id of a 201 only', () => {
    expect(acknowledgedId(attempt(201, { id: 'a', title: 't' }))).toBe('a');
    expect(acknowledgedId(attempt(200, { id: 'a' }))).toBeUndefined();
    expect(acknowledgedId(attempt(201, { title: 't' }))).toBeUndefined();
    expect(acknowledgedId(attempt(null, undefined))).toBeUndefined();
  });

  it('finds a comment in a whole comment list, as the course implementation answers', () => {
    const list = [
      { id: 'c1', content: `${P}1`, status: 'pending' },
      { id: 'c2', content: `${P}2`, status: 'pending' },
    ];
    expect(acknowledgedCommentId(attempt(201, list), `${P}2`)).toBe('c2');
    expect(acknowledgedCommentId(attempt(201, list), `${P}3`)).toBeUndefined();
    expect(acknowledgedCommentId(attempt(201, { id: 'c9', content: 'x', status: 'pending' }), 'x')).toBe('c9');
  });
});

describe('judgePosts', () => {
  const view = {
    a: { id: 'a', title: `${P}1`, comments: [] },
    b: { id: 'b', title: `${P}2`, comments: [] },
    b2: { id: 'b2', title: `${P}2`, comments: [] },
    z: { id: 'z', title: `${P}never acknowledged`, comments: [] },
    o: { id: 'o', title: 'another run', comments: [] },
  };

  it('counts missing, duplicated and unacknowledged posts of this prefix only', () => {
    const verdict = judgePosts(view, P, [
      { id: 'a', title: `${P}1` },
      { id: 'b', title: `${P}2` },
      { id: 'c', title: `${P}3` },
    ]);
    expect(verdict).toEqual({ acknowledged: 3, missing: 1, duplicated: 1, unacknowledged: 1 });
  });

  it('counts a post shown under another id than its create answered as missing', () => {
    expect(judgePosts(view, P, [{ id: 'q', title: `${P}1` }]).missing).toBe(1);
  });
});

describe('judgeComments', () => {
  const view = {
    p1: {
      id: 'p1',
      title: 'post',
      comments: [
        { id: 'c1', content: `${P}ok`, status: 'approved' },
        { id: 'c2', content: `${P}orange`, status: 'approved' },
        { id: 'c3', content: `${P}slow`, status: 'pending' },
        { id: 'c4', content: `${P}twice`, status: 'approved' },
        { id: 'c4b', content: `${P}twice`, status: 'approved' },
      ],
    },
    p2: { id: 'p2', title: 'other', comments: [{ id: 'c5', content: `${P}moved`, status: 'approved' }] },
  };

  it('tells missing, misplaced, unsettled, wrong and duplicated comments apart', () => {
    const verdict = judgeComments(view, P, [
      { id: 'c1', postId: 'p1', content: `${P}ok`, expected: 'approved' },
      { id: 'c2', postId: 'p1', content: `${P}orange`, expected: 'rejected' },
      { id: 'c3', postId: 'p1', content: `${P}slow`, expected: 'approved' },
      { id: 'c4', postId: 'p1', content: `${P}twice`, expected: 'approved' },
      { id: 'c5', postId: 'p1', content: `${P}moved`, expected: 'approved' },
      { id: 'c6', postId: 'p1', content: `${P}lost`, expected: 'approved' },
    ]);
    expect(verdict).toEqual({
      acknowledged: 6,
      missing: 1,
      duplicated: 1,
      misplaced: 1,
      unsettled: 1,
      wrongStatus: 1,
      unacknowledged: 0,
    });
  });
});
