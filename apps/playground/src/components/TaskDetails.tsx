import type { VideoInput } from '@wan-video/core';
import { isTerminal, type VideoTask } from '@wan-video/react-hooks';
import { useCountdown } from '../hooks/countdown.js';
import { inputFromTask, randomSeed } from '../lib/form.js';
import { formatDuration, formatTime } from '../lib/format.js';
import { taskPath } from '../lib/route.js';
import { processingStartedAt, useRecordProcessing } from '../lib/stages.js';
import { CopyButton } from './CopyButton.js';
import { DownloadButton } from './DownloadButton.js';
import { Params } from './Params.js';
import { ResultVideo } from './ResultVideo.js';

interface Stage {
  readonly key: 'queued' | 'processing' | 'done' | 'failed';
  readonly label: string;
  readonly at: string | undefined;
}

function stagesOf(task: VideoTask): Stage[] {
  const processingAt = processingStartedAt(task);
  const stages: Stage[] = [{ key: 'queued', label: 'Queued', at: task.createdAt }];
  const reachedProcessing =
    task.status === 'PROCESSING' ||
    task.status === 'SUCCEEDED' ||
    (task.status === 'FAILED' && processingAt !== undefined);
  if (reachedProcessing) stages.push({ key: 'processing', label: 'Processing', at: processingAt });
  const finishedAt = task.completedAt ?? task.updatedAt;
  if (task.status === 'SUCCEEDED') stages.push({ key: 'done', label: 'Done', at: finishedAt });
  if (task.status === 'FAILED') stages.push({ key: 'failed', label: 'Failed', at: finishedAt });
  return stages;
}

/** "42% · about 3 s left", with the ETA counted down here between the gateway's pushes. */
export function progressText(task: VideoTask, etaSeconds: number | null): string {
  const percent = `${task.progressPercent}%`;
  switch (task.status) {
    case 'SUCCEEDED':
      return `${percent} · done`;
    case 'FAILED':
      return `${percent} · failed`;
    case 'QUEUED':
    case 'PROCESSING':
      if (etaSeconds !== null) return `${percent} · about ${formatDuration(etaSeconds)} left`;
      return `${percent} · ${task.status === 'QUEUED' ? 'waiting in the queue' : 'working'}`;
  }
}

interface TaskDetailsProps {
  readonly task: VideoTask;
  readonly isPending: boolean;
  readonly emulated: boolean;
  readonly onRun: (input: VideoInput) => void;
  readonly onEdit: (task: VideoTask) => void;
}

export function TaskDetails({ task, isPending, emulated, onRun, onEdit }: TaskDetailsProps) {
  useRecordProcessing(task);
  const final = isTerminal(task);
  const eta = useCountdown(final ? null : task.etaSeconds, task.updatedAt);
  const text = progressText(task, eta);
  const video = task.videos[0];
  return (
    <div className="task-view" data-testid="task-view">
      <div className="task-summary">
        <p className="task-prompt">{task.input.prompt}</p>
        <span
          className={`status status-${task.status.toLowerCase()}`}
          data-testid="task-status"
          aria-live="polite"
        >
          {task.status}
        </span>
      </div>

      <div
        className={`progress${final ? '' : ' running'}`}
        role="progressbar"
        aria-label="Progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={task.progressPercent}
        aria-valuetext={text}
      >
        <span
          className={`progress-fill status-${task.status.toLowerCase()}`}
          style={{ width: `${task.progressPercent}%` }}
        />
      </div>
      <p className="progress-text" data-testid="progress-text">
        {text}
      </p>

      <ol className="timeline" data-testid="timeline" aria-label="Status timeline">
        {stagesOf(task).map((stage) => (
          <li key={stage.key} className={`stage stage-${stage.key}`}>
            <span className="stage-dot" aria-hidden="true" />
            <span className="stage-label">{stage.label}</span>{' '}
            {stage.at === undefined ? (
              <span className="stage-time unknown">time not seen</span>
            ) : (
              <time className="stage-time" dateTime={stage.at}>
                {formatTime(stage.at)}
              </time>
            )}
          </li>
        ))}
      </ol>

      {task.status === 'SUCCEEDED' && (
        <div className="result">
          {video ? (
            <>
              <ResultVideo
                url={video.url}
                width={task.input.width}
                height={task.input.height}
                emulated={emulated}
              />
              <div className="result-actions">
                <DownloadButton taskId={task.id} url={video.url} type={video.type} />
                <CopyButton
                  text={`${location.origin}${taskPath(task.id)}`}
                  label="the link to this video"
                  idleText="Copy link"
                />
              </div>
            </>
          ) : (
            <p className="muted">The task succeeded but returned no video.</p>
          )}
        </div>
      )}

      {task.status === 'FAILED' && (
        <div className="failure" data-testid="failure-reason">
          <p className="failure-title">The video could not be made</p>
          <p>{task.failureReason ?? 'The upstream gave no reason.'}</p>
        </div>
      )}

      {final && (
        <>
          <Params task={task} />
          <div className="actions">
            <button
              type="button"
              className="btn primary"
              disabled={isPending}
              onClick={() => onRun(inputFromTask(task))}
            >
              Generate again
            </button>
            <button
              type="button"
              className="btn secondary"
              disabled={isPending}
              onClick={() => onRun(inputFromTask(task, randomSeed()))}
            >
              New seed
            </button>
            <button type="button" className="btn ghost" onClick={() => onEdit(task)}>
              Edit in form
            </button>
          </div>
        </>
      )}
    </div>
  );
}
