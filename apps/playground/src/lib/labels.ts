import { formatPath } from '@wan-video/core';

/**
 * What each field of the request is called on the page. Core and the gateway name fields by
 * their API path (`guidanceScale`, `loras[0].path`); the messages a person reads use these.
 */
const LABELS: Readonly<Record<string, string>> = {
  prompt: 'Prompt',
  negativePrompt: 'Negative prompt',
  width: 'Width',
  height: 'Height',
  seed: 'Seed',
  steps: 'Steps',
  guidanceScale: 'Guidance scale',
  flowShift: 'Flow shift',
  loras: 'LoRAs',
  modelName: 'Model',
};

/** The label of the LoRA row at `index` (0-based), as its inputs are labelled: "LoRA 1". */
export const loraLabel = (index: number): string => `LoRA ${index + 1}`;

/**
 * The label of the field at `path`: `['guidanceScale']` → "Guidance scale",
 * `['loras', 0, 'scale']` → "LoRA 1 scale". A leading `input` (the gateway's argument) is skipped.
 */
export function labelOf(path: readonly (string | number)[]): string {
  const [first, ...rest] = path[0] === 'input' ? path.slice(1) : path;
  if (first === undefined) return 'Input';
  if (first === 'loras' && typeof rest[0] === 'number') {
    const [index, field] = rest;
    return field === undefined
      ? loraLabel(index as number)
      : `${loraLabel(index as number)} ${String(field)}`;
  }
  return LABELS[String(first)] ?? formatPath([first, ...rest]);
}

/**
 * A validation message in the page's words: core starts each message with the field's path
 * ("guidanceScale must be between 0 and 10"); that path becomes the field's label
 * ("Guidance scale must be between 0 and 10"). Other messages are kept as they are.
 */
export function labelMessage(path: readonly (string | number)[], message: string): string {
  const apiPath = path[0] === 'input' ? path.slice(1) : path;
  for (const prefix of [formatPath(apiPath), formatPath(path)]) {
    if (message.startsWith(`${prefix} `) || message.startsWith(`${prefix}:`)) {
      return `${labelOf(path)}${message.slice(prefix.length)}`;
    }
  }
  return message;
}
