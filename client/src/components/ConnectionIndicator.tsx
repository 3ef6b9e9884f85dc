import type { ConnectionStatus } from '../postsStream';

const LABELS: Record<ConnectionStatus, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  polling: 'Refreshing every few seconds',
};

const DESCRIPTIONS: Record<ConnectionStatus, string> = {
  connecting: 'Connecting to live updates',
  live: 'New posts, comments and moderation results appear as they happen',
  reconnecting: 'The live connection was lost; reconnecting by itself',
  polling: 'Live updates are not available; the list is reloaded every few seconds',
};

interface ConnectionIndicatorProps {
  status: ConnectionStatus;
}

/** Whether updates arrive live; announced politely to screen readers when it changes. */
export function ConnectionIndicator({ status }: ConnectionIndicatorProps) {
  return (
    <p
      className={`connection connection--${status}`}
      data-testid="connection"
      data-state={status}
      role="status"
      aria-live="polite"
      title={DESCRIPTIONS[status]}
    >
      <span className="connection__dot" aria-hidden="true" />
      {LABELS[status]}
    </p>
  );
}
