import type { PostWithComments } from '@blog/common/api';
import {
  awaitsServer,
  initialPostsState,
  postsReducer,
  visiblePosts,
  type PostsAction,
  type PostsState,
} from '../src/postsState';

const post = (id: string, comments: PostWithComments['comments'] = []): PostWithComments => ({
  id,
  title: `Title ${id}`,
  comments,
});

function run(...actions: PostsAction[]): PostsState {
  return actions.reduce(postsReducer, initialPostsState);
}

describe('postsReducer and visiblePosts', () => {
  it('starts empty and not loaded; a full list (poll or snapshot) loads it and clears the error', () => {
    expect(initialPostsState.loaded).toBe(false);
    const failed = run({ type: 'loadFailed', message: 'down' });
    expect(failed.loadError).toBe('down');
    const loaded = postsReducer(failed, { type: 'listReceived', posts: [post('a')] });
    expect(loaded).toMatchObject({ loaded: true, loadError: null, finishedLoads: 2 });
    expect(visiblePosts(loaded)).toEqual([post('a')]);
  });

  it('applies the stream’s changes to the list: new posts, comments and moderation results', () => {
    const state = run(
      { type: 'listReceived', posts: [post('a')] },
      { type: 'changeReceived', change: { type: 'PostCreated', post: { id: 'b', title: 'Title b' } } },
      {
        type: 'changeReceived',
        change: { type: 'CommentCreated', postId: 'b', comment: { id: 'c', content: 'hi', status: 'pending' } },
      },
      {
        type: 'changeReceived',
        change: { type: 'CommentUpdated', postId: 'b', comment: { id: 'c', content: 'hi', status: 'approved' } },
      },
    );
    expect(visiblePosts(state)).toEqual([post('a'), post('b', [{ id: 'c', content: 'hi', status: 'approved' }])]);
  });

  it('shows a post created in this tab at once, and once only when the stream brings it', () => {
    const created = run({ type: 'listReceived', posts: [] }, { type: 'postCreated', post: { id: 'p', title: 'Mine' } });
    expect(visiblePosts(created)).toEqual([{ id: 'p', title: 'Mine', comments: [] }]);
    expect(awaitsServer(created, visiblePosts(created))).toBe(true);

    const confirmed = postsReducer(created, {
      type: 'changeReceived',
      change: { type: 'PostCreated', post: { id: 'p', title: 'Mine' } },
    });
    expect(confirmed.unconfirmedPosts).toEqual([]);
    expect(visiblePosts(confirmed)).toEqual([{ id: 'p', title: 'Mine', comments: [] }]);
  });

  it('does not add a created post or comment the stream has already brought (the 201 answer came later)', () => {
    const streamed = run(
      { type: 'listReceived', posts: [] },
      { type: 'changeReceived', change: { type: 'PostCreated', post: { id: 'p', title: 'Mine' } } },
      {
        type: 'changeReceived',
        change: { type: 'CommentCreated', postId: 'p', comment: { id: 'c', content: 'hi', status: 'pending' } },
      },
    );
    const answered = postsReducer(postsReducer(streamed, { type: 'postCreated', post: { id: 'p', title: 'Mine' } }), {
      type: 'commentCreated',
      postId: 'p',
      comment: { id: 'c', content: 'hi', status: 'pending' },
    });
    expect(answered).toBe(streamed);
  });

  it('shows a comment created in this tab under its post until the server lists it, then the server’s copy', () => {
    const mine = run(
      { type: 'listReceived', posts: [post('a')] },
      { type: 'commentCreated', postId: 'a', comment: { id: 'c', content: 'hi', status: 'pending' } },
    );
    expect(visiblePosts(mine)[0]?.comments).toEqual([{ id: 'c', content: 'hi', status: 'pending' }]);

    const moderated = postsReducer(mine, {
      type: 'listReceived',
      posts: [post('a', [{ id: 'c', content: 'hi', status: 'approved' }])],
    });
    expect(moderated.unconfirmedComments).toEqual([]);
    expect(visiblePosts(moderated)[0]?.comments).toEqual([{ id: 'c', content: 'hi', status: 'approved' }]);
    expect(awaitsServer(moderated, visiblePosts(moderated))).toBe(false);
  });

  it('keeps what this tab created across a new snapshot that does not hold it yet', () => {
    const state = run(
      { type: 'postCreated', post: { id: 'p', title: 'Mine' } },
      { type: 'listReceived', posts: [post('a')] },
    );
    expect(visiblePosts(state).map((p) => p.id)).toEqual(['a', 'p']);
  });
});

describe('older pages of posts and comments', () => {
  const comment = (id: string) => ({ id, content: `text ${id}`, status: 'approved' as const });
  const ids = (state: PostsState) => visiblePosts(state).map((shown) => shown.id);

  it('shows older posts before the list once loaded, and where the next older page is', () => {
    const listed = run({
      type: 'listReceived',
      posts: [post('p3'), post('p4')],
      olderPosts: '/posts?limit=2&before=3',
    });
    expect(listed.olderPostsPath).toBe('/posts?limit=2&before=3');
    const older = postsReducer(listed, { type: 'olderPostsLoaded', posts: [post('p1'), post('p2')], older: null });
    expect(ids(older)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(older.olderPostsPath).toBeNull();
  });

  it("takes the stream's word of where the older posts are, after its snapshot", () => {
    const state = run(
      { type: 'listReceived', posts: [post('p2')], olderPosts: null },
      { type: 'olderPostsFound', path: '/posts?limit=1&before=2' },
    );
    expect(state.olderPostsPath).toBe('/posts?limit=1&before=2');
  });

  it('keeps showing posts a newer list no longer holds, and goes on from the oldest page loaded', () => {
    const state = run(
      { type: 'listReceived', posts: [post('p2'), post('p3')], olderPosts: '/posts?limit=2&before=2' },
      { type: 'olderPostsLoaded', posts: [post('p1')], older: '/posts?limit=2&before=1' },
      // A reconnect: the first page moved on by one post.
      { type: 'listReceived', posts: [post('p3'), post('p4')], olderPosts: null },
      { type: 'olderPostsFound', path: '/posts?limit=2&before=3' },
    );
    expect(ids(state)).toEqual(['p1', 'p2', 'p3', 'p4']);
    expect(state.olderPostsPath).toBe('/posts?limit=2&before=1');
  });

  it("shows a post's older comments before its own, once each, and where the next older ones are", () => {
    const withMore = {
      ...post('p1', [comment('c3'), comment('c4')]),
      olderComments: '/posts/p1/comments?limit=2&before=3',
    };
    const listed = run({ type: 'listReceived', posts: [withMore] });
    expect(visiblePosts(listed)[0]?.olderComments).toBe('/posts/p1/comments?limit=2&before=3');
    const firstPage = postsReducer(listed, {
      type: 'olderCommentsLoaded',
      postId: 'p1',
      comments: [comment('c2'), comment('c3')],
      older: '/posts/p1/comments?limit=2&before=2',
    });
    expect(visiblePosts(firstPage)[0]?.comments.map((c) => c.id)).toEqual(['c2', 'c3', 'c4']);
    expect(visiblePosts(firstPage)[0]?.olderComments).toBe('/posts/p1/comments?limit=2&before=2');
    const all = postsReducer(firstPage, {
      type: 'olderCommentsLoaded',
      postId: 'p1',
      comments: [comment('c1')],
      older: null,
    });
    expect(visiblePosts(all)[0]?.comments.map((c) => c.id)).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect(visiblePosts(all)[0]).not.toHaveProperty('olderComments');
  });

  it("applies the stream's changes to older posts and older comments too, never adding a new post among the older ones", () => {
    const state = run(
      { type: 'listReceived', posts: [post('p2')], olderPosts: '/posts?limit=1&before=2' },
      { type: 'olderPostsLoaded', posts: [post('p1', [comment('c2')])], older: null },
      {
        type: 'olderCommentsLoaded',
        postId: 'p1',
        comments: [{ id: 'c1', content: 'old', status: 'pending' }],
        older: null,
      },
      {
        type: 'changeReceived',
        change: { type: 'CommentUpdated', postId: 'p1', comment: { id: 'c1', content: 'old', status: 'rejected' } },
      },
      { type: 'changeReceived', change: { type: 'CommentCreated', postId: 'p1', comment: comment('c3') } },
      { type: 'changeReceived', change: { type: 'PostCreated', post: { id: 'p3', title: 'Title p3' } } },
    );
    expect(ids(state)).toEqual(['p1', 'p2', 'p3']);
    expect(visiblePosts(state)[0]?.comments).toEqual([
      { id: 'c1', content: 'old', status: 'rejected' },
      comment('c2'),
      comment('c3'),
    ]);
  });
});
