import { safeParseVideoInput, type VideoInput } from '@wan-video/core';
import { InputError, UsageError } from './errors.js';

/** `generate`'s options, as commander hands them over (numbers already read by `toNumber`). */
export interface GenerateOptions {
  readonly size?: string;
  readonly width?: number;
  readonly height?: number;
  readonly steps?: number;
  readonly seed?: number;
  readonly guidanceScale?: number;
  readonly flowShift?: number;
  readonly negativePrompt?: string;
  readonly lora?: readonly string[];
  readonly modelName?: string;
}

/** The frame size when neither `--size` nor `--width`/`--height` is given. */
export const DEFAULT_SIZE = { width: 832, height: 480 } as const;

/**
 * An option's number as typed: anything that is not one becomes NaN, which core's schema
 * refuses with the field's own message (`steps must be a number`).
 */
export function toNumber(value: string): number {
  return value.trim() === '' ? Number.NaN : Number(value);
}

/** `832x480` → `{ width: 832, height: 480 }`; the rules on sizes are core's. */
function parseSize(value: string): { width: number; height: number } {
  const match = /^\s*(\S+?)\s*[xX×]\s*(\S+)\s*$/.exec(value);
  if (!match) {
    throw new UsageError(
      `--size must be WIDTHxHEIGHT, like 832x480 (got ${JSON.stringify(value)})`,
    );
  }
  return { width: toNumber(match[1] ?? ''), height: toNumber(match[2] ?? '') };
}

/** `path:scale`, split at the last colon (a path may be a URL): `my-lora:0.8`. */
function parseLora(value: string): { path: string; scale: number } {
  const at = value.lastIndexOf(':');
  if (at < 0) {
    throw new UsageError(
      `--lora must be PATH:SCALE, like my-lora:0.8 (got ${JSON.stringify(value)})`,
    );
  }
  return { path: value.slice(0, at), scale: toNumber(value.slice(at + 1)) };
}

/** The option each field of the input comes from, for messages. */
const OPTION_FOR_FIELD: Readonly<Record<string, string>> = {
  prompt: 'the prompt argument',
  negativePrompt: '--negative-prompt',
  width: '--width or --size',
  height: '--height or --size',
  seed: '--seed',
  steps: '--steps',
  guidanceScale: '--guidance-scale',
  flowShift: '--flow-shift',
  loras: '--lora',
  modelName: '--model-name',
};

/** Which option a field's issue is about: `loras[1].path` → `--lora`. */
export function optionFor(path: readonly (string | number)[]): string | undefined {
  const field = path[0];
  return typeof field === 'string' ? OPTION_FOR_FIELD[field] : undefined;
}

/**
 * The video input from the prompt and options, validated with core's schema (the gateway's own
 * rules): a bad field throws an `InputError` carrying core's issues, before anything is sent.
 */
export function videoInputFrom(prompt: string, options: GenerateOptions): VideoInput {
  if (options.size !== undefined && (options.width !== undefined || options.height !== undefined)) {
    throw new UsageError('give --size or --width/--height, not both');
  }
  const size =
    options.size !== undefined
      ? parseSize(options.size)
      : options.width === undefined && options.height === undefined
        ? DEFAULT_SIZE
        : { width: options.width, height: options.height };
  const input = {
    prompt,
    ...size,
    ...(options.negativePrompt === undefined ? {} : { negativePrompt: options.negativePrompt }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
    ...(options.steps === undefined ? {} : { steps: options.steps }),
    ...(options.guidanceScale === undefined ? {} : { guidanceScale: options.guidanceScale }),
    ...(options.flowShift === undefined ? {} : { flowShift: options.flowShift }),
    ...(options.lora === undefined || options.lora.length === 0
      ? {}
      : { loras: options.lora.map(parseLora) }),
    ...(options.modelName === undefined ? {} : { modelName: options.modelName }),
  };
  const parsed = safeParseVideoInput(input);
  if (!parsed.success) {
    throw new InputError(parsed.error.message, parsed.error.issues, { cause: parsed.error });
  }
  // What the user gave, checked: the gateway fills the defaults as core does.
  return input as VideoInput;
}
