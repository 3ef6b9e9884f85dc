import type { PostWithComments } from '@blog/common/api';
import { awaitsServer, initialPostsState, postsReducer, visiblePosts, type PostsAction, type PostsState } from '../src/postsState';

const post = (id: string, comments: PostWithComments['comments'] = []): PostWithComments => ({ id, title: `Title ${id}`, comments });

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
      { type: 'changeReceived', change: { type: 'CommentCreated', postId: 'b', comment: { id: 'c', content: 'hi', status: 'pending' } } },
      { type: 'changeReceived', change: { type: 'CommentUpdated', postId: 'b', comment: { id: 'c', content: 'hi', status: 'approved' } } },
    );
    expect(visiblePosts(state)).toEqual([post('a'), post('b', [{ id: 'c', content: 'hi', status: 'approved' }])]);
  });

  it('shows a post created in this tab at once, and once only when the stream brings it', () => {
    const created = run({ type: 'listReceived', posts: [] }, { type: 'postCreated', post: { id: 'p', title: 'Mine' } });
    expect(visiblePosts(created)).toEqual([{ id: 'p', title: 'Mine', comments: [] }]);
    expect(awaitsServer(created, visiblePosts(created))).toBe(true);

    const confirmed = postsReducer(created, { type: 'changeReceived', change: { type: 'PostCreated', post: { id: 'p', title: 'Mine' } } });
    expect(confirmed.unconfirmedPosts).toEqual([]);
    expect(visiblePosts(confirmed)).toEqual([{ id: 'p', title: 'Mine', comments: [] }]);
  });

  it('does not add a created post or comment the stream has already brought (the 201 answer came later)', () => {
    const streamed = run(
      { type: 'listReceived', posts: [] },
      { type: 'changeReceived', change: { type: 'PostCreated', post: { id: 'p', title: 'Mine' } } },
      { type: 'changeReceived', change: { type: 'CommentCreated', postId: 'p', comment: { id: 'c', content: 'hi', status: 'pending' } } },
    );
    const answered = postsReducer(
      postsReducer(streamed, { type: 'postCreated', post: { id: 'p', title: 'Mine' } }),
      { type: 'commentCreated', postId: 'p', comment: { id: 'c', content: 'hi', status: 'pending' } },
    );
    expect(answered).toBe(streamed);
  });

  it('shows a comment created in this tab under its post until the server lists it, then the server’s copy', () => {
    const mine = run(
      { type: 'listReceived', posts: [post('a')] },
      { type: 'commentCreated', postId: 'a', comment: { id: 'c', content: 'hi', status: 'pending' } },
    );
    expect(visiblePosts(mine)[0]?.comments).toEqual([{ id: 'c', content: 'hi', status: 'pending' }]);

    const moderated = postsReducer(mine, { type: 'listReceived', posts: [post('a', [{ id: 'c', content: 'hi', status: 'approved' }])] });
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
