import { randomInt, randomUUID } from 'node:crypto';
import {
  type CreateTaskRequest,
  LIMITS,
  STATUS_TO_UPSTREAM,
  type TaskResultResponse,
  type TaskStatus,
  WAN_TASK_TYPE,
} from '@wan-video/core';
import type { RenderParams } from './render.js';

/** A 832×480, 30-step task takes this long at time scale 1. */
export const REFERENCE_DURATION_MS = 20_000;
const REFERENCE_PIXELS = 832 * 480;
const REFERENCE_STEPS = 30;
/** The share of a task's time it spends QUEUED. */
const QUEUED_SHARE = 0.15;

/**
 * How long a task runs: proportional to its pixels and its steps, divided by the time scale.
 * 832×480 at 30 steps: 20 s; 1280×720 at 30 steps: 46 s; 832×480 at 4 steps: 2.7 s.
 */
export function taskDurationMs(
  request: Pick<CreateTaskRequest, 'width' | 'height' | 'steps'>,
  timeScale: number,
): number {
  const size = (request.width * request.height) / REFERENCE_PIXELS;
  const work = request.steps / REFERENCE_STEPS;
  return Math.max(50, (REFERENCE_DURATION_MS * size * work) / timeScale);
}

export type TaskFate =
  | { readonly kind: 'normal' }
  | { readonly kind: 'fail'; readonly reason: string }
  | { readonly kind: 'stall'; readonly progress: number }
  /** A webhook test: the task is already at this status, nothing is rendered. */
  | { readonly kind: 'test'; readonly status: 'SUCCEEDED' | 'FAILED' };

export interface EmulatedTask {
  readonly id: string;
  readonly request: CreateTaskRequest;
  /** The seed used: a -1 request gets a concrete random one. */
  readonly seed: number;
  readonly createdAt: number;
  readonly durationMs: number;
  readonly fate: TaskFate;
  /** The rendered file, once the render finished. */
  video?: string;
  /** Why the render failed, if it did. */
  renderError?: string;
  /** When the task first read as terminal (the webhook fires then). */
  completedAt?: number;
}

/** The view of a task at one instant: what `task-result` reports. */
export interface TaskState {
  readonly status: TaskStatus;
  readonly progress: number;
  readonly etaSeconds: number;
  readonly reason: string;
}

export function renderParams(task: EmulatedTask): RenderParams {
  const { request } = task;
  return {
    width: request.width,
    height: request.height,
    seed: task.seed,
    prompt: request.prompt,
    negativePrompt: request.negative_prompt,
    steps: request.steps,
    guidanceScale: request.guidance_scale,
    flowShift: request.flow_shift,
    loras: request.loras,
  };
}

export function createTask(
  request: CreateTaskRequest,
  fate: TaskFate,
  timeScale: number,
  now: number,
): EmulatedTask {
  return {
    id: randomUUID(),
    request,
    seed: request.seed === LIMITS.seed.random ? randomInt(0, 2 ** 32) : request.seed,
    createdAt: now,
    durationMs: taskDurationMs(request, timeScale),
    fate,
  };
}

/**
 * Where a task is at `now`. QUEUED for the first part of its time, then PROCESSING with the
 * progress rising and the eta falling, then SUCCEEDED once its video is rendered (PROCESSING
 * at 99% while the render is still running), or FAILED.
 */
export function taskState(task: EmulatedTask, now: number): TaskState {
  const { fate } = task;
  if (fate.kind === 'test') {
    return {
      status: fate.status,
      progress: 100,
      etaSeconds: 0,
      reason: fate.status === 'FAILED' ? 'test mode' : '',
    };
  }
  const elapsed = now - task.createdAt;
  const left = Math.max(0, task.durationMs - elapsed);
  const eta = Math.ceil(left / 1000);
  if (fate.kind === 'stall') {
    const queued = elapsed < task.durationMs * QUEUED_SHARE;
    return queued
      ? { status: 'QUEUED', progress: 0, etaSeconds: eta, reason: '' }
      : { status: 'PROCESSING', progress: fate.progress, etaSeconds: 1, reason: '' };
  }
  if (elapsed < task.durationMs * QUEUED_SHARE) {
    return { status: 'QUEUED', progress: 0, etaSeconds: eta, reason: '' };
  }
  if (left > 0) {
    const share =
      (elapsed - task.durationMs * QUEUED_SHARE) / (task.durationMs * (1 - QUEUED_SHARE));
    return {
      status: 'PROCESSING',
      progress: Math.min(99, Math.max(1, Math.floor(share * 100))),
      etaSeconds: eta,
      reason: '',
    };
  }
  if (fate.kind === 'fail')
    return { status: 'FAILED', progress: 100, etaSeconds: 0, reason: fate.reason };
  if (task.renderError !== undefined) {
    return {
      status: 'FAILED',
      progress: 100,
      etaSeconds: 0,
      reason: `render failed: ${task.renderError}`,
    };
  }
  if (task.video === undefined)
    return { status: 'PROCESSING', progress: 99, etaSeconds: 1, reason: '' };
  return { status: 'SUCCEEDED', progress: 100, etaSeconds: 0, reason: '' };
}

/** When a normal task's time runs out (its render may still be running then). */
export const taskEndsAt = (task: EmulatedTask): number => task.createdAt + task.durationMs;

/** The task-result body, exactly as the upstream writes it. */
export function taskResultBody(
  task: EmulatedTask,
  state: TaskState,
  video: { url: string; ttlSeconds: number } | undefined,
): TaskResultResponse {
  const ms = (at: number | undefined) => (at === undefined ? '' : String(at));
  return {
    extra: {
      seed: String(task.seed),
      debug_info: {
        submit_time_ms: ms(task.createdAt),
        execute_time_ms: ms(
          state.status === 'QUEUED'
            ? undefined
            : Math.round(task.createdAt + task.durationMs * QUEUED_SHARE),
        ),
        complete_time_ms: ms(task.completedAt),
      },
    },
    task: {
      task_id: task.id,
      task_type: WAN_TASK_TYPE,
      status: STATUS_TO_UPSTREAM[state.status],
      reason: state.reason,
      eta: state.etaSeconds,
      progress_percent: state.progress,
    },
    images: [],
    videos:
      state.status === 'SUCCEEDED' && video
        ? [{ video_url: video.url, video_url_ttl: String(video.ttlSeconds), video_type: 'mp4' }]
        : [],
  };
}
