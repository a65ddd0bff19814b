import type { ConnectionState } from '@wan-video/react-hooks';

/** "Live" while the task's updates stream in; "Reconnecting…" while the connection is down. */
export function LiveBadge({ connection }: { connection: ConnectionState }) {
  if (connection === 'reconnecting') {
    return (
      <span className="live reconnecting" role="status" data-testid="live-badge">
        <span className="spinner small" aria-hidden="true" />
        Reconnecting…
      </span>
    );
  }
  return (
    <span className="live" role="status" data-testid="live-badge">
      <span className="live-dot" aria-hidden="true" />
      Live
    </span>
  );
}
