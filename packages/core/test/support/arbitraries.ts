import fc from 'fast-check';
import { LIMITS, MODEL_NAME, VIDEO_SIZES, type VideoInput } from '../../src/index.js';

/** Text mixing ASCII and astral code points, of an exact code point length. */
export const textOfLength = (length: number) =>
  fc
    .array(fc.constantFrom('a', 'Z', ' ', 'é', '猫', '🎬', '😀'), {
      minLength: length,
      maxLength: length,
    })
    .map((chars) => chars.join(''));

export const seedArb = fc.bigInt({ min: -1n, max: BigInt(LIMITS.seed.max) }).map(Number);

/** A double with -0 folded into 0: JSON cannot carry -0, and the wire is JSON. */
const jsonDouble = (constraints: fc.DoubleConstraints) =>
  fc.double(constraints).map((value) => value + 0);

export const loraArb = fc.record({
  path: fc.string({ minLength: 1, maxLength: 40 }),
  scale: jsonDouble({ noNaN: true, noDefaultInfinity: true, min: -10, max: 10 }),
});

/** Any valid camelCase input, optional fields sometimes left out. */
export const validInputArb: fc.Arbitrary<VideoInput> = fc
  .record(
    {
      prompt: fc.string({ minLength: 1, maxLength: 200 }).filter((s) => [...s].length >= 1),
      negativePrompt: fc.string({ maxLength: 200 }),
      size: fc.constantFrom(...VIDEO_SIZES),
      seed: seedArb,
      steps: fc.integer({ min: LIMITS.steps.min, max: LIMITS.steps.max }),
      guidanceScale: jsonDouble({ min: 0, max: 10, noNaN: true }),
      flowShift: jsonDouble({ min: 1, max: 10, noNaN: true }),
      loras: fc.array(loraArb, { maxLength: LIMITS.loras.maxItems }),
      modelName: fc.constant(MODEL_NAME),
    },
    { requiredKeys: ['prompt', 'size'] },
  )
  .map(({ size, ...rest }) => ({ ...rest, width: size.width, height: size.height }) as VideoInput);

export const baseInput = {
  prompt: 'a lighthouse at dusk',
  width: 832,
  height: 480,
} as const;

export const baseWire = {
  model_name: MODEL_NAME,
  prompt: 'a lighthouse at dusk',
  width: 832,
  height: 480,
  seed: 1,
} as const;
