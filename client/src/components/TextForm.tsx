import { useId } from 'react';
import { useTextForm } from '../useTextForm';

interface TextFormProps {
  /** The input's visible label and accessible name. */
  label: string;
  name: string;
  maxLength: number;
  compact?: boolean;
  /** Sends the trimmed text; a rejection's message is shown next to the form. */
  onSubmit: (text: string) => Promise<unknown>;
}

/** A labelled one-line input with a Submit button and an inline error. */
export function TextForm({ label, name, maxLength, compact = false, onSubmit }: TextFormProps) {
  const form = useTextForm(onSubmit);
  const inputId = useId();
  const errorId = useId();

  return (
    <form className={compact ? 'text-form text-form--compact' : 'text-form'} onSubmit={form.onSubmit} aria-busy={form.sending}>
      <label className="text-form__label" htmlFor={inputId}>
        {label}
      </label>
      <div className="text-form__row">
        <input
          ref={form.inputRef}
          id={inputId}
          name={name}
          type="text"
          autoComplete="off"
          maxLength={maxLength}
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
