import { LIMITS } from '@blog/common/api';
import { TextForm } from './TextForm';

interface PostCreateProps {
  /** Creates the post; a rejection's message is shown next to the form. */
  onCreate: (title: string) => Promise<unknown>;
}

export function PostCreate({ onCreate }: PostCreateProps) {
  return <TextForm label="Title" name="title" maxLength={LIMITS.titleLength} onSubmit={onCreate} />;
}
