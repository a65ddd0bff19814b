import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fromCreateTaskRequest,
  LIMITS,
  MODEL_NAME,
  type SafeParseResult,
  safeParseCreateTaskRequest,
  safeParseVideoInput,
  toCreateTaskRequest,
  type ValidationRule,
  VIDEO_SIZES,
  WIRE_NAMES,
} from '../src/index.js';
import {
  baseInput,
  baseWire,
  loraArb,
  seedArb,
  textOfLength,
  validInputArb,
} from './support/arbitraries.js';

type Camel =
  | 'prompt'
  | 'negativePrompt'
  | 'seed'
  | 'steps'
  | 'guidanceScale'
  | 'flowShift'
  | 'loras'
  | 'modelName'
  | 'width'
  | 'height';

/** The same rules, checked through both doors: the camelCase input and the wire body. */
const flavours = [
  {
    name: 'camelCase input',
    parse: (value: unknown): SafeParseResult<unknown> => safeParseVideoInput(value),
    key: (field: Camel): string => field,
    base: baseInput as Record<string, unknown>,
  },
  {
    name: 'wire body',
    parse: (value: unknown): SafeParseResult<unknown> => safeParseCreateTaskRequest(value),
    key: (field: Camel): string => (WIRE_NAMES as Record<string, string>)[field] ?? field,
    base: baseWire as Record<string, unknown>,
  },
];

function expectOnlyIssue(
  result: SafeParseResult<unknown>,
  path: (string | number)[],
  rule?: ValidationRule,
) {
  expect(result.success).toBe(false);
  if (result.success) return;
  expect(result.error.issues.map((issue) => issue.path)).toEqual([path]);
  if (rule) expect(result.error.issues[0]?.rule).toBe(rule);
  expect(result.error.issues[0]?.message).toMatch(new RegExp(`^${String(path[0])}`));
}

/** The closest double to `x` in the given direction: "just outside" for a float bound. */
function adjacentDouble(x: number, direction: 1 | -1): number {
  if (x === 0) return direction * Number.MIN_VALUE;
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  view.setBigUint64(0, x > 0 === direction > 0 ? bits + 1n : bits - 1n);
  return view.getFloat64(0);
}

const numericRules = [
  { field: 'steps', min: LIMITS.steps.min, max: LIMITS.steps.max, integer: true },
  { field: 'seed', min: LIMITS.seed.min, max: LIMITS.seed.max, integer: true },
  {
    field: 'guidanceScale',
    min: LIMITS.guidanceScale.min,
    max: LIMITS.guidanceScale.max,
    integer: false,
  },
  { field: 'flowShift', min: LIMITS.flowShift.min, max: LIMITS.flowShift.max, integer: false },
] as const;

describe.each(flavours)('validation of the $name', ({ parse, key, base }) => {
  const withField = (field: Camel, value: unknown) => ({ ...base, [key(field)]: value });

  it('accepts every valid request', () => {
    fc.assert(
      fc.property(validInputArb, (input) => {
        const resolved = safeParseVideoInput(input);
        if (!resolved.success) throw resolved.error;
        const wire = toCreateTaskRequest(resolved.data);
        const value =
          key('negativePrompt') === 'negativePrompt' ? input : JSON.parse(JSON.stringify(wire));
        expect(parse(value).success).toBe(true);
      }),
    );
  });

  describe.each(numericRules)('$field', ({ field, min, max, integer }) => {
    it('passes at and just inside both bounds', () => {
      const inside = integer
        ? fc.oneof(
            fc.constantFrom(min, max, min + 1, max - 1),
            fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number),
          )
        : fc.oneof(fc.constantFrom(min, max), fc.double({ min, max, noNaN: true }));
      fc.assert(
        fc.property(inside, (value) => {
          expect(parse(withField(field, value)).success).toBe(true);
        }),
      );
    });

    it('fails just below the minimum, naming the field', () => {
      const below = integer
        ? fc.oneof(fc.constant(min - 1), fc.integer({ min: -1e9, max: min - 1 }))
        : fc.oneof(
            fc.constant(adjacentDouble(min, -1)),
            fc
              .double({
                max: min,
                maxExcluded: true,
                noNaN: true,
                noDefaultInfinity: true,
                min: -1e12,
              })
              .filter((v) => v < min),
          );
      fc.assert(
        fc.property(below, (value) => {
          expectOnlyIssue(parse(withField(field, value)), [key(field)], 'min');
        }),
      );
    });

    it('fails just above the maximum, naming the field', () => {
      const above = integer
        ? fc.oneof(
            fc.constant(max + 1),
            fc.bigInt({ min: BigInt(max) + 1n, max: BigInt(Number.MAX_SAFE_INTEGER) }).map(Number),
          )
        : fc.oneof(
            fc.constant(adjacentDouble(max, 1)),
            fc.double({
              min: max,
              minExcluded: true,
              noNaN: true,
              noDefaultInfinity: true,
              max: 1e12,
            }),
          );
      fc.assert(
        fc.property(above, (value) => {
          expectOnlyIssue(parse(withField(field, value)), [key(field)], 'max');
        }),
      );
    });

    it('rejects values that are not numbers', () => {
      for (const value of ['5', true, {}, [], Number.NaN, Number.POSITIVE_INFINITY]) {
        expectOnlyIssue(parse(withField(field, value)), [key(field)], 'type');
      }
    });

    if (integer) {
      it('rejects fractions', () => {
        fc.assert(
          fc.property(
            fc.double({ min, max, noNaN: true }).filter((v) => !Number.isInteger(v)),
            (value) => expectOnlyIssue(parse(withField(field, value)), [key(field)], 'integer'),
          ),
        );
      });
    }
  });

  it('seed holds values beyond 2^31 exactly', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 2n ** 31n, max: BigInt(LIMITS.seed.max) }).map(Number),
        (seed) => {
          const result = parse(withField('seed', seed));
          expect(result.success && (result.data as { seed: number }).seed).toBe(seed);
        },
      ),
    );
  });

  it('prompt: 1 and 2000 characters pass, 0 and 2001 fail (emoji count as one)', () => {
    for (const length of [1, 2, 1999, 2000]) {
      fc.assert(
        fc.property(textOfLength(length), (prompt) => {
          expect(parse(withField('prompt', prompt)).success).toBe(true);
        }),
        { numRuns: 20 },
      );
    }
    expectOnlyIssue(parse(withField('prompt', '')), [key('prompt')], 'min_length');
    fc.assert(
      fc.property(textOfLength(2001), (prompt) =>
        expectOnlyIssue(parse(withField('prompt', prompt)), [key('prompt')], 'max_length'),
      ),
      { numRuns: 20 },
    );
    expectOnlyIssue(parse({ ...base, [key('prompt')]: undefined }), [key('prompt')], 'required');
  });

  it('negative prompt: 0 and 2000 characters pass, 2001 fails', () => {
    for (const length of [0, 1, 2000]) {
      fc.assert(
        fc.property(textOfLength(length), (text) => {
          expect(parse(withField('negativePrompt', text)).success).toBe(true);
        }),
        { numRuns: 10 },
      );
    }
    fc.assert(
      fc.property(textOfLength(2001), (text) =>
        expectOnlyIssue(
          parse(withField('negativePrompt', text)),
          [key('negativePrompt')],
          'max_length',
        ),
      ),
      { numRuns: 10 },
    );
  });

  it('accepts the four sizes and no other width/height pair', () => {
    for (const size of VIDEO_SIZES) {
      expect(parse({ ...base, width: size.width, height: size.height }).success).toBe(true);
    }
    const allowed = new Set(VIDEO_SIZES.map((size) => `${size.width}x${size.height}`));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom(480, 720, 832, 1280, 479, 481, 0, -480),
          fc.integer({ min: -5000, max: 5000 }),
        ),
        fc.oneof(
          fc.constantFrom(480, 720, 832, 1280, 719, 1281),
          fc.integer({ min: -5000, max: 5000 }),
        ),
        (width, height) => {
          fc.pre(!allowed.has(`${width}x${height}`));
          const result = parse({ ...base, width, height });
          expect(result.success).toBe(false);
          if (result.success) return;
          const paths = result.error.issues.map((issue) => issue.path[0]);
          expect(paths.every((p) => p === 'width' || p === 'height')).toBe(true);
        },
      ),
    );
  });

  it('explains a mismatched pair in words', () => {
    const result = parse({ ...base, width: 832, height: 832 });
    expect(!result.success && result.error.issues).toEqual([
      { path: ['height'], rule: 'size_pair', message: 'height must be 480 when width is 832' },
    ]);
    const other = parse({ ...base, width: 500, height: 480 });
    expect(!other.success && other.error.issues).toEqual([
      { path: ['width'], rule: 'one_of', message: 'width must be one of 480, 720, 832, 1280' },
    ]);
  });

  it('loras: up to 3 pass, a 4th fails; each needs a non-empty path and a numeric scale', () => {
    fc.assert(
      fc.property(fc.array(loraArb, { maxLength: 3 }), (loras) => {
        expect(parse(withField('loras', loras)).success).toBe(true);
      }),
    );
    fc.assert(
      fc.property(fc.array(loraArb, { minLength: 4, maxLength: 8 }), (loras) =>
        expectOnlyIssue(parse(withField('loras', loras)), [key('loras')], 'max_items'),
      ),
    );
    fc.assert(
      fc.property(fc.array(loraArb, { minLength: 1, maxLength: 3 }), fc.nat(), (loras, pick) => {
        const i = pick % loras.length;
        const emptyPath = loras.map((lora, j) => (j === i ? { ...lora, path: '' } : lora));
        expectOnlyIssue(
          parse(withField('loras', emptyPath)),
          [key('loras'), i, 'path'],
          'min_length',
        );
        const badScale = loras.map((lora, j) => (j === i ? { ...lora, scale: 'high' } : lora));
        expectOnlyIssue(parse(withField('loras', badScale)), [key('loras'), i, 'scale'], 'type');
      }),
    );
  });

  it(`lora path: 1 and ${LIMITS.loraPath.maxLength} characters pass, ${LIMITS.loraPath.maxLength + 1} fails (emoji count as one)`, () => {
    const { maxLength } = LIMITS.loraPath;
    const withPath = (loras: { path: string; scale: number }[], i: number, path: string) =>
      withField(
        'loras',
        loras.map((lora, j) => (j === i ? { ...lora, path } : lora)),
      );
    fc.assert(
      fc.property(
        fc.array(loraArb, { minLength: 1, maxLength: LIMITS.loras.maxItems }),
        fc.nat(),
        fc.constantFrom(1, 2, maxLength - 1, maxLength).chain(textOfLength),
        (loras, pick, path) => {
          expect(parse(withPath(loras, pick % loras.length, path)).success).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
    fc.assert(
      fc.property(
        fc.array(loraArb, { minLength: 1, maxLength: LIMITS.loras.maxItems }),
        fc.nat(),
        fc.integer({ min: maxLength + 1, max: maxLength + 64 }).chain(textOfLength),
        (loras, pick, path) => {
          const i = pick % loras.length;
          const result = parse(withPath(loras, i, path));
          expectOnlyIssue(result, [key('loras'), i, 'path'], 'max_length');
          expect(!result.success && result.error.issues[0]?.message).toBe(
            `${key('loras')}[${i}].path must be at most ${maxLength} characters (got ${[...path].length})`,
          );
        },
      ),
      { numRuns: 40 },
    );
  });

  it(`model name: only ${MODEL_NAME}`, () => {
    expect(parse(withField('modelName', MODEL_NAME)).success).toBe(true);
    fc.assert(
      fc.property(
        fc.string().filter((s) => s !== MODEL_NAME),
        (name) =>
          expectOnlyIssue(parse(withField('modelName', name)), [key('modelName')], 'one_of'),
      ),
    );
  });

  it('lists every problem at once, each with its own path', () => {
    const result = parse({
      ...base,
      [key('prompt')]: '',
      width: 832,
      height: 720,
      [key('steps')]: 41,
      [key('guidanceScale')]: -0.5,
      [key('flowShift')]: 0.5,
      [key('seed')]: 10_000_000_000,
      [key('loras')]: [
        { path: 'a', scale: 1 },
        { path: '', scale: 1 },
      ],
    });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(result.error.issues.map((issue) => issue.path.join('.')).sort()).toEqual(
      [
        key('prompt'),
        'height',
        key('steps'),
        key('guidanceScale'),
        key('flowShift'),
        key('seed'),
        `${key('loras')}.1.path`,
      ].sort(),
    );
  });
});

describe('camelCase input and wire body', () => {
  it('fill the contract defaults', () => {
    const result = safeParseVideoInput(baseInput);
    expect(result.success && result.data).toEqual({
      ...baseInput,
      seed: -1,
      steps: 30,
      guidanceScale: 5,
      flowShift: 5,
      modelName: MODEL_NAME,
      negativePrompt: undefined,
      loras: undefined,
    });
    const wire = safeParseCreateTaskRequest(baseWire);
    expect(wire.success && wire.data).toMatchObject({
      steps: 30,
      guidance_scale: 5,
      flow_shift: 5,
    });
  });

  it('treat null as "not given" in the camelCase input', () => {
    const result = safeParseVideoInput({
      ...baseInput,
      seed: null,
      steps: null,
      negativePrompt: null,
      loras: null,
      modelName: null,
    });
    expect(result.success && result.data).toMatchObject({
      seed: -1,
      steps: 30,
      modelName: MODEL_NAME,
    });
  });

  it('map to the wire and back without loss', () => {
    fc.assert(
      fc.property(validInputArb, (input) => {
        const resolved = safeParseVideoInput(input);
        if (!resolved.success) throw resolved.error;
        const wire = toCreateTaskRequest(resolved.data);
        const reparsed = safeParseCreateTaskRequest(JSON.parse(JSON.stringify(wire)));
        if (!reparsed.success) throw reparsed.error;
        expect(fromCreateTaskRequest(reparsed.data)).toEqual(resolved.data);
      }),
    );
  });

  it('carry a webhook URL only on the wire', () => {
    const resolved = safeParseVideoInput(baseInput);
    if (!resolved.success) throw resolved.error;
    const wire = toCreateTaskRequest(resolved.data, { webhookUrl: 'https://hooks.example/t/abc' });
    expect(wire.extra).toEqual({ webhook: { url: 'https://hooks.example/t/abc' } });
    expect(safeParseCreateTaskRequest(wire).success).toBe(true);
    const bad = safeParseCreateTaskRequest({ ...wire, extra: { webhook: { url: 'ftp://x' } } });
    expect(!bad.success && bad.error.issues.map((issue) => issue.path)).toEqual([
      ['extra', 'webhook', 'url'],
    ]);
  });

  it(`bound the webhook URL at ${LIMITS.webhookUrl.maxLength} characters`, () => {
    const { maxLength } = LIMITS.webhookUrl;
    const urlOfLength = (length: number) => {
      const prefix = 'https://hooks.example/t/';
      return fc
        .array(fc.constantFrom('a', 'Z', '0', '-'), {
          minLength: length - prefix.length,
          maxLength: length - prefix.length,
        })
        .map((chars) => prefix + chars.join(''));
    };
    const withUrl = (url: string) => ({ ...baseWire, extra: { webhook: { url } } });
    fc.assert(
      fc.property(fc.constantFrom(30, maxLength - 1, maxLength).chain(urlOfLength), (url) => {
        expect(safeParseCreateTaskRequest(withUrl(url)).success).toBe(true);
      }),
      { numRuns: 20 },
    );
    fc.assert(
      fc.property(
        fc.integer({ min: maxLength + 1, max: maxLength + 64 }).chain(urlOfLength),
        (url) => {
          const result = safeParseCreateTaskRequest(withUrl(url));
          expect(!result.success && result.error.issues).toEqual([
            {
              path: ['extra', 'webhook', 'url'],
              rule: 'max_length',
              message: `extra.webhook.url must be at most ${maxLength} characters (got ${url.length})`,
            },
          ]);
        },
      ),
      { numRuns: 20 },
    );
  });

  it('accept seeds from -1 to 9999999999 with a generated value', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        expect(safeParseVideoInput({ ...baseInput, seed }).success).toBe(true);
      }),
    );
  });
});

describe('height', () => {
  it('gets one issue, the most useful one', () => {
    const wrongForWidth = safeParseVideoInput({ ...baseInput, width: 832, height: 719 });
    expect(!wrongForWidth.success && wrongForWidth.error.issues).toEqual([
      { path: ['height'], rule: 'size_pair', message: 'height must be 480 when width is 832' },
    ]);
    const bothWrong = safeParseVideoInput({ ...baseInput, width: 1, height: 2 });
    expect(!bothWrong.success && bothWrong.error.issues.map((issue) => issue.message)).toEqual([
      'width must be one of 480, 720, 832, 1280',
      'height must be one of 480, 720, 832, 1280',
    ]);
  });
});

describe('what the reviewers found', () => {
  it('refuses unknown and mistyped fields in the camelCase input, suggesting the right one', () => {
    const result = safeParseVideoInput({
      ...baseInput,
      flow_shift: 9,
      guidanceScal: 9,
      colour: 'red',
    });
    expect(!result.success && result.error.issues).toEqual([
      {
        path: ['flow_shift'],
        rule: 'unknown_field',
        message: 'flow_shift is not a field; did you mean flowShift?',
      },
      {
        path: ['guidanceScal'],
        rule: 'unknown_field',
        message: 'guidanceScal is not a field; did you mean guidanceScale?',
      },
      { path: ['colour'], rule: 'unknown_field', message: 'colour is not a field' },
    ]);
  });

  it('gives one issue for one broken rule, even far beyond the safe integers', () => {
    for (const [field, value] of [
      ['seed', 1e17],
      ['steps', 1e300],
      ['height', 480.5],
    ] as const) {
      const result = safeParseVideoInput({ ...baseInput, [field]: value });
      expect(!result.success && result.error.issues.map((issue) => issue.path)).toEqual([[field]]);
    }
  });

  it('says "required" for a missing model_name on the wire', () => {
    const { model_name: _, ...rest } = baseWire;
    const result = safeParseCreateTaskRequest(rest);
    expect(!result.success && result.error.issues).toEqual([
      { path: ['model_name'], rule: 'required', message: 'model_name is required' },
    ]);
  });
});
