/**
 * Every error a client can receive carries `extensions.code` in ERROR_CODES, over HTTP, SSE
 * (yoga's, at /graphql) and graphql-ws alike; BAD_USER_INPUT lists `issues` with paths from the
 * argument. One stack for the whole file (one more, whose database is broken on purpose, for the
 * unexpected errors); real transports, nothing mocked.
 */
import { VALIDATION_RULES } from '@wan-video/core';
import fc from 'fast-check';
import type { Client } from 'graphql-ws';
import Database from 'libsql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/index.js';
import { sseOnce } from './support/b-helpers.js';
import { creates, GENERATE, type Stack, smallInput, startStack } from './support/stack.js';

type Transport = 'http' | 'sse' | 'ws';
const TRANSPORTS: readonly Transport[] = ['http', 'sse', 'ws'];

interface Answer {
  /** The HTTP status (graphql-ws: none). */
  readonly status: number | undefined;
  readonly data: unknown;
  readonly errors: readonly any[];
}

/** Runs one operation to its end over `transport`, keeping every error however it came back. */
async function over(
  stack: Stack,
  ws: Client,
  transport: Transport,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Answer> {
  switch (transport) {
    case 'http': {
      const { status, body } = await stack.gql(query, variables);
      return { status, data: body.data, errors: body.errors ?? [] };
    }
    case 'sse': {
      const answer = await sseOnce(stack.gateway.graphqlUrl, query, variables);
      const messages = answer.contentType.startsWith('application/json')
        ? [JSON.parse(answer.text)]
        : answer.messages;
      return {
        status: answer.status,
        data: messages.find((message) => message.data)?.data,
        errors: messages.flatMap((message) => message.errors ?? []),
      };
    }
    case 'ws':
      return new Promise((resolve) => {
        const errors: any[] = [];
        let data: unknown;
        ws.subscribe(
          { query, variables },
          {
            next: (message) => {
              data ??= message.data;
              errors.push(...(message.errors ?? []));
            },
            // An operation's errors (graphql-ws hands them over as one array), or a close event.
            error: (error) => {
              errors.push(...(Array.isArray(error) ? error : [error]));
              resolve({ status: undefined, data, errors });
            },
            complete: () => resolve({ status: undefined, data, errors }),
          },
        );
      });
  }
}

const CODES = new Set<unknown>(Object.values(ERROR_CODES));
const RULES = new Set<unknown>(VALIDATION_RULES);

/** What every error must be: a known code, and BAD_USER_INPUT with located issues. */
function expectWellCoded(errors: readonly any[]) {
  for (const error of errors) {
    expect(typeof error.message).toBe('string');
    expect(CODES.has(error.extensions?.code), JSON.stringify(error)).toBe(true);
    if (error.extensions.code !== 'BAD_USER_INPUT') continue;
    expect(error.extensions.issues.length).toBeGreaterThan(0);
    for (const issue of error.extensions.issues) {
      expect(Array.isArray(issue.path)).toBe(true);
      expect(issue.path[0]).toBe('input');
      expect(issue.message).toMatch(/\w/);
      expect(RULES.has(issue.rule)).toBe(true);
    }
  }
}

const LITERAL_SEED = /* GraphQL */ `
  mutation { generateVideo(input: { prompt: "a", width: 832, height: 480, seed: "x" }) { id } }
`;
/** `__type { fields { type { ofType ... } } }`, 9 deep. */
const NINE_DEEP = `query { __type(name: "VideoTask") { fields { type { ${'ofType { '.repeat(5)}name${' }'.repeat(5)} } } } }`;
const aliases = (n: number) =>
  `query { ${Array.from({ length: n }, (_, i) => `a${i}: gateway { emulated }`).join(' ')} }`;
const COSTLY = `query { ${Array.from(
  { length: 14 },
  (_, i) =>
    `a${i}: videoTasks(first: 100) { edges { node { id input { prompt loras { path } } videos { url } } } }`,
).join(' ')} }`;

/** [family, query, variables, code, issue paths (BAD_USER_INPUT)]. */
const FAMILIES: [string, string, Record<string, unknown>, string, string[][]?][] = [
  [
    'a non-integer steps variable',
    GENERATE,
    { input: smallInput({ steps: 1.5 }) },
    'BAD_USER_INPUT',
    [['input', 'steps']],
  ],
  [
    'an unknown input field',
    GENERATE,
    { input: smallInput({ colour: 'red' }) },
    'BAD_USER_INPUT',
    [['input', 'colour']],
  ],
  [
    'a missing field and a wrong type at once',
    GENERATE,
    { input: { width: '832', height: 480 } },
    'BAD_USER_INPUT',
    [
      ['input', 'prompt'],
      ['input', 'width'],
    ],
  ],
  [
    'a LoRA scale that is not a number',
    GENERATE,
    { input: smallInput({ loras: [{ path: 'a', scale: 'big' }] }) },
    'BAD_USER_INPUT',
    [['input', 'loras', '0', 'scale']],
  ],
  [
    'a Seed variable that is not a number',
    GENERATE,
    { input: smallInput({ seed: 'x' }) },
    'BAD_USER_INPUT',
    [['input', 'seed']],
  ],
  ['a Seed literal that is not a number', LITERAL_SEED, {}, 'BAD_USER_INPUT', [['input', 'seed']]],
  ['a query 9 deep', NINE_DEEP, {}, 'MAX_DEPTH_EXCEEDED'],
  ['16 aliases', aliases(16), {}, 'MAX_ALIASES_EXCEEDED'],
  [
    '21 directives',
    `query { ${'__typename @include(if: true) '.repeat(21)} }`,
    {},
    'MAX_DIRECTIVES_EXCEEDED',
  ],
  ['over 2000 tokens', `query { ${'__typename '.repeat(2001)} }`, {}, 'MAX_TOKENS_EXCEEDED'],
  ['a cost over 5000', COSTLY, {}, 'COST_LIMIT_EXCEEDED'],
  ['a syntax error', 'query { gateway { emulated }', {}, 'GRAPHQL_PARSE_FAILED'],
  ['an unknown field', 'query { gateway { colour } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
  [
    'two operations and no operationName',
    'query A { __typename } query B { __typename }',
    {},
    'OPERATION_RESOLUTION_FAILURE',
  ],
];

describe('every error family, over every transport', () => {
  let stack: Stack;
  let ws: Client;
  beforeAll(async () => {
    stack = await startStack({ env: { LOG_LEVEL: 'warn' } });
    ws = stack.ws();
  });
  afterAll(() => stack?.stop());

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it.each(FAMILIES)('%s', async (_family, query, variables, code, paths) => {
      const answer = await over(stack, ws, transport, query, variables);
      expect(answer.data ?? null).toBeNull();
      expect(answer.errors.length).toBeGreaterThan(0);
      expect(answer.errors[0].extensions.code).toBe(code);
      expectWellCoded(answer.errors);
      if (paths) {
        const issues = answer.errors[0].extensions.issues as { path: unknown[] }[];
        expect(issues.map((issue) => issue.path.map(String))).toEqual(paths);
      }
    });
  });

  it('nothing above reached the upstream', async () => {
    expect(creates(await stack.upstream())).toEqual([]);
  });

  describe('HTTP status, as GraphQL over HTTP asks', () => {
    const post = (accept: string, body: unknown) =>
      fetch(stack.gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept },
        body: JSON.stringify(body),
      });

    it.each([
      ['a variable error', { query: GENERATE, variables: { input: smallInput({ steps: 'x' }) } }],
      ['a parse error', { query: '{' }],
      ['a limit', { query: aliases(16) }],
    ])(
      '%s is 400 to application/graphql-response+json, 200 to application/json; coded in both',
      async (_name, body) => {
        const strict = await post('application/graphql-response+json', body);
        expect(strict.status).toBe(400);
        const plain = await post('application/json', body);
        expect(plain.status).toBe(200);
        for (const response of [strict, plain]) {
          const { errors } = (await response.json()) as { errors: any[] };
          expect(errors.length).toBeGreaterThan(0);
          expectWellCoded(errors);
        }
      },
    );
  });

  describe('refused before GraphQL runs, with a GraphQL-shaped body', () => {
    const padded = (bytes: number) =>
      JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(bytes) } });

    it.each([
      ['POST', 'application/json'],
      ['SSE', 'text/event-stream'],
    ])('%s over 64 KiB: 413 PAYLOAD_TOO_LARGE', async (_name, accept) => {
      const response = await fetch(stack.gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept },
        body: padded(64 * 1024),
      });
      expect(response.status).toBe(413);
      const body = (await response.json()) as { errors: any[] };
      expect(body).toEqual({
        errors: [{ message: expect.any(String), extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
      });
    });

    it('a POST without a Content-Length: 411 LENGTH_REQUIRED', async () => {
      const chunks = [JSON.stringify({ query: '{ __typename }' })];
      const body = new ReadableStream({
        pull(controller) {
          const chunk = chunks.shift();
          if (chunk) controller.enqueue(new TextEncoder().encode(chunk));
          else controller.close();
        },
      });
      const response = await fetch(stack.gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      expect(response.status).toBe(411);
      expect(await response.json()).toEqual({
        errors: [{ message: expect.any(String), extensions: { code: 'LENGTH_REQUIRED' } }],
      });
    });

    it.each<[string, { method: string; body?: string; query?: string }]>([
      ['a body that is not JSON', { method: 'POST', body: '{"query": ' }],
      ['no query', { method: 'POST', body: '{"variables": {}}' }],
      ['an unknown parameter', { method: 'POST', body: '{"query": "{ __typename }", "x": 1}' }],
      [
        'a mutation over GET',
        {
          method: 'GET',
          query: `?query=${encodeURIComponent('mutation { generateVideo(input: { prompt: "a", width: 832, height: 480 }) { id } }')}`,
        },
      ],
    ])('%s: BAD_REQUEST', async (_name, { method, body, query }) => {
      const response = await fetch(`${stack.gateway.graphqlUrl}${query ?? ''}`, {
        method,
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        ...(body === undefined ? {} : { body }),
      });
      const { errors } = (await response.json()) as { errors: any[] };
      expect(errors[0].extensions.code).toBe('BAD_REQUEST');
      expectWellCoded(errors);
    });
  });

  describe('fuzzed input variables', () => {
    const FIELDS = [
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
    const LONG_CHARACTER = fc.constantFrom('x', 'é', '💥', '"', '\\', '\u0000');
    const hugeString = (maxLength: number) =>
      fc
        .tuple(LONG_CHARACTER, fc.integer({ min: 2001, max: maxLength }))
        .map(([character, length]) => character.repeat(length));
    const unknownField = fc
      .oneof(
        fc.constantFrom('__proto__', 'constructor', 'toString', 'Prompt', 'guidance_scale', ''),
        fc.string(),
      )
      .filter((key) => !(FIELDS as readonly string[]).includes(key));
    const notAnInt = fc.oneof(
      fc.integer({ min: 41, max: 2 ** 31 - 1 }),
      fc.integer({ min: -(2 ** 31), max: 0 }),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e12, max: 1e12 }),
      fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 1e300),
    );

    /** One change that makes any input invalid, whatever else is in it. */
    const invalidating = (maxString: number) =>
      fc.oneof(
        fc.tuple(unknownField, fc.jsonValue()),
        fc.tuple(fc.constant('steps'), notAnInt),
        fc.tuple(
          fc.constantFrom('guidanceScale', 'flowShift'),
          // Finite only: JSON sends Infinity as null, which GraphQL reads as not given (valid).
          fc.oneof(
            fc.double({ min: 10.01, noNaN: true, noDefaultInfinity: true }),
            fc.double({ max: -0.01, noNaN: true, noDefaultInfinity: true }),
          ),
        ),
        fc.tuple(
          fc.constant('seed'),
          fc.oneof(
            fc.integer({ min: -(2 ** 40), max: -2 }),
            fc.integer({ min: 10_000_000_000, max: 2 ** 50 }),
            fc.double({ min: 0.01, max: 0.99, noNaN: true }),
            fc.string(),
            fc.boolean(),
          ),
        ),
        fc.tuple(
          fc.constantFrom('width', 'height'),
          fc.oneof(
            fc.integer().filter((n) => ![480, 720, 832, 1280].includes(n)),
            fc.string(),
          ),
        ),
        fc.tuple(fc.constantFrom('prompt', 'negativePrompt'), hugeString(maxString)),
        fc.tuple(fc.constant('prompt'), fc.oneof(fc.constant(''), fc.constant(null), fc.integer())),
        fc.tuple(
          fc.constant('modelName'),
          fc.oneof(
            fc.string().filter((name) => name !== 'wan2.1-t2v'),
            fc.array(fc.integer()),
          ),
        ),
        fc.tuple(
          fc.constant('loras'),
          fc.oneof(
            fc.array(fc.record({ path: fc.string(), scale: fc.double() }), { minLength: 4 }),
            fc.array(fc.oneof(fc.string(), fc.integer(), fc.boolean()), { minLength: 1 }),
            fc.constant([{ path: '', scale: 1 }]),
          ),
        ),
      );

    /** A plausible input with random noise, made invalid by at least one change applied last. */
    const malformedInput = (maxString: number) =>
      fc.oneof(
        {
          weight: 9,
          arbitrary: fc
            .tuple(
              fc.array(
                fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), unknownField), fc.jsonValue()),
                {
                  maxLength: 3,
                },
              ),
              fc.array(invalidating(maxString), { minLength: 1, maxLength: 3 }),
            )
            .map(([noise, changes]) =>
              Object.fromEntries([...Object.entries(smallInput()), ...noise, ...changes]),
            ),
        },
        {
          weight: 1,
          arbitrary: fc.oneof(
            fc.constant(null),
            fc.string(),
            fc.integer(),
            fc.array(fc.jsonValue()),
          ),
        },
      );

    it('every error of 500 malformed inputs has a code; BAD_USER_INPUT names each problem from `input`', async () => {
      const before = creates(await stack.upstream()).length;
      await fc.assert(
        fc.asyncProperty(
          fc
            .constantFrom(...TRANSPORTS)
            // Up to 6 bytes a character once escaped, and two such fields: under 64 KiB, so that
            // a WebSocket is never closed for its size (the 413 has its own test above).
            .chain((transport) => fc.tuple(fc.constant(transport), malformedInput(5000))),
          async ([transport, input]) => {
            const answer = await over(stack, ws, transport, GENERATE, { input });
            expect(answer.data ?? null).toBeNull();
            expect(answer.errors.length).toBeGreaterThan(0);
            expectWellCoded(answer.errors);
          },
        ),
        { numRuns: 500 },
      );
      expect(creates(await stack.upstream()).length).toBe(before);
    });
  });
});

describe('an unexpected error', () => {
  let stack: Stack;
  let ws: Client;
  beforeAll(async () => {
    stack = await startStack();
    ws = stack.ws();
    // Break the gateway's database under it: every read of the tasks now fails unexpectedly.
    const db = new Database(stack.databasePath);
    db.exec('DROP TABLE tasks');
    db.close();
  });
  afterAll(() => stack?.stop());

  it.each(TRANSPORTS)(
    'over %s is masked as "Unexpected error." with INTERNAL_SERVER_ERROR; the log has it',
    async (transport) => {
      const answer = await over(
        stack,
        ws,
        transport,
        '{ videoTasks(first: 1) { edges { node { id } } } }',
      );
      expect(answer.errors).toEqual([
        expect.objectContaining({
          message: 'Unexpected error.',
          extensions: { code: 'INTERNAL_SERVER_ERROR' },
        }),
      ]);
      expect(JSON.stringify(answer.errors)).not.toMatch(/sqlite|no such table|\bat\b/i);
      expect(stack.logs.some((line) => /no such table/i.test(line))).toBe(true);
    },
  );
});
