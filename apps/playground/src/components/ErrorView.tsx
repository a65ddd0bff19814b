import type { VideoGatewayError } from '@wan-video/react-hooks';
import { useMemo } from 'react';
import { formatDuration, formatTime } from '../lib/format.js';
import { labelMessage } from '../lib/labels.js';

interface Explained {
  readonly title: string;
  readonly next: string;
}

function explain(
  error: VideoGatewayError,
  retryAt: number | null,
  authRequired: boolean,
  taskId: string | null,
): Explained {
  switch (error.kind) {
    case 'validation':
      return {
        title: 'The gateway refused the input',
        next: 'Fix the problems listed below, then generate again.',
      };
    case 'auth':
      return {
        title: 'Check your API key',
        next: authRequired
          ? 'Enter a valid key in the API key field at the top of the page, then try again.'
          : 'The gateway refused the request as unauthenticated; reload the page and try again.',
      };
    case 'rate_limited':
      return {
        title: 'Too many requests',
        next:
          retryAt === null || error.retryAfterSeconds === undefined
            ? 'Wait a moment, then try again.'
            : `Try again in ${formatDuration(error.retryAfterSeconds)}, at ${formatTime(retryAt)}.`,
      };
    case 'upstream':
      return {
        title: 'The video service failed',
        next: 'Wan 2.1 refused or could not take the request; try again in a minute.',
      };
    case 'network':
      return {
        title: 'Cannot reach the gateway',
        next: 'Check that the gateway is running and that you are online, then try again.',
      };
    case 'not_found':
      return {
        title: taskId === null ? 'Task not found' : `No task ${taskId} for this API key`,
        next:
          taskId === null
            ? 'It no longer exists or belongs to another API key; pick another one in the history.'
            : 'The link may be mistyped, or the task was made with another API key: enter that key, or pick a video in the history.',
      };
    case 'conflict':
      return {
        title: 'Request conflict',
        next: 'That request key was already used with other parameters; generate again to send a new one.',
      };
    case 'unknown':
      return {
        title: 'Something went wrong',
        next: 'Try again; if it keeps happening, the gateway logs say more.',
      };
  }
}

interface ErrorViewProps {
  readonly error: VideoGatewayError;
  readonly authRequired: boolean;
  /** The task the page was asked for, when the error is about reading it. */
  readonly taskId?: string | null;
}

export function ErrorView({ error, authRequired, taskId = null }: ErrorViewProps) {
  // The moment the retry is allowed, fixed when the error arrives.
  const retryAt = useMemo(
    () =>
      error.retryAfterSeconds === undefined ? null : Date.now() + error.retryAfterSeconds * 1000,
    [error],
  );
  const { title, next } = explain(error, retryAt, authRequired, taskId);
  return (
    <div className={`error-view kind-${error.kind}`} role="alert" data-testid="error-view">
      <p className="error-title">{title}</p>
      <p className="error-next">{next}</p>
      {error.issues.length > 0 && (
        <ul className="error-issues">
          {error.issues.map((issue) => (
            <li key={`${issue.path.join('.')}:${issue.message}`}>
              {labelMessage(issue.path, issue.message)}
            </li>
          ))}
        </ul>
      )}
      {error.issues.length === 0 && error.message !== '' && (
        <p className="error-detail">{error.message}</p>
      )}
    </div>
  );
}
