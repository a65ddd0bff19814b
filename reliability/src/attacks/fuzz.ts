/**
 * fast-check fuzz of `generateVideo`'s input over HTTP: every answer is either a task (and core's
 * own validation agrees the input was valid) or errors that each carry a code, BAD_USER_INPUT
 * with issues naming their field; nothing else is created, nothing answers 5xx.
 */
import { LIMITS, safeParseVideoInput, VIDEO_INPUT_FIELDS, VIDEO_SIZES } from '@wan-video/core';
import { ERROR_CODES } from '@wan-video/gateway';
import { GenerateVideoMutation } from '@wan-video/operations';
import fc from 'fast-check';
import { print } from 'graphql';
import { type Attack, leaksIn, outcome } from '../attack.js';
import { withStack } from '../stack.js';

const GENERATE = print(GenerateVideoMutation);

/** Values that are wrong for most fields: wrong types, edges, huge and hostile strings. */
const hostile = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    0,
    -1,
    2 ** 31,
    -(2 ** 31) - 1,
    Number.MAX_SAFE_INTEGER,
    1e308,
    '',
    ' ',
    '\u0000',
    '1e3',
    'NaN',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 2000, max: 5000 }).map((length) => 'x'.repeat(length)),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.integer(), { maxKeys: 3 }),
);

const size = fc.constantFrom(...VIDEO_SIZES.map(({ width, height }) => ({ width, height })));

/** Mostly `valid`, sometimes `invalid`: so that about one input in ten is valid in all. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 5, arbitrary: valid }, { weight: 1, arbitrary: invalid });

/** Inputs near the valid set: valid fields with some out of bounds, dropped, replaced or added. */
const nearValid = fc
  .record({
    size,
    prompt: mostly(
      fc.string({ minLength: 1, maxLength: 60 }).filter((text) => text.trim().length > 0),
      fc.constantFrom('', 'x'.repeat(LIMITS.prompt.maxLength + 1)),
    ),
    steps: mostly(
      fc.integer({ min: LIMITS.steps.min, max: LIMITS.steps.max }),
      fc.constantFrom(LIMITS.steps.min - 1, LIMITS.steps.max + 1, 2.5),
    ),
    seed: mostly(
      fc.integer({ min: LIMITS.seed.min, max: 2 ** 31 }),
      fc.constantFrom(-2, LIMITS.seed.max + 1, 0.5),
    ),
    guidanceScale: mostly(
      fc.double({ min: LIMITS.guidanceScale.min, max: LIMITS.guidanceScale.max, noNaN: true }),
      fc.constantFrom(-0.001, LIMITS.guidanceScale.max + 0.001),
    ),
    flowShift: mostly(
      fc.double({ min: LIMITS.flowShift.min, max: LIMITS.flowShift.max, noNaN: true }),
      fc.constantFrom(0.999, LIMITS.flowShift.max + 0.001),
    ),
    loras: mostly(
      fc.array(
        fc.record({
          path: fc.string({ minLength: 1, maxLength: 30 }).filter((text) => text.trim().length > 0),
          scale: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        { maxLength: LIMITS.loras.maxItems },
      ),
      fc.constantFrom(
        [{ path: 'p'.repeat(LIMITS.loraPath.maxLength + 1), scale: 1 }],
        [{ path: '', scale: 1 }],
        Array.from({ length: LIMITS.loras.maxItems + 1 }, () => ({ path: 'a', scale: 1 })),
      ),
    ),
    replace: fc.option(
      fc.dictionary(
        fc.constantFrom(
          'prompt',
          'width',
          'height',
          'steps',
          'seed',
          'guidanceScale',
          'loras',
          'negativePrompt',
          'modelName',
          'flowShift',
          'promt',
          '__proto__',
          'extra',
        ),
        hostile,
        { minKeys: 1, maxKeys: 2 },
      ),
      { freq: 2 },
    ),
    drop: fc.option(fc.subarray(['prompt', 'width', 'height', 'steps', 'seed'], { minLength: 1 }), {
      freq: 2,
    }),
  })
  .map(({ size: { width, height }, replace, drop, ...rest }) => {
    const input: Record<string, unknown> = { width, height, ...rest };
    for (const key of drop ?? []) delete input[key];
    for (const [key, value] of Object.entries(replace ?? {})) {
      Object.defineProperty(input, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return input;
  });

const anyInput = fc.oneof(
  { weight: 8, arbitrary: nearValid },
  { weight: 1, arbitrary: hostile },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
);

/**
 * What the gateway is asked, as core sees it: the input after its JSON round trip (NaN and
 * Infinity become null), with null known fields (GraphQL reads them as not given) left out. An
 * unknown field stays, null or not: GraphQL refuses it either way.
 */
function asReceived(input: unknown): unknown {
  const received: unknown = JSON.parse(JSON.stringify(input) ?? 'null');
  if (!received || typeof received !== 'object' || Array.isArray(received)) return received;
  const known = new Set<string>(VIDEO_INPUT_FIELDS);
  return Object.fromEntries(
    Object.entries(received).filter(([key, value]) => !(value === null && known.has(key))),
  );
}

/** Why an error breaks the contract, or undefined when it keeps it. */
function contractBreach(error: any): string | undefined {
  const code = error?.extensions?.code;
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code)) {
    return `no known extensions.code: ${JSON.stringify(error).slice(0, 200)}`;
  }
  if (code === 'BAD_USER_INPUT') {
    const issues = error.extensions.issues;
    if (!Array.isArray(issues) || issues.length === 0) return 'BAD_USER_INPUT without issues';
    if (
      !issues.every((issue: any) => Array.isArray(issue.path) && typeof issue.message === 'string')
    ) {
      return `an issue without a path or message: ${JSON.stringify(issues).slice(0, 200)}`;
    }
  }
  return undefined;
}

export const fuzzInput: Attack = {
  id: 'fuzz-input',
  title: 'Fuzzed generateVideo input (fast-check)',
  expected:
    'each answer is a task exactly when core finds the input valid; every error has a known code, BAD_USER_INPUT with issues[].path; nothing else created; no 5xx',
  fast: true,
  async run(scale) {
    const cases = scale === 'full' ? 20_000 : 5_000;
    // Tasks stall upstream: a valid input costs an upstream create, never a render.
    return withStack(
      {
        env: { MUTATIONS_PER_MINUTE: '100000', MAX_IN_FLIGHT_TASKS: '10000' },
        emulator: { faults: { stallTasks: { progress: 10 } } },
      },
      async (stack) => {
        const inputs = fc.sample(anyInput, { numRuns: cases, seed: 20261201 });
        let http500 = 0;
        let accepted = 0;
        let wronglyAccepted = 0;
        let wronglyRefused = 0;
        const breaches: string[] = [];
        const disagreements: string[] = [];
        const bodies: string[] = [];
        let next = 0;
        const worker = async () => {
          while (next < inputs.length) {
            const input = inputs[next++];
            const response = await fetch(stack.gateway.graphqlUrl, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ query: GENERATE, variables: { input } }),
            });
            const text = await response.text();
            if (response.status >= 500) http500 += 1;
            bodies.push(text);
            const body = JSON.parse(text) as { data?: any; errors?: any[] };
            const valid = safeParseVideoInput(asReceived(input)).success;
            if (body.data?.generateVideo?.id) {
              accepted += 1;
              if (!valid) {
                wronglyAccepted += 1;
                disagreements.push(`accepted ${JSON.stringify(input).slice(0, 200)}`);
              }
            } else {
              if (valid) {
                wronglyRefused += 1;
                disagreements.push(
                  `refused ${JSON.stringify(input).slice(0, 200)}: ${text.slice(0, 300)}`,
                );
              }
              for (const error of body.errors ?? [{}]) {
                const breach = contractBreach(error);
                if (breach) breaches.push(breach);
              }
            }
          }
        };
        await Promise.all(Array.from({ length: 8 }, worker));
        const creates = stack.emulator
          .requests()
          .filter((entry) => entry.method === 'POST' && entry.path.endsWith('/wan-t2v')).length;
        const rows = stack.rows().length;
        const leaks = leaksIn([...bodies, ...stack.output()], stack.secrets);
        const ok =
          wronglyAccepted === 0 &&
          wronglyRefused === 0 &&
          breaches.length === 0 &&
          creates === accepted &&
          rows === accepted;
        return outcome(
          ok,
          `${cases} inputs: ${accepted} valid ones made ${accepted} tasks (${creates} upstream creates, ${rows} rows); ${cases - accepted} refused, ${breaches.length} errors breaking the contract${breaches[0] ? ` (e.g. ${breaches[0]})` : ''}; core and the gateway disagreed on ${wronglyAccepted + wronglyRefused}${disagreements[0] ? ` (e.g. ${disagreements.slice(0, 2).join('; ')})` : ''}`,
          {
            cases,
            http500,
            leaks,
            doubleCreates: Math.max(0, creates - accepted),
            orphaned: Math.max(0, creates - rows),
          },
        );
      },
    );
  },
};
