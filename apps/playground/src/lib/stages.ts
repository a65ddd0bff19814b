import type { VideoTask } from '@wan-video/react-hooks';
import { useEffect } from 'react';

/**
 * When this browser first saw each task PROCESSING. The gateway keeps when a task was created and
 * completed, not when it started, so the start is what was watched here; it is kept in
 * localStorage (ids and times only) so the timeline reads the same after a reload.
 */
const STAGE_TIMES_STORAGE = 'wan-video.processingSeenAt';
const STAGE_TIMES_KEPT = 100;
const seenAt: Map<string, string> = (() => {
  try {
    const stored: unknown = JSON.parse(localStorage.getItem(STAGE_TIMES_STORAGE) ?? '[]');
    return new Map(
      Array.isArray(stored)
        ? stored.filter(
            (entry): entry is [string, string] =>
              Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'string',
          )
        : [],
    );
  } catch {
    return new Map<string, string>();
  }
})();

function recordProcessing(id: string, at: string) {
  if (seenAt.has(id)) return;
  seenAt.set(id, at);
  try {
    const recent = [...seenAt].slice(-STAGE_TIMES_KEPT);
    localStorage.setItem(STAGE_TIMES_STORAGE, JSON.stringify(recent));
  } catch {
    // Storage full or unavailable: the time is still kept for this visit.
  }
}

/** When a task started PROCESSING, as far as this browser knows. */
export const processingStartedAt = (task: VideoTask): string | undefined =>
  seenAt.get(task.id) ?? (task.status === 'PROCESSING' ? task.updatedAt : undefined);

/** Remembers the first PROCESSING snapshot of a task this component shows. */
export function useRecordProcessing(task: VideoTask | null) {
  const id = task?.id;
  const at = task?.status === 'PROCESSING' ? task.updatedAt : undefined;
  useEffect(() => {
    if (id !== undefined && at !== undefined) recordProcessing(id, at);
  }, [id, at]);
}
