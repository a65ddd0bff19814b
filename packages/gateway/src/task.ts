import { isUpstreamError, type TaskSnapshot, type TaskStatus } from '@wan-video/core';
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

/**
 * A task read answered 404 `TASK_NOT_FOUND`: the upstream does not know the task. Just after a
 * create that may be a moment of lag; lasting, it means the task is gone (an upstream that lost
 * it, an emulator without its state) and no read will ever bring it back.
 */
export const isTaskNotFound = (error: unknown): boolean =>
  isUpstreamError(error) &&
  error.status === 404 &&
  (error.reason === undefined || error.reason === 'TASK_NOT_FOUND');

/** A task unknown upstream on this many reads in a row, over at least `NOT_FOUND_CONFIRM_MS`… */
export const NOT_FOUND_CONFIRM_READS = 3;
/** …ends FAILED: a short, bounded confirmation instead of retrying until the deadline. */
export const NOT_FOUND_CONFIRM_MS = 10_000;

/** Whether `reads` TASK_NOT_FOUND answers in a row since `since` confirm that the task is gone. */
export const notFoundConfirmed = (reads: number, since: number, now: number): boolean =>
  reads >= NOT_FOUND_CONFIRM_READS && now - since >= NOT_FOUND_CONFIRM_MS;

export const NOT_FOUND_REASON =
  'The upstream no longer knows this task (TASK_NOT_FOUND on every read for 10 s): it will not finish. Generate the video again.';

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

/**
 * How long a subscriber of a task in progress goes without hearing from it, at most: past that,
 * it is sent the progress and ETA estimated for now. Upstream reads stay as few as the poll
 * policy makes them (the estimate costs none).
 */
export const PROGRESS_TICK_MS = 2500;

/**
 * How long a subscriber goes without an event before it reads the stored task itself. Events
 * travel at most once (Redis pub/sub), and a replica killed between writing a change and
 * publishing it never publishes it: the stored task is the truth, and a subscriber that missed
 * a change, the end included, catches up on its next read (one store read per group of like
 * subscribers per quiet period).
 */
export const RESYNC_MS = 10_000;

/** A task as a client is shown it at one moment. */
export interface ShownTask extends TaskRecord {
  /** Whether `progressPercent` and `etaSeconds` are the gateway's estimate, not the upstream's. */
  readonly progressEstimated: boolean;
}

export const isShown = (record: TaskRecord): record is ShownTask => 'progressEstimated' in record;

/** Whether a task's progress can be estimated: it is PROCESSING and the upstream gave an ETA. */
export const isEstimable = (record: TaskRecord): boolean =>
  record.status === 'PROCESSING' && record.etaSeconds !== null && record.etaSeconds > 0;

/**
 * The task as shown at `now`. While it is PROCESSING with an ETA, progress moves on from the
 * upstream's last figure (as of `updatedAt`) at the pace that ETA implies, reaching 99 (never
 * 100: only the upstream says done) when it runs out, and the ETA counts down; the upstream's
 * next figure replaces the estimate. `floor` is the progress this client was shown already:
 * nothing shown goes backwards, even when the upstream's next figure is below the estimate.
 */
export function shownAt(record: TaskRecord, now: number, floor = 0): ShownTask {
  let progressPercent = record.progressPercent;
  let etaSeconds = record.etaSeconds;
  let progressEstimated = false;
  const elapsedSeconds = (now - record.updatedAt) / 1000;
  if (isEstimable(record) && elapsedSeconds >= 1) {
    const eta = record.etaSeconds as number;
    const share = Math.min(1, elapsedSeconds / eta);
    progressPercent = Math.min(
      99,
      Math.max(progressPercent, Math.floor(progressPercent + (100 - progressPercent) * share)),
    );
    etaSeconds = Math.max(0, Math.ceil(eta - elapsedSeconds));
    progressEstimated = progressPercent !== record.progressPercent || etaSeconds !== eta;
  }
  if (!isDone(record) && floor > progressPercent) {
    progressPercent = floor;
    progressEstimated = true;
  }
  return { ...record, progressPercent, etaSeconds, progressEstimated };
}

/** The longest piece of upstream text quoted in a message or a failure reason. */
const MAX_QUOTED = 300;

/** Upstream text, cut to `max` characters: it is data, whoever wrote it and however long. */
export function clip(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max).join('')}…`;
}

/**
 * Upstream text to quote inside a sentence of ours (an error message, a failure reason), or to
 * show as one (an upstream task's own failure reason): control characters and line breaks become
 * spaces, so it cannot forge lines in logs or text shown verbatim, and it is cut short. Markup
 * stays as it is: every client shows it as text (JSON escapes it on the wire; GraphiQL and the
 * playground never render it as HTML).
 */
export function quoteUpstream(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  return clip(flat, MAX_QUOTED);
}
