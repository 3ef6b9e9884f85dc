import type { PostWithComments } from '@blog/common/api';
import { CommentCreate } from './CommentCreate';
import { CommentList } from './CommentList';

export const EMPTY_TEXT = 'No posts yet — create the first one.';

interface PostListProps {
  /** Oldest first. */
  posts: PostWithComments[];
  /** False until the list has been loaded once. */
  loaded: boolean;
  /** Why the last load failed, or null. */
  loadError: string | null;
  onRetry: () => void;
  onCreateComment: (postId: string, content: string) => Promise<unknown>;
}

export function PostList({ posts, loaded, loadError, onRetry, onCreateComment }: PostListProps) {
  return (
    <div className="post-list">
      {loadError !== null && (
        <div className="load-error">
          <p role="alert">Could not load the posts: {loadError}</p>
          <button type="button" className="button-secondary" onClick={onRetry}>
            Try again
          </button>
        </div>
      )}
      {posts.length > 0 ? (
        <div className="post-grid">
          {posts.map((post) => (
            <article key={post.id} className="post-card" data-testid="post" data-post-id={post.id}>
              <h3 className="post-card__title" dir="auto">
                {post.title}
              </h3>
              <CommentList comments={post.comments} />
              <CommentCreate postId={post.id} onCreate={onCreateComment} />
            </article>
          ))}
        </div>
      ) : loaded ? (
        <p className="empty-state">{EMPTY_TEXT}</p>
      ) : loadError === null ? (
        <p className="loading" role="status">
          Loading posts…
        </p>
      ) : null}
    </div>
  );
}
