import type { VideoInput } from '@wan-video/core';
import {
  isTerminal,
  useVideoTask,
  type VideoGatewayError,
  type VideoTask,
} from '@wan-video/react-hooks';
import { inputFromTask, randomSeed } from '../lib/form.js';
import { formatDuration, formatTime } from '../lib/format.js';
import { processingStartedAt, useRecordProcessing } from '../lib/stages.js';
import { ErrorView } from './ErrorView.js';

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

export function progressText(task: VideoTask): string {
  const percent = `${task.progressPercent}%`;
  switch (task.status) {
    case 'SUCCEEDED':
      return `${percent} · done`;
    case 'FAILED':
      return `${percent} · failed`;
    case 'QUEUED':
    case 'PROCESSING':
      if (task.etaSeconds !== null) {
        return `${percent} · about ${formatDuration(task.etaSeconds)} left`;
      }
      return `${percent} · ${task.status === 'QUEUED' ? 'waiting in the queue' : 'working'}`;
  }
}

function Params({ task }: { task: VideoTask }) {
  const { input } = task;
  return (
    <dl className="params" data-testid="result-params">
      <div>
        <dt>Size</dt>
        <dd>{`${input.width}×${input.height}`}</dd>
      </div>
      <div>
        <dt>Seed</dt>
        <dd className="mono">{input.seed}</dd>
      </div>
      <div>
        <dt>Steps</dt>
        <dd>{input.steps}</dd>
      </div>
      <div>
        <dt>Guidance scale</dt>
        <dd>{input.guidanceScale}</dd>
      </div>
      <div>
        <dt>Flow shift</dt>
        <dd>{input.flowShift}</dd>
      </div>
      <div>
        <dt>Model</dt>
        <dd className="mono">{input.modelName}</dd>
      </div>
      <div className="wide">
        <dt>Prompt</dt>
        <dd>{input.prompt}</dd>
      </div>
      {input.negativePrompt ? (
        <div className="wide">
          <dt>Negative prompt</dt>
          <dd>{input.negativePrompt}</dd>
        </div>
      ) : null}
      <div className="wide">
        <dt>LoRAs</dt>
        <dd>
          {input.loras.length === 0
            ? 'none'
            : input.loras.map((lora) => `${lora.path} × ${lora.scale}`).join(', ')}
        </dd>
      </div>
    </dl>
  );
}

interface TaskDetailsProps {
  readonly task: VideoTask;
  readonly isPending: boolean;
  readonly onRun: (input: VideoInput) => void;
  readonly onEdit: (task: VideoTask) => void;
}

function TaskDetails({ task, isPending, onRun, onEdit }: TaskDetailsProps) {
  useRecordProcessing(task);
  const text = progressText(task);
  const video = task.videos[0];
  const final = isTerminal(task);
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
              <video
                data-testid="result-video"
                className="result-video"
                style={{ aspectRatio: `${task.input.width} / ${task.input.height}` }}
                controls
                loop
                muted
                playsInline
                preload="metadata"
                src={video.url}
              />
              <a
                className="btn secondary download"
                href={video.url}
                download={`wan-video-${task.id}.${video.type || 'mp4'}`}
              >
                Download MP4
              </a>
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

interface TaskViewProps {
  /** The task to show: the one just generated, or one picked in the history. */
  readonly taskId: string | null;
  /** A generate request is in flight. */
  readonly isPending: boolean;
  /** What the last generate request failed with, when it is what the view shows. */
  readonly requestError: VideoGatewayError | null;
  readonly authRequired: boolean;
  readonly onRun: (input: VideoInput) => void;
  readonly onEdit: (task: VideoTask) => void;
}

export function TaskView({
  taskId,
  isPending,
  requestError,
  authRequired,
  onRun,
  onEdit,
}: TaskViewProps) {
  const live = useVideoTask(taskId);
  const error = requestError ?? live.error;
  const task = live.task;
  return (
    <section className="card task-card" aria-labelledby="task-heading">
      <div className="card-head">
        <h2 id="task-heading" className="card-title">
          Current video
        </h2>
        {live.isLive && (
          <span className="live">
            <span className="live-dot" aria-hidden="true" />
            Live
          </span>
        )}
      </div>
      {error && <ErrorView error={error} authRequired={authRequired} />}
      {task ? (
        <TaskDetails task={task} isPending={isPending} onRun={onRun} onEdit={onEdit} />
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
