/** Where a task is in its life. See LIFECYCLE.md for the state machine. */
export const TASK_STATUSES = ['QUEUED', 'PROCESSING', 'SUCCEEDED', 'FAILED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TERMINAL_STATUSES: readonly TaskStatus[] = ['SUCCEEDED', 'FAILED'];

/** Whether a status is final: nothing leaves it. */
export const isTerminalStatus = (status: TaskStatus): boolean =>
  status === 'SUCCEEDED' || status === 'FAILED';

const RANK: Readonly<Record<TaskStatus, number>> = {
  QUEUED: 0,
  PROCESSING: 1,
  SUCCEEDED: 2,
  FAILED: 2,
};

/** A finished video. */
export interface VideoAsset {
  readonly url: string;
  /** The container, as the upstream names it: `mp4`. */
  readonly type: string;
  /** When `url` stops working, in epoch milliseconds (from `video_url_ttl` when it was read). */
  readonly expiresAt: number;
}

/** One normalised reading of an upstream task. */
export interface TaskSnapshot {
  readonly taskId: string;
  readonly status: TaskStatus;
  /** 0 to 100, a whole number; 100 once SUCCEEDED. */
  readonly progressPercent: number;
  /** Seconds the upstream expects the task still needs; `null` when unknown or finished. */
  readonly etaSeconds: number | null;
  /** Why the task FAILED; `null` otherwise. */
  readonly failureReason: string | null;
  /** The videos of a SUCCEEDED task; empty otherwise. */
  readonly videos: readonly VideoAsset[];
  /** The seed the upstream used (a `-1` request resolves to a concrete seed); `null` until known. */
  readonly seed: number | null;
}

/** What `reduceTask` made of an incoming snapshot. */
export type TaskReduction =
  /** The incoming snapshot changed something; `snapshot` is the new state. */
  | { readonly outcome: 'changed'; readonly snapshot: TaskSnapshot }
  /** Nothing new; `snapshot` is the current state, unchanged. */
  | { readonly outcome: 'duplicate'; readonly snapshot: TaskSnapshot }
  /** An illegal transition; `snapshot` is the current state, unchanged. */
  | { readonly outcome: 'rejected'; readonly snapshot: TaskSnapshot; readonly reason: string };

function sameVideos(a: readonly VideoAsset[], b: readonly VideoAsset[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (video, i) =>
        video.url === b[i]?.url && video.type === b[i]?.type && video.expiresAt === b[i]?.expiresAt,
    )
  );
}

function sameSnapshot(a: TaskSnapshot, b: TaskSnapshot): boolean {
  return (
    a.status === b.status &&
    a.progressPercent === b.progressPercent &&
    a.etaSeconds === b.etaSeconds &&
    a.failureReason === b.failureReason &&
    a.seed === b.seed &&
    sameVideos(a.videos, b.videos)
  );
}

/**
 * A URL read again keeps the expiry it was first given: re-reading a finished task must not
 * make an old link look fresher than it is.
 */
function mergeVideos(
  current: readonly VideoAsset[],
  incoming: readonly VideoAsset[],
): readonly VideoAsset[] {
  return incoming.map((video) => {
    const known = current.find((old) => old.url === video.url);
    return known ? { ...video, expiresAt: Math.min(known.expiresAt, video.expiresAt) } : video;
  });
}

/**
 * Folds an incoming snapshot into the current state. Pure.
 *
 * - Nothing leaves a terminal status; a SUCCEEDED task may only have its video links refreshed.
 * - Status never moves back (PROCESSING to QUEUED is rejected).
 * - Progress never goes backwards: a lower reading keeps the higher value.
 * - A snapshot that changes nothing is a duplicate.
 */
export function reduceTask(
  current: TaskSnapshot | undefined,
  incoming: TaskSnapshot,
): TaskReduction {
  if (current === undefined) return { outcome: 'changed', snapshot: incoming };
  if (incoming.taskId !== current.taskId) {
    return {
      outcome: 'rejected',
      snapshot: current,
      reason: `snapshot of task ${incoming.taskId} applied to task ${current.taskId}`,
    };
  }
  if (isTerminalStatus(current.status) && incoming.status !== current.status) {
    return {
      outcome: 'rejected',
      snapshot: current,
      reason: `task is already ${current.status} and cannot become ${incoming.status}`,
    };
  }
  if (RANK[incoming.status] < RANK[current.status]) {
    return {
      outcome: 'rejected',
      snapshot: current,
      reason: `task is ${current.status} and cannot go back to ${incoming.status}`,
    };
  }
  if (isTerminalStatus(current.status)) {
    // Same terminal status: only a SUCCEEDED task's links can be refreshed; all else stays.
    const videos =
      current.status === 'SUCCEEDED' && incoming.videos.length > 0
        ? mergeVideos(current.videos, incoming.videos)
        : current.videos;
    return sameVideos(current.videos, videos)
      ? { outcome: 'duplicate', snapshot: current }
      : { outcome: 'changed', snapshot: { ...current, videos } };
  }
  const next: TaskSnapshot = {
    ...incoming,
    progressPercent: Math.max(current.progressPercent, incoming.progressPercent),
    seed: incoming.seed ?? current.seed,
    videos: mergeVideos(current.videos, incoming.videos),
  };
  return sameSnapshot(current, next)
    ? { outcome: 'duplicate', snapshot: current }
    : { outcome: 'changed', snapshot: next };
}
