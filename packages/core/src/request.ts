import { z } from 'zod';
import { ValidationError } from './errors.js';
import { toValidationIssues } from './issues.js';
import {
  HEIGHT_FOR_WIDTH,
  LIMITS,
  MODEL_NAME,
  TEST_MODE_STATUSES,
  VIDEO_HEIGHTS,
  VIDEO_WIDTHS,
  type VideoHeight,
  type VideoWidth,
} from './limits.js';

const codePoints = (text: string): number => {
  let count = 0;
  for (const _ of text) count++;
  return count;
};

function text(bounds: { minLength: number; maxLength: number }) {
  return z.string().check((ctx) => {
    const length = codePoints(ctx.value);
    if (length < bounds.minLength) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: '',
        params: { rule: 'min_length', limit: bounds.minLength, actual: length },
      });
    } else if (length > bounds.maxLength) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: '',
        params: { rule: 'max_length', limit: bounds.maxLength, actual: length },
      });
    }
  });
}

const integer = (bounds: { min: number; max: number }) =>
  z.number().int().min(bounds.min).max(bounds.max);
const decimal = (bounds: { min: number; max: number }) =>
  z.number().min(bounds.min).max(bounds.max);

function oneOf<T extends number>(allowed: readonly T[]) {
  return z
    .number()
    .int()
    .refine((value) => (allowed as readonly number[]).includes(value), {
      params: { rule: 'one_of', allowed },
    }) as unknown as z.ZodType<T, number>;
}
const width = oneOf(VIDEO_WIDTHS);
/** Which heights are allowed depends on the width: `withSizePair` checks them. */
const height = z.number().int() as unknown as z.ZodType<VideoHeight, number>;
const seed = integer(LIMITS.seed);
const steps = integer(LIMITS.steps);
const guidanceScale = decimal(LIMITS.guidanceScale);
const flowShift = decimal(LIMITS.flowShift);
const lora = z.object({
  path: text(LIMITS.loraPath),
  scale: z.number(),
});
const loras = z.array(lora).max(LIMITS.loras.maxItems);
const modelName = z.literal(MODEL_NAME);

/**
 * Adds the height rules: the height each width requires, or one of the four heights when the
 * width itself is wrong. Runs even when other fields have problems, so every issue is listed.
 */
function withSizePair<T extends z.ZodType<{ width: number; height: number }>>(schema: T): T {
  return schema.superRefine(
    (value, ctx) => {
      const { width: w, height: h } = value as { width: unknown; height: unknown };
      if (typeof w !== 'number' || typeof h !== 'number') return;
      const required = HEIGHT_FOR_WIDTH[w as VideoWidth];
      if (required === undefined) {
        // The width is wrong (its own issue says so); the height can still be checked alone.
        if (!(VIDEO_HEIGHTS as readonly number[]).includes(h)) {
          ctx.addIssue({
            code: 'custom',
            input: h,
            path: ['height'],
            message: `height must be one of ${VIDEO_HEIGHTS.join(', ')}`,
            params: { rule: 'one_of', allowed: VIDEO_HEIGHTS },
          });
        }
        return;
      }
      if (h === required) return;
      ctx.addIssue({
        code: 'custom',
        input: h,
        path: ['height'],
        message: `height must be ${required} when width is ${w}`,
        params: { rule: 'size_pair', width: w, required },
      });
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  ) as T;
}

/** `null` from GraphQL or a form means "not given". */
const optional = <T extends z.ZodType>(schema: T) =>
  schema.nullish().transform((value) => value ?? undefined);

/**
 * The camelCase request, as the gateway's GraphQL input and the playground's form take it.
 * Optional fields accept `null` as "not given"; defaults are filled on output.
 */
export const videoInputSchema = withSizePair(
  z.strictObject({
    prompt: text(LIMITS.prompt),
    negativePrompt: optional(text(LIMITS.negativePrompt)),
    width,
    height,
    seed: optional(seed).transform((value) => value ?? LIMITS.seed.random),
    steps: optional(steps).transform((value) => value ?? LIMITS.steps.default),
    guidanceScale: optional(guidanceScale).transform(
      (value) => value ?? LIMITS.guidanceScale.default,
    ),
    flowShift: optional(flowShift).transform((value) => value ?? LIMITS.flowShift.default),
    loras: optional(loras),
    modelName: optional(modelName).transform((value) => value ?? MODEL_NAME),
  }),
);

/** The fields of the camelCase input, in order. Any other key is refused. */
export const VIDEO_INPUT_FIELDS = [
  'prompt',
  'negativePrompt',
  'width',
  'height',
  'seed',
  'steps',
  'guidanceScale',
  'flowShift',
  'loras',
  'modelName',
] as const;

/** What a caller may pass: optional fields may be left out. */
export type VideoInput = z.input<typeof videoInputSchema>;
/** A validated request with every default filled in. */
export type ResolvedVideoInput = z.output<typeof videoInputSchema>;

const webhook = z.object({
  url: text(LIMITS.webhookUrl).pipe(z.url({ protocol: /^https?$/ })),
  test_mode: z
    .object({
      enabled: z.boolean(),
      return_task_status: z.enum(TEST_MODE_STATUSES).optional(),
    })
    .optional(),
});

/** The upstream's create request body (`POST /v3/async/wan-t2v`), snake_case as on the wire. */
export const createTaskRequestSchema = withSizePair(
  z.object({
    model_name: modelName,
    width,
    height,
    seed,
    prompt: text(LIMITS.prompt),
    negative_prompt: text(LIMITS.negativePrompt).optional(),
    steps: steps.default(LIMITS.steps.default),
    guidance_scale: guidanceScale.default(LIMITS.guidanceScale.default),
    flow_shift: flowShift.default(LIMITS.flowShift.default),
    loras: loras.optional(),
    extra: z.object({ webhook: webhook.optional() }).optional(),
  }),
);

/** A create request as a caller may write it (defaults may be left out). */
export type CreateTaskRequestInput = z.input<typeof createTaskRequestSchema>;
/** A validated create request with every default filled in. */
export type CreateTaskRequest = z.output<typeof createTaskRequestSchema>;

export type SafeParseResult<T> =
  | { readonly success: true; readonly data: T }
  | { readonly success: false; readonly error: ValidationError };

function safeParseWith<T>(
  schema: z.ZodType<T>,
  value: unknown,
  subject: string,
  known: readonly string[],
): SafeParseResult<T> {
  const result = schema.safeParse(value);
  if (result.success) return { success: true, data: result.data };
  return {
    success: false,
    error: new ValidationError(toValidationIssues(result.error.issues, value, known), {
      cause: result.error,
      subject,
    }),
  };
}

function unwrap<T>(result: SafeParseResult<T>): T {
  if (!result.success) throw result.error;
  return result.data;
}

/** Validates a camelCase request without throwing. */
export const safeParseVideoInput = (value: unknown): SafeParseResult<ResolvedVideoInput> =>
  safeParseWith(videoInputSchema, value, 'video input', VIDEO_INPUT_FIELDS);

/** Validates a camelCase request; throws a `ValidationError` listing every problem. */
export const parseVideoInput = (value: unknown): ResolvedVideoInput =>
  unwrap(safeParseVideoInput(value));

/** Validates a wire create request without throwing. */
export const safeParseCreateTaskRequest = (value: unknown): SafeParseResult<CreateTaskRequest> =>
  safeParseWith(createTaskRequestSchema, value, 'create request', []);

/** Validates a wire create request; throws a `ValidationError` listing every problem. */
export const parseCreateTaskRequest = (value: unknown): CreateTaskRequest =>
  unwrap(safeParseCreateTaskRequest(value));

/** Options the wire request has that the camelCase input does not. */
export interface WireExtras {
  /** Where the upstream POSTs the result event. */
  readonly webhookUrl?: string;
}

/** Maps a validated camelCase request to the upstream's wire body. */
export function toCreateTaskRequest(
  input: ResolvedVideoInput,
  extras: WireExtras = {},
): CreateTaskRequest {
  return {
    model_name: input.modelName,
    width: input.width,
    height: input.height,
    seed: input.seed,
    prompt: input.prompt,
    ...(input.negativePrompt === undefined ? {} : { negative_prompt: input.negativePrompt }),
    steps: input.steps,
    guidance_scale: input.guidanceScale,
    flow_shift: input.flowShift,
    ...(input.loras === undefined
      ? {}
      : { loras: input.loras.map((entry) => ({ path: entry.path, scale: entry.scale })) }),
    ...(extras.webhookUrl === undefined ? {} : { extra: { webhook: { url: extras.webhookUrl } } }),
  };
}

/** Maps a validated wire body back to the camelCase request (the webhook settings are dropped). */
export function fromCreateTaskRequest(request: CreateTaskRequest): ResolvedVideoInput {
  return {
    prompt: request.prompt,
    negativePrompt: request.negative_prompt,
    width: request.width,
    height: request.height,
    seed: request.seed,
    steps: request.steps,
    guidanceScale: request.guidance_scale,
    flowShift: request.flow_shift,
    loras: request.loras?.map((entry) => ({ path: entry.path, scale: entry.scale })),
    modelName: request.model_name,
  };
}
