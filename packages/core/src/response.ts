import { z } from 'zod';
import { ValidationError } from './errors.js';
import { formatPath, toValidationIssues } from './issues.js';
import type { TaskSnapshot, TaskStatus, VideoAsset } from './task.js';

/** The upstream's task statuses, as on the wire. */
export const UPSTREAM_TASK_STATUSES = [
  'TASK_STATUS_QUEUED',
  'TASK_STATUS_PROCESSING',
  'TASK_STATUS_SUCCEED',
  'TASK_STATUS_FAILED',
] as const;
export type UpstreamTaskStatus = (typeof UPSTREAM_TASK_STATUSES)[number];

/** Our status for each upstream status, and back. */
export const STATUS_FROM_UPSTREAM: Readonly<Record<UpstreamTaskStatus, TaskStatus>> = {
  TASK_STATUS_QUEUED: 'QUEUED',
  TASK_STATUS_PROCESSING: 'PROCESSING',
  TASK_STATUS_SUCCEED: 'SUCCEEDED',
  TASK_STATUS_FAILED: 'FAILED',
};
export const STATUS_TO_UPSTREAM: Readonly<Record<TaskStatus, UpstreamTaskStatus>> = {
  QUEUED: 'TASK_STATUS_QUEUED',
  PROCESSING: 'TASK_STATUS_PROCESSING',
  SUCCEEDED: 'TASK_STATUS_SUCCEED',
  FAILED: 'TASK_STATUS_FAILED',
};

/** The task type the upstream reports for text-to-video. */
export const WAN_TASK_TYPE = 'WAN_TXT_TO_VIDEO';
/** The only event type a webhook receiver acts on. */
export const TASK_RESULT_EVENT_TYPE = 'ASYNC_TASK_RESULT';
/** How long a video URL lives when the upstream does not say. */
export const DEFAULT_VIDEO_URL_TTL_SECONDS = 3600;

/**
 * The task-result body exactly as the upstream writes it (`GET /v3/async/task-result`).
 * Producers (the emulator) write this shape; readers parse with the lenient schema below.
 */
export interface TaskResultResponse {
  extra: {
    seed: string;
    debug_info?: { submit_time_ms: string; execute_time_ms: string; complete_time_ms: string };
  };
  task: {
    task_id: string;
    task_type: string;
    status: UpstreamTaskStatus;
    reason: string;
    eta: number;
    progress_percent: number;
  };
  images: unknown[];
  videos: { video_url: string; video_url_ttl: string; video_type: string }[];
}

/** The webhook event body: `{ event_type: "ASYNC_TASK_RESULT", payload: <task result> }`. */
export interface TaskResultEvent {
  event_type: typeof TASK_RESULT_EVENT_TYPE;
  payload: TaskResultResponse;
}

/**
 * A number, also when the upstream sends it as a string (`"158881667"`); `""` means absent, and
 * so does anything unreadable: these fields are informative, never a reason to fail a read.
 */
const numeric = z
  .preprocess((value) => {
    if (value === '' || value === null) return undefined;
    if (typeof value === 'string') return Number(value);
    return value;
  }, z.number().optional())
  .catch(undefined);

const video = z.object({
  video_url: z.string().min(1),
  video_url_ttl: numeric,
  video_type: z.string().nullish().catch(undefined),
});

/**
 * A lenient reader of the task-result body: it accepts numbers sent as strings, missing optional
 * parts, unknown fields and unreadable informative fields, and fails only when the parts we rely
 * on (the task id and status) are absent or wrong. A video entry without a URL is dropped.
 */
export const taskResultResponseSchema = z.object({
  extra: z
    .object({ seed: numeric })
    .nullish()
    .catch(undefined)
    .transform((extra) => extra ?? {}),
  task: z.object({
    task_id: z.string().min(1),
    task_type: z.string().nullish().catch(undefined),
    status: z.enum(UPSTREAM_TASK_STATUSES),
    reason: z.string().nullish().catch(undefined),
    eta: numeric,
    progress_percent: numeric,
  }),
  videos: z
    .array(video.nullable().catch(null))
    .nullish()
    .catch(undefined)
    .transform((videos) => (videos ?? []).filter((entry) => entry !== null)),
});
export type ParsedTaskResult = z.output<typeof taskResultResponseSchema>;

/** Any webhook event: only `event_type` is known before it is looked at. */
export const webhookEventSchema = z.object({ event_type: z.string(), payload: z.unknown() });

/** What a webhook body turned out to be. */
export type WebhookEvent =
  | { readonly type: typeof TASK_RESULT_EVENT_TYPE; readonly result: ParsedTaskResult }
  /** Another event type: acknowledge it and do nothing. */
  | { readonly type: 'ignored'; readonly eventType: string };

function parseWith<T>(
  schema: z.ZodType<T>,
  value: unknown,
  subject: string,
  prefix: readonly (string | number)[] = [],
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = toValidationIssues(result.error.issues, value).map((issue) =>
    prefix.length === 0
      ? issue
      : {
          ...issue,
          path: [...prefix, ...issue.path],
          message: `${formatPath(prefix)}.${issue.message}`,
        },
  );
  throw new ValidationError(issues, { cause: result.error, subject });
}

/** Reads a task-result body; throws a `ValidationError` when the parts we rely on are wrong. */
export const parseTaskResult = (value: unknown): ParsedTaskResult =>
  parseWith(taskResultResponseSchema, value, 'task result');

/**
 * Reads a webhook body. Events of other types come back as `ignored`. The event carries no
 * signature: treat it as a hint and confirm with a task-result read.
 */
export function parseWebhookEvent(value: unknown): WebhookEvent {
  const event = parseWith(webhookEventSchema, value, 'webhook event');
  if (event.event_type !== TASK_RESULT_EVENT_TYPE) {
    return { type: 'ignored', eventType: event.event_type };
  }
  const payload = event.payload;
  const result = parseWith(taskResultResponseSchema, payload, 'webhook payload', ['payload']);
  return { type: TASK_RESULT_EVENT_TYPE, result };
}

const wholeNumber = (value: number | undefined): number | undefined =>
  value === undefined || !Number.isFinite(value) ? undefined : Math.round(value);

/**
 * Normalises a task-result body into a `TaskSnapshot`. `now` (epoch ms) is when the body was
 * read: video expiry times are absolute from then.
 */
export function toTaskSnapshot(result: ParsedTaskResult, now: number): TaskSnapshot {
  const status = STATUS_FROM_UPSTREAM[result.task.status];
  const terminal = status === 'SUCCEEDED' || status === 'FAILED';
  const progress = Math.min(100, Math.max(0, wholeNumber(result.task.progress_percent) ?? 0));
  const eta = wholeNumber(result.task.eta);
  const videos: VideoAsset[] = result.videos.map((video) => ({
    url: video.video_url,
    type: video.video_type || 'mp4',
    expiresAt: now + (video.video_url_ttl ?? DEFAULT_VIDEO_URL_TTL_SECONDS) * 1000,
  }));
  return {
    taskId: result.task.task_id,
    status,
    progressPercent: status === 'SUCCEEDED' ? 100 : progress,
    etaSeconds: terminal || eta === undefined || eta <= 0 ? null : eta,
    failureReason:
      status === 'FAILED'
        ? result.task.reason || 'The upstream reported the task as failed without a reason.'
        : null,
    videos: status === 'SUCCEEDED' ? videos : [],
    seed: wholeNumber(result.extra.seed) ?? null,
  };
}
