import type { z } from 'zod';
import type { ValidationIssue, ValidationRule } from './errors.js';
import { LIMITS, WIRE_NAMES } from './limits.js';

type Path = readonly (string | number)[];

/** The range of each numeric field, under both of its names, for "between A and B" messages. */
const RANGES: Readonly<Record<string, { min: number; max: number; note?: string }>> = (() => {
  const byName: Record<string, { min: number; max: number; note?: string }> = {
    seed: { ...LIMITS.seed, note: `${LIMITS.seed.random} picks a random seed` },
    steps: LIMITS.steps,
    guidanceScale: LIMITS.guidanceScale,
    flowShift: LIMITS.flowShift,
  };
  for (const [camel, wire] of Object.entries(WIRE_NAMES)) {
    const range = byName[camel];
    if (range) byName[wire] = range;
  }
  return byName;
})();

const TYPE_NAMES: Readonly<Record<string, string>> = {
  number: 'a number',
  int: 'a whole number',
  string: 'text',
  array: 'a list',
  object: 'an object',
  boolean: 'true or false',
};

/** `['loras', 0, 'path']` reads as `loras[0].path`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? key : `.${key}`;
  }
  return out === '' ? 'value' : out;
}

function valueAt(root: unknown, path: Path): unknown {
  let current = root;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

const show = (value: unknown): string =>
  typeof value === 'string' ? JSON.stringify(value) : String(value);

const joinAllowed = (values: readonly unknown[]): string => values.map(String).join(', ');

function rangeMessage(label: string, field: string, bound: number, kind: 'min' | 'max'): string {
  const range = RANGES[field];
  if (range) {
    return `${label} must be between ${range.min} and ${range.max}${range.note ? ` (${range.note})` : ''}`;
  }
  return kind === 'min'
    ? `${label} must be at least ${bound}`
    : `${label} must be at most ${bound}`;
}

function describe(
  issue: z.core.$ZodIssue,
  root: unknown,
): { rule: ValidationRule; message: string } {
  const path = issue.path as Path;
  const label = formatPath(path);
  const field = String(path.at(-1) ?? '');
  const input = valueAt(root, path);
  switch (issue.code) {
    case 'invalid_type': {
      if (input === undefined) return { rule: 'required', message: `${label} is required` };
      if (issue.expected === 'int' && typeof input === 'number' && Number.isFinite(input)) {
        return { rule: 'integer', message: `${label} must be a whole number (got ${show(input)})` };
      }
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      return { rule: 'type', message: `${label} must be ${expected}` };
    }
    case 'too_small':
      if (issue.origin === 'string') {
        return { rule: 'min_length', message: `${label} must not be empty` };
      }
      return {
        rule: 'min',
        message: `${rangeMessage(label, field, Number(issue.minimum), 'min')} (got ${show(input)})`,
      };
    case 'too_big':
      if (issue.origin === 'array') {
        const count = Array.isArray(input) ? input.length : '?';
        return {
          rule: 'max_items',
          message: `${label} can have at most ${issue.maximum} entries (got ${count})`,
        };
      }
      return {
        rule: 'max',
        message: `${rangeMessage(label, field, Number(issue.maximum), 'max')} (got ${show(input)})`,
      };
    case 'invalid_value':
      if (input === undefined) return { rule: 'required', message: `${label} is required` };
      return {
        rule: 'one_of',
        message:
          issue.values.length === 1
            ? `${label} must be ${show(issue.values[0])}`
            : `${label} must be one of ${joinAllowed(issue.values)}`,
      };
    case 'invalid_format':
      return {
        rule: 'format',
        message:
          issue.format === 'url'
            ? `${label} must be an http or https URL`
            : `${label} must be a valid ${issue.format}`,
      };
    case 'custom':
      return describeCustom(issue, label);
    case 'unrecognized_keys':
      // Split into one issue per key by `toValidationIssues`; this is the fallback.
      return { rule: 'unknown_field', message: `${issue.keys.join(', ')} are not fields` };
    case 'invalid_union':
    case 'invalid_key':
    case 'invalid_element':
    case 'not_multiple_of':
      return { rule: 'type', message: `${label}: ${issue.message}` };
  }
}

function describeCustom(
  issue: z.core.$ZodIssueCustom,
  label: string,
): { rule: ValidationRule; message: string } {
  const params = (issue.params ?? {}) as Record<string, unknown>;
  switch (params.rule) {
    case 'min_length':
      return params.limit === 1
        ? { rule: 'min_length', message: `${label} must not be empty` }
        : {
            rule: 'min_length',
            message: `${label} must be at least ${params.limit} characters (got ${params.actual})`,
          };
    case 'max_length':
      return {
        rule: 'max_length',
        message: `${label} must be at most ${params.limit} characters (got ${params.actual})`,
      };
    case 'one_of':
      return {
        rule: 'one_of',
        message: `${label} must be one of ${joinAllowed(params.allowed as unknown[])}`,
      };
    case 'size_pair':
      return {
        rule: 'size_pair',
        message: `${label} must be ${params.required} when width is ${params.width}`,
      };
    default:
      return { rule: 'type', message: `${label}: ${issue.message}` };
  }
}

/** Edit distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0;
      row[j] = Math.min(
        current + 1,
        (row[j - 1] ?? 0) + 1,
        previous + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      previous = current;
    }
  }
  return row[b.length] ?? 0;
}

const CAMEL_FOR_WIRE: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(WIRE_NAMES).map(([camel, wire]) => [wire, camel]),
);

/** The known field a mistyped or snake_case key most likely meant, if any. */
function suggest(key: string, known: readonly string[]): string | undefined {
  const alias = CAMEL_FOR_WIRE[key] ?? (WIRE_NAMES as Record<string, string>)[key];
  if (alias && known.includes(alias)) return alias;
  const lower = key.toLowerCase().replace(/[_-]/g, '');
  const same = known.find((field) => field.toLowerCase().replace(/[_-]/g, '') === lower);
  if (same) return same;
  let best: { field: string; cost: number } | undefined;
  for (const field of known) {
    const cost = distance(key.toLowerCase(), field.toLowerCase());
    if (cost <= 2 && (!best || cost < best.cost)) best = { field, cost };
  }
  return best?.field;
}

/**
 * Turns zod's issues into ours: one per problem, with a sentence a user understands. An
 * unknown key becomes one issue at its own path, suggesting the field it most likely meant
 * among `known` (the object's own fields). The same rule broken twice at one path counts once.
 */
export function toValidationIssues(
  issues: readonly z.core.$ZodIssue[],
  root: unknown,
  known: readonly string[] = [],
): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  const seen = new Set<string>();
  const push = (issue: ValidationIssue) => {
    const key = `${JSON.stringify(issue.path)}:${issue.rule}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(issue);
  };
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const path = [...(issue.path as Path), key];
        const hint = suggest(key, known);
        push({
          path,
          rule: 'unknown_field',
          message: `${formatPath(path)} is not a field${hint ? `; did you mean ${hint}?` : ''}`,
        });
      }
      continue;
    }
    push({ path: [...(issue.path as Path)], ...describe(issue, root) });
  }
  return out;
}
