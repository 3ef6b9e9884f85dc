import type { Comment, CommentStatus } from '@blog/common/api';

export const PENDING_TEXT = 'This comment is awaiting moderation';
export const REJECTED_TEXT = 'This comment has been rejected';

function shownText(content: string, status: CommentStatus): string {
  switch (status) {
    case 'approved':
      return content;
    case 'pending':
      return PENDING_TEXT;
    case 'rejected':
      return REJECTED_TEXT;
  }
}

interface CommentListProps {
  comments: Comment[];
}

/** The comments of one post, oldest first; only approved comments show their text. */
export function CommentList({ comments }: CommentListProps) {
  if (comments.length === 0) {
    return <p className="comments-empty">No comments yet.</p>;
  }
  return (
    <ul className="comments" aria-label="Comments">
      {comments.map((comment) => (
        <li
          key={comment.id}
          className={`comment comment--${comment.status}`}
          data-testid="comment"
          data-comment-id={comment.id}
          data-status={comment.status}
          dir="auto"
        >
          {shownText(comment.content, comment.status)}
        </li>
      ))}
    </ul>
  );
}
