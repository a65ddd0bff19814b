import {
  LIMITS,
  type ResolvedVideoInput,
  safeParseVideoInput,
  VIDEO_SIZES,
  type VideoInput,
} from '@wan-video/core';
import type { VideoTask } from '@wan-video/react-hooks';
import { labelMessage } from './labels.js';

/** The form's fields, in the order they appear. `size` stands for width and height. */
export const FIELDS = [
  'prompt',
  'negativePrompt',
  'size',
  'steps',
  'guidanceScale',
  'flowShift',
  'seed',
  'loras',
] as const;
export type FieldKey = (typeof FIELDS)[number];

/** How each field is named in sentences ("Fix 1 field: guidance scale"). */
export const FIELD_NAMES: Readonly<Record<FieldKey, string>> = {
  prompt: 'prompt',
  negativePrompt: 'negative prompt',
  size: 'size',
  steps: 'steps',
  guidanceScale: 'guidance scale',
  flowShift: 'flow shift',
  seed: 'seed',
  loras: 'LoRAs',
};

/** The id of the control to focus when a field needs fixing. */
export const FIELD_CONTROL_IDS: Readonly<Record<FieldKey, string>> = {
  prompt: 'prompt',
  negativePrompt: 'negative-prompt',
  size: 'size-832x480',
  steps: 'steps-value',
  guidanceScale: 'guidance-scale-value',
  flowShift: 'flow-shift-value',
  seed: 'seed',
  loras: 'lora-path-0',
};

export const SIZE_OPTIONS = VIDEO_SIZES.map((size) => ({
  value: `${size.width}x${size.height}`,
  width: size.width,
  height: size.height,
  orientation: size.orientation,
  label: `${size.width}×${size.height} ${size.orientation}`,
}));

const DEFAULT_SIZE = '832x480';

export interface LoraRow {
  /** A stable React key: rows can be removed from the middle. */
  readonly key: number;
  readonly path: string;
  readonly scale: string;
}

/** What the user typed. Numbers stay text so an out-of-range or half-typed value is kept as is. */
export interface FormState {
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly size: string;
  readonly steps: string;
  readonly guidanceScale: string;
  readonly flowShift: string;
  readonly seed: string;
  readonly loras: readonly LoraRow[];
}

export const INITIAL_FORM: FormState = {
  prompt: '',
  negativePrompt: '',
  size: DEFAULT_SIZE,
  steps: String(LIMITS.steps.default),
  guidanceScale: String(LIMITS.guidanceScale.default),
  flowShift: String(LIMITS.flowShift.default),
  seed: String(LIMITS.seed.random),
  loras: [],
};

let nextLoraKey = 1;
export const newLoraRow = (path = '', scale = '1'): LoraRow => ({
  key: nextLoraKey++,
  path,
  scale,
});

/** Lengths count Unicode code points, as the gateway does: an emoji is one character. */
export const codePoints = (text: string): number => [...text].length;

/** Empty text is not zero: it reads as "not a number", so validation says so. */
export const toNumber = (text: string): number => (text.trim() === '' ? Number.NaN : Number(text));

/** A fresh random seed, a whole number from 0 to the largest seed allowed. */
export const randomSeed = (): number => Math.floor(Math.random() * (LIMITS.seed.max + 1));

/** The camelCase request the form stands for (not yet validated). */
export function toInput(form: FormState): Record<string, unknown> {
  const [width, height] = form.size.split('x').map(Number);
  return {
    prompt: form.prompt,
    ...(form.negativePrompt === '' ? {} : { negativePrompt: form.negativePrompt }),
    width,
    height,
    seed: toNumber(form.seed),
    steps: toNumber(form.steps),
    guidanceScale: toNumber(form.guidanceScale),
    flowShift: toNumber(form.flowShift),
    ...(form.loras.length === 0
      ? {}
      : { loras: form.loras.map((row) => ({ path: row.path, scale: toNumber(row.scale) })) }),
  };
}

export interface FormValidation {
  /** The validated request, or `null` while anything is wrong. */
  readonly data: ResolvedVideoInput | null;
  /** Core's messages, per field, in the page's words ("Guidance scale must be…"). */
  readonly errors: Readonly<Partial<Record<FieldKey, readonly string[]>>>;
  /** The fields with a problem, in form order. */
  readonly invalid: readonly FieldKey[];
}

function fieldOf(key: string | number | undefined): FieldKey | undefined {
  if (key === 'width' || key === 'height') return 'size';
  return (FIELDS as readonly unknown[]).includes(key) ? (key as FieldKey) : undefined;
}

/** Validates the form with core's schema: the same rules the gateway enforces. */
export function validateForm(form: FormState): FormValidation {
  const result = safeParseVideoInput(toInput(form));
  if (result.success) return { data: result.data, errors: {}, invalid: [] };
  const errors: Partial<Record<FieldKey, string[]>> = {};
  for (const issue of result.error.issues) {
    // An issue outside the known fields cannot come from this form; list it under the prompt.
    const field = fieldOf(issue.path[0]) ?? 'prompt';
    const list = errors[field] ?? [];
    const message = labelMessage(issue.path, issue.message);
    if (!list.includes(message)) list.push(message);
    errors[field] = list;
  }
  return { data: null, errors, invalid: FIELDS.filter((field) => errors[field] !== undefined) };
}

/** The request a finished task was made with, to run it again (with another seed if given). */
export function inputFromTask(task: VideoTask, seed: number = task.input.seed): VideoInput {
  const { input } = task;
  return {
    prompt: input.prompt,
    ...(input.negativePrompt ? { negativePrompt: input.negativePrompt } : {}),
    width: input.width,
    height: input.height,
    seed,
    steps: input.steps,
    guidanceScale: input.guidanceScale,
    flowShift: input.flowShift,
    ...(input.loras.length === 0
      ? {}
      : { loras: input.loras.map((lora) => ({ path: lora.path, scale: lora.scale })) }),
  };
}

/** A task's parameters as the form shows them. */
export function formFromTask(task: VideoTask): FormState {
  const { input } = task;
  const size = `${input.width}x${input.height}`;
  return {
    prompt: input.prompt,
    negativePrompt: input.negativePrompt ?? '',
    size: SIZE_OPTIONS.some((option) => option.value === size) ? size : DEFAULT_SIZE,
    steps: String(input.steps),
    guidanceScale: String(input.guidanceScale),
    flowShift: String(input.flowShift),
    seed: String(input.seed),
    loras: input.loras.map((lora) => newLoraRow(lora.path, String(lora.scale))),
  };
}
