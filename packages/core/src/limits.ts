/** The only model the upstream accepts. */
export const MODEL_NAME = 'wan2.1-t2v';

/** The four frame sizes the upstream renders, and no others. */
export const VIDEO_SIZES = [
  { width: 832, height: 480, orientation: 'landscape' },
  { width: 480, height: 832, orientation: 'portrait' },
  { width: 1280, height: 720, orientation: 'landscape' },
  { width: 720, height: 1280, orientation: 'portrait' },
] as const;
export type VideoSize = (typeof VIDEO_SIZES)[number];
export type VideoWidth = VideoSize['width'];
export type VideoHeight = VideoSize['height'];

/** The allowed widths, ascending. */
export const VIDEO_WIDTHS = [...VIDEO_SIZES.map((size) => size.width)].sort(
  (a, b) => a - b,
) as readonly VideoWidth[];

/** The allowed heights, ascending. */
export const VIDEO_HEIGHTS = [...new Set(VIDEO_SIZES.map((size) => size.height))].sort(
  (a, b) => a - b,
) as readonly VideoHeight[];

/** The height each width requires. */
export const HEIGHT_FOR_WIDTH: Readonly<Record<VideoWidth, VideoHeight>> = Object.fromEntries(
  VIDEO_SIZES.map((size) => [size.width, size.height]),
) as Record<VideoWidth, VideoHeight>;

/**
 * Every bound of the create request, in one table. The request schemas, their error messages and
 * the playground's form all read it. Lengths count Unicode code points: an emoji is one character.
 */
export const LIMITS = {
  prompt: { minLength: 1, maxLength: 2000 },
  negativePrompt: { minLength: 0, maxLength: 2000 },
  seed: { min: -1, max: 9_999_999_999, random: -1 },
  steps: { min: 1, max: 40, default: 30 },
  guidanceScale: { min: 0, max: 10, default: 5 },
  flowShift: { min: 1, max: 10, default: 5 },
  loras: { maxItems: 3 },
  /** A LoRA's `path`: a model name or URL, as the upstream takes it. */
  loraPath: { minLength: 1, maxLength: 1024 },
  /** The wire body's `extra.webhook.url` (the gateway writes it; no client does). */
  webhookUrl: { minLength: 1, maxLength: 2048 },
} as const;

/** The statuses a webhook test event may simulate. */
export const TEST_MODE_STATUSES = ['TASK_STATUS_SUCCEED', 'TASK_STATUS_FAILED'] as const;

/** Wire (snake_case) names of the camelCase fields that differ. */
export const WIRE_NAMES = {
  negativePrompt: 'negative_prompt',
  guidanceScale: 'guidance_scale',
  flowShift: 'flow_shift',
  modelName: 'model_name',
} as const;
