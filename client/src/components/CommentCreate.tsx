import { LIMITS } from '@blog/common/api';
import { TextForm } from './TextForm';

interface CommentCreateProps {
  postId: string;
  /** Creates the comment; a rejection's message is shown next to the form. */
  onCreate: (postId: string, content: string) => Promise<unknown>;
}

export function CommentCreate({ postId, onCreate }: CommentCreateProps) {
  return (
    <TextForm
      label="New comment"
      name="content"
      maxLength={LIMITS.contentLength}
      compact
      onSubmit={(content) => onCreate(postId, content)}
    />
  );
}
