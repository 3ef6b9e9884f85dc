import { useCallback, useRef, useState } from 'react';
import type { ChangeEvent, FormEvent, RefObject } from 'react';
import { errorMessage } from './api';

export interface TextForm {
  value: string;
  sending: boolean;
  /** The error of the last submit, shown next to the form; null when there is none. */
  error: string | null;
  /** False while sending or while the input is blank. */
  canSubmit: boolean;
  inputRef: RefObject<HTMLInputElement | null>;
  onChange: (event: ChangeEvent<HTMLInputElement>) => void;
  onSubmit: (event: FormEvent<HTMLFormElement>) => void;
}

/**
 * State of a one-field form: submits the trimmed text, clears the field after success and keeps
 * the field's focus, and turns a failure into a message to show next to the form.
 */
export function useTextForm(submit: (text: string) => Promise<unknown>): TextForm {
  const [value, setValue] = useState('');
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement | null>(null);
  // Guards against a second submit in the same tick, before `sending` has re-rendered.
  const busy = useRef(false);

  const text = value.trim();
  const canSubmit = !sending && text !== '';

  const onChange = useCallback((event: ChangeEvent<HTMLInputElement>): void => {
    setValue(event.target.value);
  }, []);

  const onSubmit = (event: FormEvent<HTMLFormElement>): void => {
    event.preventDefault();
    if (busy.current || text === '') return;
    busy.current = true;
    setSending(true);
    setError(null);
    submit(text)
      .then(
        () => {
          setValue('');
          inputRef.current?.focus();
        },
        (failure: unknown) => setError(errorMessage(failure)),
      )
      .finally(() => {
        busy.current = false;
        setSending(false);
      });
  };

  return { value, sending, error, canSubmit, inputRef, onChange, onSubmit };
}
