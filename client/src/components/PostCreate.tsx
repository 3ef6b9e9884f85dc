import { useId } from 'react';
import { LIMITS } from '@blog/common/api';
import { useTextForm } from '../useTextForm';

interface PostCreateProps {
  /** Creates the post; a rejection's message is shown next to the form. */
  onCreate: (title: string) => Promise<unknown>;
}

export function PostCreate({ onCreate }: PostCreateProps) {
  const form = useTextForm(onCreate);
  const inputId = useId();
  const errorId = useId();

  return (
    <form className="text-form" onSubmit={form.onSubmit} aria-busy={form.sending}>
      <label className="text-form__label" htmlFor={inputId}>
        Title
      </label>
      <div className="text-form__row">
        <input
          ref={form.inputRef}
          id={inputId}
          name="title"
          type="text"
          autoComplete="off"
          maxLength={LIMITS.titleLength}
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
