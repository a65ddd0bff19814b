import type { VideoInput } from '@wan-video/core';
import {
  useConnectionState,
  useVideoTask,
  type VideoGatewayError,
  type VideoTask,
} from '@wan-video/react-hooks';
import { ErrorView } from './ErrorView.js';
import { LiveBadge } from './LiveBadge.js';
import { TaskDetails } from './TaskDetails.js';

interface TaskViewProps {
  /** The task to show: the one just generated, or the one in the URL. */
  readonly taskId: string | null;
  /** A generate request is in flight. */
  readonly isPending: boolean;
  /** What the last generate request failed with, when it is what the view shows. */
  readonly requestError: VideoGatewayError | null;
  readonly authRequired: boolean;
  readonly emulated: boolean;
  readonly onRun: (input: VideoInput) => void;
  readonly onEdit: (task: VideoTask) => void;
  readonly onHome: () => void;
}

export function TaskView({
  taskId,
  isPending,
  requestError,
  authRequired,
  emulated,
  onRun,
  onEdit,
  onHome,
}: TaskViewProps) {
  const live = useVideoTask(taskId);
  const connection = useConnectionState();
  const error = requestError ?? live.error;
  const task = live.task;
  return (
    <section className="card task-card" id="task-card" aria-labelledby="task-heading">
      <div className="card-head">
        <h2 id="task-heading" className="card-title">
          Current video
        </h2>
        {live.isLive && <LiveBadge connection={connection} />}
      </div>
      {error && (
        <ErrorView error={error} authRequired={authRequired} taskId={task ? null : taskId} />
      )}
      {error && !task && taskId !== null && error.kind === 'not_found' && (
        <button type="button" className="btn secondary" onClick={onHome}>
          Start a new video
        </button>
      )}
      {task ? (
        <TaskDetails
          task={task}
          isPending={isPending}
          emulated={emulated}
          onRun={onRun}
          onEdit={onEdit}
        />
      ) : isPending || (taskId !== null && !error) ? (
        <div className="placeholder" role="status">
          <span className="spinner" aria-hidden="true" />
          {isPending ? 'Sending the request…' : 'Loading the task…'}
        </div>
      ) : error ? null : (
        <div className="placeholder empty">
          <svg viewBox="0 0 48 48" width="40" height="40" aria-hidden="true" focusable="false">
            <rect x="5" y="10" width="38" height="28" rx="5" fill="none" stroke="currentColor" />
            <path d="M21 19v10l8-5z" fill="currentColor" />
          </svg>
          <p>Your video appears here. Write a prompt and press Generate video.</p>
        </div>
      )}
    </section>
  );
}
