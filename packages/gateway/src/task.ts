import type { TaskSnapshot, TaskStatus } from '@wan-video/core';
import type { StoredStatus, TaskRecord } from './store/types.js';

/**
 * The gateway's one task vocabulary: every layer (store, tracking, schema, service) asks these
 * instead of spelling the rules again.
 */

/** SUCCEEDED and FAILED are final. */
export const TERMINAL_STORED_STATUSES = ['SUCCEEDED', 'FAILED'] as const satisfies StoredStatus[];

export const isDoneStatus = (status: StoredStatus): boolean =>
  status === 'SUCCEEDED' || status === 'FAILED';

/** Whether a task has reached a final state. */
export const isDone = (record: Pick<TaskRecord, 'status'>): boolean => isDoneStatus(record.status);

/** The status a client sees: a task being created reads as QUEUED. */
export const publicStatus = (record: Pick<TaskRecord, 'status'>): TaskStatus =>
  record.status === 'CREATING' ? 'QUEUED' : record.status;

/** The snapshot a stored task stands at, for the reducer and the poller. */
export function snapshotOf(record: TaskRecord): TaskSnapshot {
  return {
    taskId: record.upstreamTaskId ?? record.id,
    status: publicStatus(record),
    progressPercent: record.progressPercent,
    etaSeconds: record.etaSeconds,
    failureReason: record.failureReason,
    videos: record.videos,
    seed: record.seedUsed,
  };
}

/** "90 seconds", "30 minutes", "2 hours". */
export function describeDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const [amount, unit] =
    seconds < 120
      ? [seconds, 'second']
      : seconds < 7200
        ? [Math.round(seconds / 60), 'minute']
        : [Math.round(seconds / 3600), 'hour'];
  return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}

/** The reason a task gets when it did not finish before its deadline. */
export function deadlineReason(record: TaskRecord, lastError?: string): string {
  const last = lastError ? ` The last upstream answer was: ${lastError}` : '';
  return `The task did not finish within ${describeDuration(record.deadlineAt - record.createdAt)}; the gateway stopped waiting for it.${last}`;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();
