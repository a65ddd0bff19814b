import {
  DEFAULT_VIDEO_URL_TTL_SECONDS,
  STATUS_TO_UPSTREAM,
  TASK_RESULT_EVENT_TYPE,
  type TaskResultEvent,
  type TaskResultResponse,
  WAN_TASK_TYPE,
} from '@wan-video/core';
import { videoLink } from '../http/videos.js';
import type { TaskRecord } from '../store/types.js';
import { publicStatus, shownAt } from '../task.js';

/**
 * A task in the seed's task-result shape (`GET /v3/async/task-result` and the webhook event), as
 * the gateway shows it at `now`: its own task id, progress and ETA as a subscriber sees them
 * (estimated between upstream reads), its own video links on `origin` (they work for as long as
 * the task is kept; `video_url_ttl` states the upstream's hour as a floor for clients written
 * against the seed).
 */
export function taskResultBodyOf(
  record: TaskRecord,
  origin: string,
  now = Date.now(),
): TaskResultResponse {
  const status = publicStatus(record);
  const shown = shownAt(record, now);
  const done = status === 'SUCCEEDED' || status === 'FAILED';
  const ms = (at: number | null) => (at === null ? '' : String(at));
  return {
    extra: {
      seed: String(record.seedUsed ?? record.input.seed),
      debug_info: {
        submit_time_ms: ms(record.createdAt),
        execute_time_ms: '',
        complete_time_ms: ms(record.completedAt),
      },
    },
    task: {
      task_id: record.id,
      task_type: WAN_TASK_TYPE,
      status: STATUS_TO_UPSTREAM[status],
      reason: record.failureReason ?? '',
      eta: done ? 0 : (shown.etaSeconds ?? 0),
      progress_percent: status === 'SUCCEEDED' ? 100 : shown.progressPercent,
    },
    images: [],
    videos:
      status === 'SUCCEEDED'
        ? record.videos.map((video, index) => ({
            video_url: videoLink(origin, record.id, index),
            video_url_ttl: String(DEFAULT_VIDEO_URL_TTL_SECONDS),
            video_type: video.type,
          }))
        : [],
  };
}

/** The seed's webhook event for a task that ended: `{ event_type: "ASYNC_TASK_RESULT", payload }`. */
export const taskResultEventOf = (record: TaskRecord, origin: string): TaskResultEvent => ({
  event_type: TASK_RESULT_EVENT_TYPE,
  payload: taskResultBodyOf(record, origin),
});

/** The `webhook-id` of a task's final event: the same on every try, so receivers deduplicate. */
export const webhookIdOf = (record: TaskRecord): string =>
  `msg_${record.id}_${publicStatus(record)}`;
