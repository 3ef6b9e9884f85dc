import type { PostWithComments } from '@blog/common/api';
import { CommentCreate } from './CommentCreate';
import { CommentList } from './CommentList';
import { LoadOlder } from './LoadOlder';

export const OLDER_POSTS_LABEL = 'Show older posts';
export const OLDER_COMMENTS_LABEL = 'Show older comments';

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
  /** Whether there are older posts than those listed. */
  hasOlderPosts?: boolean;
  onLoadOlderPosts?: () => Promise<unknown>;
  onLoadOlderComments?: (postId: string, path: string) => Promise<unknown>;
}

export function PostList({
  posts,
  loaded,
  loadError,
  onRetry,
  onCreateComment,
  hasOlderPosts = false,
  onLoadOlderPosts,
  onLoadOlderComments,
}: PostListProps) {
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
      {hasOlderPosts && onLoadOlderPosts && <LoadOlder label={OLDER_POSTS_LABEL} onLoad={onLoadOlderPosts} />}
      {posts.length > 0 ? (
        <div className="post-grid">
          {posts.map((post) => (
            <article key={post.id} className="post-card" data-testid="post" data-post-id={post.id}>
              <h3 className="post-card__title" dir="auto">
                {post.title}
              </h3>
              {post.olderComments !== undefined && onLoadOlderComments && (
                <LoadOlder
                  label={OLDER_COMMENTS_LABEL}
                  onLoad={() => onLoadOlderComments(post.id, post.olderComments as string)}
                />
              )}
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
