import type { PostWithComments } from '@blog/common/api';
import { applyChange, parseChange, parseSnapshot, type LiveChange } from '../src/liveChanges';

const post = (id: string, comments: PostWithComments['comments'] = []): PostWithComments => ({
  id,
  title: `Title ${id}`,
  comments,
});

describe('parseSnapshot', () => {
  it('reads the GET /posts view as a list in the order of the map', () => {
    const view = { b: post('b'), a: post('a', [{ id: 'c1', content: 'hi', status: 'pending' }]) };
    expect(parseSnapshot(JSON.stringify(view))).toEqual([view.b, view.a]);
    expect(parseSnapshot('{}')).toEqual([]);
  });

  it.each(['', 'not json', '[]', 'null', '{"a":{"id":"a"}}', '{"a":{"id":"a","title":"t","comments":[{"id":"c"}]}}'])(
    'rejects the malformed snapshot %j',
    (data) => {
      expect(parseSnapshot(data)).toBeUndefined();
    },
  );
});

describe('parseChange', () => {
  it('reads each change type, keeping only the fields the view needs', () => {
    expect(parseChange('PostCreated', '{"id":"p","title":"T","extra":1}')).toEqual({
      type: 'PostCreated',
      post: { id: 'p', title: 'T' },
    });
    expect(parseChange('CommentCreated', '{"id":"c","postId":"p","content":"x","status":"pending"}')).toEqual({
      type: 'CommentCreated',
      postId: 'p',
      comment: { id: 'c', content: 'x', status: 'pending' },
    });
    expect(parseChange('CommentUpdated', '{"id":"c","postId":"p","content":"x","status":"rejected"}')).toEqual({
      type: 'CommentUpdated',
      postId: 'p',
      comment: { id: 'c', content: 'x', status: 'rejected' },
    });
  });

  it.each([
    ['PostCreated', '{"id":"p"}'],
    ['PostCreated', 'oops'],
    ['CommentCreated', '{"id":"c","content":"x","status":"pending"}'],
    ['CommentUpdated', '{"id":"c","postId":"p","content":"x","status":"maybe"}'],
    ['PostDeleted', '{"id":"p","title":"T"}'],
  ])('rejects %s %s', (type, data) => {
    expect(parseChange(type, data)).toBeUndefined();
  });
});

describe('applyChange', () => {
  const created: LiveChange = {
    type: 'CommentCreated',
    postId: 'a',
    comment: { id: 'c1', content: 'hello', status: 'pending' },
  };
  const approved: LiveChange = {
    type: 'CommentUpdated',
    postId: 'a',
    comment: { id: 'c1', content: 'hello', status: 'approved' },
  };

  it('appends a new post last, with no comments', () => {
    const before = [post('a')];
    expect(applyChange(before, { type: 'PostCreated', post: { id: 'b', title: 'B' } })).toEqual([
      post('a'),
      { id: 'b', title: 'B', comments: [] },
    ]);
    expect(before).toEqual([post('a')]);
  });

  it('appends a new comment last in its post and leaves the other posts as they were', () => {
    const other = post('b');
    const after = applyChange([post('a', [{ id: 'c0', content: 'first', status: 'approved' }]), other], created);
    expect(after[0]?.comments.map((c) => c.id)).toEqual(['c0', 'c1']);
    expect(after[1]).toBe(other);
  });

  it('replaces a comment’s content and status on update, in place', () => {
    const after = applyChange(
      applyChange([post('a', [{ id: 'c0', content: 'x', status: 'approved' }])], created),
      approved,
    );
    expect(after[0]?.comments).toEqual([
      { id: 'c0', content: 'x', status: 'approved' },
      { id: 'c1', content: 'hello', status: 'approved' },
    ]);
  });

  it('shows a change applied twice once (a create also known from its 201 answer)', () => {
    const once = applyChange(applyChange([], { type: 'PostCreated', post: { id: 'a', title: 'A' } }), created);
    const twice = applyChange(applyChange(once, { type: 'PostCreated', post: { id: 'a', title: 'A' } }), created);
    expect(twice).toEqual(once);
    expect(twice[0]?.comments).toHaveLength(1);
  });

  it('ignores a comment for a post it does not hold', () => {
    expect(applyChange([post('b')], created)).toEqual([post('b')]);
  });
});
