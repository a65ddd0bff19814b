import { isTerminal, useVideoTask, useVideoTasks, type VideoTask } from '@wan-video/react-hooks';
import { formatWhen, truncate } from '../lib/format.js';
import { useRecordProcessing } from '../lib/stages.js';

interface HistoryItemProps {
  readonly listed: VideoTask;
  readonly selected: boolean;
  readonly onSelect: (id: string) => void;
}

function HistoryItem({ listed, selected, onSelect }: HistoryItemProps) {
  // A task still running is watched, so its status here moves on by itself.
  const live = useVideoTask(isTerminal(listed) ? null : listed.id);
  const task = live.task ?? listed;
  const running = !isTerminal(task);
  useRecordProcessing(task);
  return (
    <li>
      <button
        type="button"
        className="history-item"
        data-testid="history-item"
        aria-current={selected ? 'true' : undefined}
        title={task.input.prompt}
        onClick={() => onSelect(task.id)}
      >
        <span className="history-prompt">{truncate(task.input.prompt, 90)}</span>
        <span className="history-meta">
          <span className={`status small status-${task.status.toLowerCase()}`}>{task.status}</span>
          {running && <span className="history-progress">{`${task.progressPercent}%`}</span>}
          <time dateTime={task.createdAt}>{formatWhen(task.createdAt)}</time>
          <span className="history-size">{`${task.input.width}×${task.input.height}`}</span>
        </span>
      </button>
    </li>
  );
}

interface HistoryProps {
  readonly selectedId: string | null;
  readonly onSelect: (id: string) => void;
}

export function History({ selectedId, onSelect }: HistoryProps) {
  const { tasks, isLoading, error, refetch, hasNextPage } = useVideoTasks({ first: 20 });
  return (
    <aside className="card history" aria-label="History">
      <div className="card-head">
        <h2 className="card-title">History</h2>
        <button type="button" className="btn ghost small" onClick={refetch}>
          Refresh
        </button>
      </div>
      {isLoading ? (
        <p className="muted" role="status">
          Loading your videos…
        </p>
      ) : error && tasks.length === 0 ? (
        <p className="history-error">
          {error.kind === 'auth'
            ? 'The history needs a valid API key.'
            : error.kind === 'network'
              ? 'Cannot reach the gateway to load the history.'
              : `The history could not be loaded: ${error.message}`}
        </p>
      ) : tasks.length === 0 ? (
        <p className="muted">No videos yet. The ones you generate are listed here.</p>
      ) : (
        <>
          <ul className="history-list">
            {tasks.map((task) => (
              <HistoryItem
                key={task.id}
                listed={task}
                selected={task.id === selectedId}
                onSelect={onSelect}
              />
            ))}
          </ul>
          {hasNextPage && <p className="muted small-text">Showing the 20 most recent.</p>}
        </>
      )}
    </aside>
  );
}
