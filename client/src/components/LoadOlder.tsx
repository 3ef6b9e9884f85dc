import { useState } from 'react';
import { errorMessage } from '../api';

interface LoadOlderProps {
  label: string;
  onLoad: () => Promise<unknown>;
}

/** A button that loads an older page of a list, busy while it loads, with the error of a failed load. */
export function LoadOlder({ label, onLoad }: LoadOlderProps) {
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const load = (): void => {
    if (loading) return;
    setLoading(true);
    setError(null);
    onLoad()
      .catch((failure: unknown) => setError(errorMessage(failure)))
      .finally(() => setLoading(false));
  };

  return (
    <div className="load-older">
      <button type="button" className="button-secondary" onClick={load} disabled={loading} aria-busy={loading}>
        {loading ? 'Loading…' : label}
      </button>
      {error !== null && <p role="alert">{error}</p>}
    </div>
  );
}
