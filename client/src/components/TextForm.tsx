import { useId } from 'react';
import { useTextForm } from '../useTextForm';
import { CharacterCount, describeLength } from './CharacterCount';

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
  const countId = useId();
  // No maxLength on the input: a longer paste would be cut without a word. The count says it instead.
  const length = form.value.trim().length;
  const count = describeLength(length, maxLength);
  const tooLong = count?.over ?? false;
  const describedBy = [form.error !== null ? errorId : undefined, count ? countId : undefined]
    .filter(Boolean)
    .join(' ');

  return (
    <form
      className={compact ? 'text-form text-form--compact' : 'text-form'}
      onSubmit={form.onSubmit}
      aria-busy={form.sending}
    >
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
          dir="auto"
          value={form.value}
          onChange={form.onChange}
          readOnly={form.sending}
          aria-invalid={form.error !== null || tooLong}
          aria-describedby={describedBy === '' ? undefined : describedBy}
        />
        <button type="submit" disabled={!form.canSubmit || tooLong}>
          {form.sending ? 'Sending…' : 'Submit'}
        </button>
      </div>
      <CharacterCount id={countId} length={length} max={maxLength} />
      {form.error !== null && (
        <p className="form-error" role="alert" id={errorId}>
          {form.error}
        </p>
      )}
    </form>
  );
}
