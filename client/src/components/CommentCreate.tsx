import { useId } from 'react';
import { LIMITS } from '@blog/common/api';
import { useTextForm } from '../useTextForm';

interface CommentCreateProps {
  postId: string;
  /** Creates the comment; a rejection's message is shown next to the form. */
  onCreate: (postId: string, content: string) => Promise<unknown>;
}

export function CommentCreate({ postId, onCreate }: CommentCreateProps) {
  const form = useTextForm((content) => onCreate(postId, content));
  const inputId = useId();
  const errorId = useId();

  return (
    <form className="text-form text-form--compact" onSubmit={form.onSubmit} aria-busy={form.sending}>
      <label className="text-form__label" htmlFor={inputId}>
        New comment
      </label>
      <div className="text-form__row">
        <input
          ref={form.inputRef}
          id={inputId}
          name="content"
          type="text"
          autoComplete="off"
          maxLength={LIMITS.contentLength}
          value={form.value}
          onChange={form.onChange}
          readOnly={form.sending}
          aria-invalid={form.error !== null}
          aria-describedby={form.error !== null ? errorId : undefined}
        />
        <button type="submit" disabled={!form.canSubmit}>
          Submit
        </button>
      </div>
      {form.error !== null && (
        <p className="form-error" role="alert" id={errorId}>
          {form.error}
        </p>
      )}
    </form>
  );
}
