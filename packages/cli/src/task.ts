import type { VideoTask } from '@wan-video/operations';

/** Whether a task has ended: SUCCEEDED and FAILED are final. */
export const isTerminal = (task: Pick<VideoTask, 'status'>): boolean =>
  task.status === 'SUCCEEDED' || task.status === 'FAILED';

/** `8s`, `1m05s`, `2h03m`: an ETA in seconds, short. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `PROCESSING 45% eta 8s`, `SUCCEEDED 100%`, `FAILED: the reason`: one line per change. */
export function progressLine(task: VideoTask): string {
  if (task.status === 'FAILED') return `FAILED: ${task.failureReason ?? 'no reason given'}`;
  const eta =
    task.status !== 'SUCCEEDED' && task.etaSeconds != null
      ? ` eta ${formatSeconds(task.etaSeconds)}`
      : '';
  return `${task.status} ${task.progressPercent}%${eta}`;
}
