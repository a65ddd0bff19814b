import { isTerminal, useVideoTask, type VideoTask } from '@wan-video/react-hooks';
import type { MouseEvent } from 'react';
import { formatWhen, truncate } from '../lib/format.js';
import { taskPath } from '../lib/route.js';
import { useRecordProcessing } from '../lib/stages.js';

interface HistoryItemProps {
  readonly listed: VideoTask;
  readonly selected: boolean;
  readonly hidden: boolean;
  readonly onOpen: (id: string) => void;
  readonly onHide: (id: string) => void;
  readonly onUnhide: (id: string) => void;
}

/** A plain click opens the task here; a middle or modified click opens its link as a browser would. */
const isPlainClick = (event: MouseEvent) =>
  event.button === 0 && !event.metaKey && !event.ctrlKey && !event.shiftKey && !event.altKey;

export function HistoryItem({
  listed,
  selected,
  hidden,
  onOpen,
  onHide,
  onUnhide,
}: HistoryItemProps) {
  // A task still running is watched, so its status here moves on by itself.
  const live = useVideoTask(isTerminal(listed) ? null : listed.id);
  const task = live.task ?? listed;
  const running = !isTerminal(task);
  const video = task.status === 'SUCCEEDED' ? task.videos[0] : undefined;
  useRecordProcessing(task);
  const prompt = truncate(task.input.prompt, 90);
  return (
    <li className={`history-entry${hidden ? ' is-hidden' : ''}`}>
      <a
        className="history-item"
        data-testid="history-item"
        href={taskPath(task.id)}
        aria-current={selected ? 'page' : undefined}
        title={task.input.prompt}
        onClick={(event) => {
          if (!isPlainClick(event)) return;
          event.preventDefault();
          onOpen(task.id);
        }}
      >
        <span className="history-thumb" aria-hidden="true">
          {video ? (
            <video
              className="history-poster"
              data-testid="history-poster"
              src={`${video.url}#t=0.5`}
              preload="metadata"
              muted
              playsInline
              tabIndex={-1}
            />
          ) : (
            <span className={`history-thumb-status status-${task.status.toLowerCase()}`} />
          )}
        </span>
        <span className="history-text">
          <span className="history-prompt">{prompt}</span>
          <span className="history-meta">
            <span className={`status small status-${task.status.toLowerCase()}`}>
              {task.status}
            </span>
            {running && <span className="history-progress">{`${task.progressPercent}%`}</span>}
            <time dateTime={task.createdAt}>{formatWhen(task.createdAt)}</time>
            <span className="history-size">{`${task.input.width}×${task.input.height}`}</span>
          </span>
        </span>
      </a>
      <button
        type="button"
        className="btn ghost small history-hide"
        onClick={() => (hidden ? onUnhide(task.id) : onHide(task.id))}
      >
        {hidden ? 'Show' : 'Hide'}
        <span className="sr-only">{` "${prompt}"`}</span>
      </button>
    </li>
  );
}
