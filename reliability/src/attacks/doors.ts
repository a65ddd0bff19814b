/**
 * The gateway's other doors: the seed's REST contract (`POST /v3/async/wan-t2v`,
 * `GET /v3/async/task-result`) without a valid key, across tenants, fuzzed and raced on one
 * `Idempotency-Key`; the video route (`/videos/<task>/<n>.mp4`) with odd paths, ranges, methods
 * and slow readers; and the emulator the gateway mounts at `/emulator` when it runs without
 * NOVITA_API_KEY (guessed keys, a client that is not loopback, a SIGKILL mid-create).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIMITS, safeParseCreateTaskRequest, VIDEO_SIZES } from '@wan-video/core';
import { type ChildGateway, freePort, spawnGateway } from '@wan-video/test-utils/gateway-process';
import fc from 'fast-check';
import { type Attack, leaksIn, ledger, outcome } from '../attack.js';
import { rowsAt, type Stack, withStack } from '../stack.js';
import {
  type Answer,
  mb,
  PROMPT_MS,
  parseJson,
  settledRss,
  Transcript,
  tally,
  until,
  watchResponsiveness,
} from './resources.js';

const hex = () => randomBytes(12).toString('hex');

export const CREATE_PATH = '/v3/async/wan-t2v';
export const RESULT_PATH = '/v3/async/task-result';

/** Tasks fail upstream at once: nothing is rendered, every task ends. */
const NOT_RENDERED = { faults: { failTasks: { reason: 'not rendered in this attack' } } };

/** A valid create body of the seed's, snake_case. */
export const wireBody = (patch: Record<string, unknown> = {}) => ({
  model_name: 'wan2.1-t2v',
  prompt: 'a lighthouse at dusk, waves',
  width: 832,
  height: 480,
  seed: 7,
  steps: 10,
  ...patch,
});

/** An HTTP answer with its body as bytes too (videos are compared byte for byte). */
export interface RawAnswer extends Answer {
  readonly bytes: Buffer;
}

export interface RawOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** The client's own address (to be a client that is not loopback). */
  readonly localAddress?: string;
  readonly timeoutMs?: number;
}

/**
 * One request with `path` sent exactly as written (no URL normalisation: `..` and `%2e` reach the
 * gateway as they are), on a connection of its own, kept in `t`.
 */
export function raw(
  t: Transcript,
  port: number,
  path: string,
  options: RawOptions = {},
): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const body = options.body;
    const done = (answer: RawAnswer) => {
      t.answer(answer);
      resolve(answer);
    };
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        agent: false,
        headers: {
          ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 30_000,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const bytes = Buffer.concat(chunks);
          done({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: bytes.toString(),
            bytes,
          });
        });
        res.on('error', (error) =>
          done({ status: 0, headers: {}, body: String(error), bytes: Buffer.alloc(0) }),
        );
      },
    );
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', (error) =>
      done({ status: 0, headers: {}, body: String(error), bytes: Buffer.alloc(0) }),
    );
    req.end(body);
  });
}

/** A REST call of the seed's contract. */
export function rest(
  t: Transcript,
  stack: Stack,
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string>,
  body?: unknown,
): Promise<RawAnswer & { json: any }> {
  return raw(t, stack.gateway.port, path, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  }).then((answer) => ({ ...answer, json: parseJson(answer.body) }));
}

/** Whether a body is the seed's error `{code, reason, message, metadata}` with this status and reason. */
export function isSeedError(json: any, status: number, reason: string): boolean {
  return (
    typeof json === 'object' &&
    json !== null &&
    Object.keys(json).sort().join() === 'code,message,metadata,reason' &&
    json.code === status &&
    json.reason === reason &&
    typeof json.message === 'string' &&
    typeof json.metadata === 'object' &&
    json.metadata !== null
  );
}

const restGot = (answer: { status: number; json: any }) =>
  `${answer.status}${typeof answer.json?.reason === 'string' ? ` ${answer.json.reason}` : ''}`;

/** Creates the emulator answered 200 to. */
const paidCreates = (stack: Stack) =>
  stack.emulator
    .requests()
    .filter((entry) => entry.method === 'POST' && entry.path.endsWith('/wan-t2v'))
    .filter((entry) => entry.status === 200).length;

// rest-unauthenticated -------------------------------------------------------------------------

/** Authorization values that must not pass the REST door. */
function refusedForms(alpha: string, beta: string, upstream: string) {
  const wrong = `wrong-key-${hex()}`;
  return {
    'no header': undefined,
    'an empty header': '',
    'Bearer alone': 'Bearer',
    'an empty bearer': 'Bearer ',
    'a wrong key': `Bearer ${wrong}`,
    'a wrong bare key': wrong,
    'a wrong key, lowercase bearer': `bearer ${wrong}`,
    'Basic with the key': `Basic ${alpha}`,
    'Basic with user:key': `Basic ${Buffer.from(`${alpha}:`).toString('base64')}`,
    'Token scheme': `Token ${alpha}`,
    'a key and a character': `Bearer ${alpha}x`,
    'a key less a character': `Bearer ${alpha.slice(0, -1)}`,
    'two keys': `Bearer ${alpha} ${beta}`,
    'two bare keys': `${alpha} ${beta}`,
    'a quoted key': `Bearer "${alpha}"`,
    'the upstream key': `Bearer ${upstream}`,
    'the upstream key bare': upstream,
  } satisfies Record<string, string | undefined>;
}

/**
 * Forms of a valid key the REST door takes, as documented: the bare key (as `novita-sdk` sends
 * it), and any case of the scheme and whitespace around the key (RFC 7235: the scheme is
 * case-insensitive; GraphQL's door reads them the same way).
 */
const acceptedForms = (alpha: string) => ({
  'Bearer key': `Bearer ${alpha}`,
  'the bare key': alpha,
  'lowercase bearer': `bearer ${alpha}`,
  BEARER: `BEARER ${alpha}`,
  'extra spaces': `Bearer    ${alpha}   `,
});

const withAuth = (value: string | undefined): Record<string, string> =>
  value === undefined ? {} : { authorization: value };

const restUnauthenticated: Attack = {
  id: 'rest-unauthenticated',
  title: 'The REST door without a valid key, and one client reading another’s task over REST',
  expected:
    "with client keys: every create and task-result read without a valid key (none, empty, wrong, near misses, Basic, Token, two keys, the upstream key, bare or with any scheme case) is 401 INVALID_API_KEY in the seed's shape {code, reason, message, metadata}; beta reading alpha's task is 404 TASK_NOT_FOUND, the same answer as for an id nobody has; alpha's Idempotency-Key makes beta a task of its own; refused calls make no row and no upstream create; no key (tried or real) is echoed in any answer or log line; the documented forms of a real key (Bearer, bare, any scheme case, extra spaces) work; no 5xx",
  fast: true,
  async run() {
    const alpha = `rest-alpha-${hex()}`;
    const beta = `rest-beta-${hex()}`;
    return withStack(
      { env: { GATEWAY_API_KEYS: `${alpha},${beta}`, LOG_LEVEL: 'debug' }, emulator: NOT_RENDERED },
      async (stack) => {
        const t = new Transcript();
        const made: string[] = [];
        const wrongs: string[] = [];
        // The control: a real key in each documented form creates, and reads its own task.
        const accepted: string[] = [];
        for (const [name, value] of Object.entries(acceptedForms(alpha))) {
          const created = await rest(t, stack, 'POST', CREATE_PATH, withAuth(value), wireBody());
          const id = created.json?.task_id;
          if (typeof id !== 'string') {
            wrongs.push(`${name} refused: ${restGot(created)}`);
            continue;
          }
          made.push(id);
          const read = await rest(t, stack, 'GET', `${RESULT_PATH}?task_id=${id}`, withAuth(value));
          if (read.status !== 200 || read.json?.task?.task_id !== id) {
            wrongs.push(`${name} could not read its task: ${restGot(read)}`);
          }
          accepted.push(name);
        }
        const alphaTask = made[0] ?? randomUUID();
        const rowsBefore = stack.rows().length;
        const createsBefore = paidCreates(stack);
        // Without a valid key: every form, both routes.
        const forms = refusedForms(alpha, beta, stack.upstreamKey);
        const refusals: string[] = [];
        for (const [name, value] of Object.entries(forms)) {
          const answers = [
            await rest(t, stack, 'POST', CREATE_PATH, withAuth(value), wireBody({ seed: 99 })),
            await rest(t, stack, 'GET', `${RESULT_PATH}?task_id=${alphaTask}`, withAuth(value)),
          ];
          for (const [route, answer] of answers.entries()) {
            const ok = answer.status === 401 && isSeedError(answer.json, 401, 'INVALID_API_KEY');
            refusals.push(restGot(answer));
            if (!ok) {
              wrongs.push(
                `${name} (${route === 0 ? 'create' : 'read'}): ${answer.status} ${answer.body.slice(0, 120)}`,
              );
            }
          }
        }
        const rowsMade = stack.rows().length - rowsBefore;
        const createsMade = paidCreates(stack) - createsBefore;
        // Beta reaches for alpha's task: as for an id nobody has.
        const nobody = randomUUID();
        const theirs = await rest(t, stack, 'GET', `${RESULT_PATH}?task_id=${alphaTask}`, {
          authorization: `Bearer ${beta}`,
        });
        const none = await rest(t, stack, 'GET', `${RESULT_PATH}?task_id=${nobody}`, {
          authorization: `Bearer ${beta}`,
        });
        const crossOk =
          isSeedError(theirs.json, 404, 'TASK_NOT_FOUND') &&
          theirs.body.replaceAll(alphaTask, '<id>') === none.body.replaceAll(nobody, '<id>');
        if (!crossOk) {
          wrongs.push(`beta read alpha's task: ${theirs.status} ${theirs.body.slice(0, 160)}`);
        }
        // Alpha's Idempotency-Key from beta: a task of beta's own.
        const key = `alpha-order-${hex()}`;
        const alphaKeyed = await rest(
          t,
          stack,
          'POST',
          CREATE_PATH,
          { authorization: `Bearer ${alpha}`, 'idempotency-key': key },
          wireBody({ seed: 41 }),
        );
        const betaKeyed = await rest(
          t,
          stack,
          'POST',
          CREATE_PATH,
          { authorization: `Bearer ${beta}`, 'idempotency-key': key },
          wireBody({ seed: 41 }),
        );
        const a = alphaKeyed.json?.task_id;
        const b = betaKeyed.json?.task_id;
        for (const id of [a, b]) if (typeof id === 'string') made.push(id);
        const ownTask = typeof a === 'string' && typeof b === 'string' && a !== b;
        if (!ownTask)
          wrongs.push(`alpha's key from beta: ${restGot(alphaKeyed)} / ${restGot(betaKeyed)}`);
        // The wrong keys tried are secrets too: none may be echoed.
        const tried = Object.values(forms).filter(
          (value): value is string => value !== undefined && value.length >= 8,
        );
        const leaks = leaksIn(
          [...t.texts, ...stack.output()],
          [...new Set([...stack.secrets, alpha, beta, ...tried])],
        );
        const books = await ledger(stack, made);
        const cases = Object.keys(forms).length * 2 + accepted.length + 4;
        return outcome(
          wrongs.length === 0 && rowsMade === 0 && createsMade === 0,
          `${Object.keys(forms).length} key forms refused on both routes: ${tally(refusals)}; made meanwhile ${rowsMade} rows, ${createsMade} upstream creates; beta reading alpha's task: ${restGot(theirs)}${crossOk ? ', as for an id nobody has' : ''}; alpha's Idempotency-Key from beta: ${ownTask ? 'a task of its own' : 'NOT a task of its own'}; accepted forms of a real key: ${accepted.join(', ')}${wrongs.length ? `; not as expected: ${wrongs.slice(0, 4).join('; ')}` : ''}`,
          { cases, http500: t.http500, leaks, ...books },
        );
      },
    );
  },
};

// rest-fuzz ------------------------------------------------------------------------------------

/** Values wrong for most fields. */
const hostile = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 2 ** 31, 2 ** 53, 1e308, '', ' ', '\u0000', '1e3', 'NaN', '10'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 2000, max: 20_000 }).map((length) => 'x'.repeat(length)),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  fc.jsonValue({ maxDepth: 6 }),
);

/** `arbitrary` one time in `n`, else undefined. */
const rarely = <T>(arbitrary: fc.Arbitrary<T>, n: number) =>
  fc.oneof({ weight: n - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

/** Mostly `valid`: with ten fields near their bounds, about one body in ten is valid in all. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 14, arbitrary: valid }, { weight: 1, arbitrary: invalid });

/**
 * Webhook URLs a fuzzed body may carry: valid ones point at loopback or private IP literals (the
 * SSRF guard refuses them, and no DNS is asked), the rest are not http(s) URLs at all.
 */
const GUARDED_URLS = [
  'http://127.0.0.1:9/hook',
  'http://10.0.0.1/hook',
  'http://[::1]/hook',
  'http://169.254.169.254/latest',
  'http://192.168.0.1/',
];
const webhookOption = fc.record(
  {
    url: fc.oneof(
      fc.constantFrom(...GUARDED_URLS),
      fc.constantFrom('file:///etc/passwd', 'ftp://10.0.0.1/', 'not a url', '', 'x'.repeat(2049)),
      hostile,
    ),
    test_mode: fc.oneof(
      fc.record({
        enabled: fc.boolean(),
        return_task_status: fc.constantFrom('TASK_STATUS_SUCCEED', 'TASK_STATUS_FAILED', 'NOPE'),
      }),
      hostile,
    ),
  },
  { requiredKeys: ['url'] },
);

const wireSize = fc.constantFrom(...VIDEO_SIZES.map(({ width, height }) => ({ width, height })));

/** Bodies near the valid set: fields at and past their bounds, dropped, replaced or added. */
const nearValidBody = fc
  .record({
    size: wireSize,
    model_name: mostly(fc.constant('wan2.1-t2v'), fc.constantFrom('wan2.1-T2V', '', 'wan2.2-t2v')),
    prompt: mostly(
      fc.string({ minLength: 1, maxLength: 60 }).filter((text) => text.trim().length > 0),
      fc.constantFrom(
        '',
        ' ',
        'x'.repeat(LIMITS.prompt.maxLength + 1),
        'x'.repeat(LIMITS.prompt.maxLength),
      ),
    ),
    seed: mostly(
      fc.oneof(
        fc.integer({ min: LIMITS.seed.min, max: 2 ** 31 - 1 }),
        fc.constantFrom(LIMITS.seed.max, 2 ** 31, 2 ** 32, -1),
      ),
      fc.constantFrom(-2, LIMITS.seed.max + 1, 0.5, '7'),
    ),
    steps: fc.option(
      mostly(
        fc.integer({ min: LIMITS.steps.min, max: LIMITS.steps.max }),
        fc.constantFrom(0, LIMITS.steps.max + 1, 2.5, '10'),
      ),
      { nil: undefined },
    ),
    guidance_scale: fc.option(
      mostly(
        fc.double({ min: LIMITS.guidanceScale.min, max: LIMITS.guidanceScale.max, noNaN: true }),
        fc.constantFrom(-0.001, LIMITS.guidanceScale.max + 0.001),
      ),
      { nil: undefined },
    ),
    flow_shift: fc.option(
      mostly(
        fc.double({ min: LIMITS.flowShift.min, max: LIMITS.flowShift.max, noNaN: true }),
        fc.constantFrom(0.999, LIMITS.flowShift.max + 0.001),
      ),
      { nil: undefined },
    ),
    negative_prompt: fc.option(
      mostly(
        fc.string({ maxLength: 40 }),
        fc.constant('n'.repeat(LIMITS.negativePrompt.maxLength + 1)),
      ),
      { nil: undefined },
    ),
    loras: fc.option(
      mostly(
        fc.array(
          fc.record({
            path: fc
              .string({ minLength: 1, maxLength: 30 })
              .filter((text) => text.trim().length > 0),
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
      { nil: undefined },
    ),
    extra: rarely(
      fc.oneof(
        { weight: 3, arbitrary: fc.record({ webhook: webhookOption }) },
        { weight: 1, arbitrary: fc.constantFrom({}, { other: 1 }) },
        { weight: 1, arbitrary: hostile },
      ),
      4,
    ),
    replace: rarely(
      fc.dictionary(
        fc.constantFrom(
          'prompt',
          'width',
          'height',
          'steps',
          'seed',
          'guidance_scale',
          'loras',
          'negative_prompt',
          'model_name',
          'flow_shift',
          'guidanceScale',
          'promt',
          '__proto__',
          'extra',
        ),
        hostile,
        { minKeys: 1, maxKeys: 2 },
      ),
      4,
    ),
    drop: rarely(
      fc.subarray(['prompt', 'width', 'height', 'seed', 'model_name'], { minLength: 1 }),
      6,
    ),
  })
  .map(({ size: { width, height }, replace, drop, ...rest }) => {
    const body: Record<string, unknown> = { width, height };
    for (const [key, value] of Object.entries(rest)) if (value !== undefined) body[key] = value;
    for (const key of drop ?? []) delete body[key];
    for (const [key, value] of Object.entries(replace ?? {})) {
      Object.defineProperty(body, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return JSON.stringify(body);
  });

/** Bodies that are not JSON, or JSON that is not an object. */
const junkBody = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '{',
    '{"prompt":',
    'null',
    '[]',
    '1',
    '"x"',
    '{"a":1}{',
    '{\u0000}',
    'NaN',
  ),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 8 }).map((value) => JSON.stringify(value) ?? 'null'),
  fc.integer({ min: 1000, max: 30_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
);

const anyBody = fc.oneof(
  { weight: 8, arbitrary: nearValidBody },
  { weight: 2, arbitrary: junkBody },
);

/** What core says of a body as the gateway reads it: not JSON, or valid, or not (and why). */
function coreVerdict(body: string): {
  json: boolean;
  object: boolean;
  valid: boolean;
  webhook: boolean;
} {
  // The gateway decodes the bytes as UTF-8: lone surrogates became U+FFFD on the way.
  const received = Buffer.from(body, 'utf8').toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(received);
  } catch {
    return { json: false, object: false, valid: false, webhook: false };
  }
  const parsed = safeParseCreateTaskRequest(value);
  return {
    json: true,
    object: typeof value === 'object' && value !== null && !Array.isArray(value),
    valid: parsed.success,
    webhook: parsed.success && parsed.data.extra?.webhook?.url !== undefined,
  };
}

/** Issues that each name their field (`field`, or a `path` as the webhook check writes it). */
function namedIssues(json: any, object: boolean): { named: boolean; fields: string[] } {
  const issues = json?.metadata?.issues;
  if (!Array.isArray(issues) || issues.length === 0) return { named: false, fields: [] };
  const fields = issues.map((issue: any) =>
    typeof issue?.field === 'string'
      ? issue.field
      : Array.isArray(issue?.path)
        ? `path:${issue.path.join('.')}`
        : '',
  );
  const named = issues.every(
    // A body that is not an object has no field to name: its one issue is about the whole.
    (issue: any, i: number) =>
      typeof issue?.message === 'string' &&
      typeof fields[i] === 'string' &&
      (!object || fields[i] !== ''),
  );
  return { named, fields };
}

const restFuzz: Attack = {
  id: 'rest-fuzz',
  title: 'Fuzzed REST create bodies (fast-check)',
  expected:
    "each answer is 200 {task_id} exactly when core's safeParseCreateTaskRequest finds the JSON valid (a valid one whose extra.webhook.url points at loopback or private addresses is refused by the SSRF guard), else 400 INVALID_REQUEST_BODY in the seed's shape, its metadata.issues each naming a field (a body that is not JSON: 400 saying so); nothing created for a 400; no 5xx",
  fast: true,
  async run(scale) {
    const cases = scale === 'full' ? 3000 : 300;
    return withStack(
      {
        env: { MUTATIONS_PER_MINUTE: '100000', MAX_IN_FLIGHT_TASKS: '10000' },
        emulator: { faults: { stallTasks: { progress: 10 } } },
      },
      async (stack) => {
        const t = new Transcript();
        const bodies = fc.sample(anyBody, { numRuns: cases, seed: 20261202 });
        let accepted = 0;
        let notJson = 0;
        let guarded = 0;
        const answered: string[] = [];
        const disagreements: string[] = [];
        const breaches: string[] = [];
        const fieldsSeen = new Map<string, number>();
        let next = 0;
        const worker = async () => {
          while (next < bodies.length) {
            const body = bodies[next++] as string;
            const verdict = coreVerdict(body);
            const answer = await rest(t, stack, 'POST', CREATE_PATH, {}, body);
            // Only the status and reason are kept for the table; the body goes to the leak scan.
            answered.push(restGot(answer));
            const id = answer.json?.task_id;
            if (answer.status === 200 && typeof id === 'string') {
              accepted += 1;
              if (Object.keys(answer.json).join() !== 'task_id') {
                breaches.push(`a 200 with more than task_id: ${answer.body.slice(0, 120)}`);
              }
              if (!verdict.valid || verdict.webhook) {
                disagreements.push(`accepted ${body.slice(0, 160)}`);
              }
              continue;
            }
            if (answer.status !== 400 || !isSeedError(answer.json, 400, 'INVALID_REQUEST_BODY')) {
              breaches.push(
                `${answer.status}: ${answer.body.slice(0, 160)} for ${body.slice(0, 80)}`,
              );
              continue;
            }
            if (!verdict.json) {
              notJson += 1;
              continue;
            }
            if (verdict.valid && !verdict.webhook) {
              disagreements.push(`refused ${body.slice(0, 160)}: ${answer.body.slice(0, 200)}`);
            }
            if (verdict.valid && verdict.webhook) guarded += 1;
            const { named, fields } = namedIssues(answer.json, verdict.object);
            for (const field of fields) {
              const head = field.split('.').slice(0, 3).join('.') || '(the body)';
              fieldsSeen.set(head, (fieldsSeen.get(head) ?? 0) + 1);
            }
            if (!named) breaches.push(`a 400 naming no field: ${answer.body.slice(0, 160)}`);
            if (verdict.webhook && !fields.some((field) => field.includes('webhook'))) {
              breaches.push(
                `a webhook refusal not naming the webhook: ${answer.body.slice(0, 160)}`,
              );
            }
          }
        };
        await Promise.all(Array.from({ length: 8 }, worker));
        const creates = stack.emulator
          .requests()
          .filter((entry) => entry.method === 'POST' && entry.path.endsWith('/wan-t2v')).length;
        const rows = stack.rows().length;
        const leaks = t.leaks(stack);
        const topFields = [...fieldsSeen]
          .sort((x, y) => y[1] - x[1])
          .slice(0, 6)
          .map(([field, n]) => `${field} ×${n}`)
          .join(', ');
        return outcome(
          disagreements.length === 0 &&
            breaches.length === 0 &&
            creates === accepted &&
            rows === accepted,
          `${cases} bodies: ${tally(answered)}; ${accepted} accepted made ${rows} rows and ${creates} upstream creates; ${notJson} not JSON, ${guarded} valid to core but refused by the SSRF guard; fields named most: ${topFields}; core and the gateway disagreed on ${disagreements.length}${disagreements[0] ? ` (e.g. ${disagreements.slice(0, 2).join('; ')})` : ''}; ${breaches.length} answers breaking the contract${breaches[0] ? ` (e.g. ${breaches.slice(0, 2).join('; ')})` : ''}`,
          {
            cases,
            http500: t.http500,
            leaks,
            doubleCreates: Math.max(0, creates - accepted),
            orphaned: Math.max(0, creates - rows),
          },
        );
      },
    );
  },
};

// rest-idempotency-race ------------------------------------------------------------------------

/** One key's race: which body won, and what every request got. */
interface Race {
  readonly key: string;
  readonly answers: { body: number; status: number; id?: string; reason?: string }[];
  readonly graphql: { id?: string; code?: string };
}

const GENERATE_KEYED =
  'mutation($input: GenerateVideoInput!, $key: String) { generateVideo(input: $input, idempotencyKey: $key) { id } }';

const restIdempotencyRace: Attack = {
  id: 'rest-idempotency-race',
  title: 'Concurrent REST creates on one Idempotency-Key, some with another body',
  expected:
    "for each key, all its POSTs sent at once (most with one body, some with another): exactly one task and one upstream create; every POST with the winning body answers 200 with that task, every other one 409 IDEMPOTENCY_CONFLICT in the seed's shape; a generateVideo with the same key and the winning input returns the same task; every task ends; no 5xx",
  fast: true,
  async run(scale) {
    const keys = scale === 'full' ? 20 : 5;
    const same = scale === 'full' ? 16 : 8;
    const other = scale === 'full' ? 4 : 2;
    return withStack(
      {
        env: { MUTATIONS_PER_MINUTE: '100000', MAX_IN_FLIGHT_TASKS: '10000' },
        emulator: NOT_RENDERED,
      },
      async (stack) => {
        const t = new Transcript();
        const races: Race[] = [];
        for (let k = 0; k < keys; k++) {
          const key = `race-${k}-${hex()}`;
          const bodies = [
            wireBody({ seed: 1000 + k }),
            wireBody({ seed: 1000 + k, prompt: 'another body' }),
          ];
          const plan = [...Array(same).fill(0), ...Array(other).fill(1)] as number[];
          // Interleaved so that neither body is reliably first on the wire.
          plan.sort(() => Math.random() - 0.5);
          const answers = await Promise.all(
            plan.map(async (body) => {
              const answer = await rest(
                t,
                stack,
                'POST',
                CREATE_PATH,
                { 'idempotency-key': key },
                bodies[body],
              );
              return {
                body,
                status: answer.status,
                id: answer.json?.task_id,
                reason: isSeedError(answer.json, answer.status, answer.json?.reason)
                  ? answer.json.reason
                  : answer.body.slice(0, 80),
              };
            }),
          );
          const winner = answers.find((answer) => answer.status === 200)?.body ?? 0;
          const input = {
            prompt: bodies[winner]?.prompt,
            width: 832,
            height: 480,
            seed: 1000 + k,
            steps: 10,
          };
          const graphql = await t.gql(stack.gateway.graphqlUrl, GENERATE_KEYED, { input, key });
          races.push({
            key,
            answers,
            graphql: {
              id: graphql.json?.data?.generateVideo?.id,
              code: graphql.json?.errors?.[0]?.extensions?.code,
            },
          });
        }
        const rows = stack.rows();
        const made = [...new Set(rows.map((row) => row.id))];
        const breaches: string[] = [];
        for (const race of races) {
          const won = race.answers.filter((answer) => answer.status === 200);
          const ids = new Set(won.map((answer) => answer.id));
          const winner = won[0]?.body;
          if (ids.size !== 1) breaches.push(`${race.key}: ${ids.size} tasks answered`);
          const wrong = race.answers.filter((answer) =>
            answer.body === winner
              ? answer.status !== 200
              : answer.status !== 409 || answer.reason !== 'IDEMPOTENCY_CONFLICT',
          );
          if (wrong.length) {
            breaches.push(
              `${race.key}: ${tally(wrong.map((answer) => `body ${answer.body}: ${answer.status} ${answer.reason}`))}`,
            );
          }
          if (race.graphql.id !== [...ids][0]) {
            breaches.push(
              `${race.key}: generateVideo with the same key and input got ${race.graphql.id ?? race.graphql.code}`,
            );
          }
        }
        const books = await ledger(stack, made);
        const creates = paidCreates(stack);
        if (rows.length !== keys || creates !== keys) {
          breaches.push(`${rows.length} rows and ${creates} upstream creates for ${keys} keys`);
        }
        const all = races.flatMap((race) => race.answers);
        const firstBodyWon = races.filter(
          (race) => race.answers.find((a) => a.status === 200)?.body === 0,
        ).length;
        return outcome(
          breaches.length === 0,
          `${keys} keys × ${same + other} concurrent POSTs (${same} with one body, ${other} with another): ${tally(all.map((answer) => `${answer.status}${answer.status === 200 ? '' : ` ${answer.reason}`}`))}; the majority body won ${firstBodyWon} of ${keys} races; ${rows.length} rows, ${creates} upstream creates; generateVideo with the same key and input: ${tally(races.map((race) => (race.graphql.id && race.answers.some((a) => a.id === race.graphql.id) ? 'the same task' : (race.graphql.code ?? 'another task'))))}${breaches.length ? `; not as expected: ${breaches.slice(0, 4).join('; ')}` : ''}`,
          { cases: all.length + races.length, http500: t.http500, leaks: t.leaks(stack), ...books },
        );
      },
    );
  },
};

// video-route-abuse ----------------------------------------------------------------------------

/** Text that is never in an mp4 of ours but is in the files a traversal would reach. */
const OUTSIDE_MARKERS = ['root:x:0:0', '"dependencies"', 'NOVITA_API_KEY', '[Interface]'];

/** Whether `bytes` is the video, or a slice of it (a Range answer). */
const sliceOf = (bytes: Buffer, video: Buffer) =>
  bytes.length === 0 || (bytes.length <= video.length && video.includes(bytes));

/** Odd paths (sent as written) that must not serve anything but a video of the task. */
function oddPaths(id: string): string[] {
  return [
    '/videos/../../etc/passwd',
    '/videos/../../../../../../etc/passwd',
    '/videos/%2e%2e/%2e%2e/etc/passwd',
    '/videos/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    `/videos/${id}/..%2f..%2f..%2fetc%2fpasswd`,
    `/videos/${id}/0.mp4/../../../../etc/passwd`,
    `/videos/${id}/../../package.json`,
    `/videos/${id}%2f..%2f..%2fpackage.json/0.mp4`,
    `/videos/${id}/0.mp4%00.txt`,
    `/videos/${id}/0.mp4/`,
    `/videos/${id}/0.MP4`,
    `/videos/${id.toUpperCase()}/0.mp4`,
    `//videos/${id}/0.mp4`,
    `/videos//${id}/0.mp4`,
    `/videos/${id}/99.mp4`,
    `/videos/${id}/-1.mp4`,
    `/videos/${id}/1.mp4`,
    `/videos/${id}/100.mp4`,
    `/videos/${id}/0x0.mp4`,
    `/videos/${id}/%30.mp4`,
    '/videos/not-a-uuid/0.mp4',
    `/videos/${'-'.repeat(36)}/0.mp4`,
    `/videos/${randomUUID()}/0.mp4`,
    `/videos/${id}`,
    '/videos/',
    '/videos',
    `/videos/${id}/0.mp4?download=../../../etc/passwd`,
    `/emulator/videos/${id}.mp4`,
    `/v3/async/../../etc/passwd`,
  ];
}

/** Range headers: what a player sends, and what no player sends. */
function ranges(): Record<string, string> {
  return {
    'the first 100 bytes': 'bytes=0-99',
    'the last byte': 'bytes=-1',
    'from byte 999999999': 'bytes=999999999-',
    'past the end': 'bytes=999999999-9999999999',
    reversed: 'bytes=50-10',
    'not bytes': 'items=0-10',
    junk: 'bytes=abc',
    'a negative start': 'bytes=-0',
    'a huge number': `bytes=0-${'9'.repeat(400)}`,
    '1000 ranges': `bytes=${Array.from({ length: 1000 }, (_, i) => `${i * 2}-${i * 2}`).join(',')}`,
    'overlapping ranges': 'bytes=0-50,10-60,0-',
    'an 8 KB header': `bytes=0-1${' '.repeat(8000)}`,
  };
}

/** Sockets that ask for the video and read nothing until told. */
async function slowReaders(port: number, path: string, count: number): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.pause();
            socket.write(
              `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
            );
            resolve(socket);
          });
          socket.once('error', reject);
        }),
    ),
  );
}

/** Reads a paused socket to its end: the body's length after the headers. */
function drain(socket: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('close', () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      resolve(end < 0 ? Buffer.alloc(0) : all.subarray(end + 4));
    });
    socket.resume();
  });
}

/** A finished task's id over REST, with its video, or why not. */
type Finished =
  | { readonly ok: true; readonly id: string; readonly path: string; readonly video: Buffer }
  | { readonly ok: false; readonly error: string };

async function finishedVideo(
  stack: Stack,
  t: Transcript,
  headers: Record<string, string>,
): Promise<Finished> {
  const created = await rest(t, stack, 'POST', CREATE_PATH, headers, wireBody({ seed: 4242 }));
  const id = created.json?.task_id as string | undefined;
  if (!id) return { ok: false, error: `the create answered ${restGot(created)}` };
  let link: string | undefined;
  await until(
    async () => {
      const read = await rest(t, stack, 'GET', `${RESULT_PATH}?task_id=${id}`, headers);
      link = read.json?.videos?.[0]?.video_url;
      return link !== undefined || read.json?.task?.status === 'TASK_STATUS_FAILED';
    },
    60_000,
    250,
  );
  if (!link) return { ok: false, error: `task ${id} did not succeed` };
  const path = new URL(link).pathname;
  const video = await raw(t, stack.gateway.port, path, headers);
  if (video.status !== 200) return { ok: false, error: `its video answered ${video.status}` };
  return { ok: true, id, path, video: video.bytes };
}

const videoRouteAbuse: Attack = {
  id: 'video-route-abuse',
  title: 'The video route with odd paths, ranges, methods, foreign ids and slow readers',
  expected:
    'traversal paths (raw and %2e-encoded), non-UUID ids, indexes 99/-1/100, unknown ids: 404 (or another 4xx), never a byte outside the video; Range headers (past the end, reversed, 1000 ranges, huge numbers, an 8 KB header) answer 206/416/200 with bytes of the video only; HEAD gives the headers and no body, POST/PUT/DELETE 405; another client (and no key) reading the link gets the video (links are capabilities, documented); 40 slow readers of the video: RSS grows < 64 MB, /healthz answers within 5 s, each reader then gets the whole video; no 5xx',
  fast: true,
  async run(scale) {
    const alpha = `video-alpha-${hex()}`;
    const beta = `video-beta-${hex()}`;
    const readers = scale === 'full' ? 40 : 10;
    return withStack({ env: { GATEWAY_API_KEYS: `${alpha},${beta}` } }, async (stack) => {
      const t = new Transcript();
      const port = stack.gateway.port;
      const got = await finishedVideo(stack, t, { authorization: `Bearer ${alpha}` });
      if (!got.ok)
        return outcome(false, `no video to attack: ${got.error}`, { http500: t.http500 });
      const { id, path, video } = got;
      const breaches: string[] = [];
      const outside: string[] = [];
      const look = (name: string, answer: RawAnswer, allowed: (status: number) => boolean) => {
        if (!allowed(answer.status)) breaches.push(`${name}: ${answer.status}`);
        if (answer.status >= 200 && answer.status < 300 && !sliceOf(answer.bytes, video)) {
          outside.push(`${name}: ${answer.status}, ${answer.bytes.length} bytes not of the video`);
        }
        if (OUTSIDE_MARKERS.some((marker) => answer.body.includes(marker))) {
          outside.push(`${name}: a file's contents`);
        }
        return `${answer.status}`;
      };
      // Odd paths: none may serve anything but this task's video 0.
      const pathAnswers: string[] = [];
      for (const odd of oddPaths(id)) {
        const answer = await raw(t, port, odd);
        const servesVideo = answer.status === 200 && answer.bytes.equals(video);
        // `/videos/<id>/0.mp4?download=…` is the video itself; any other odd path is refused.
        const isTheVideo = odd.startsWith(`${path}?`);
        pathAnswers.push(
          look(odd, answer, (status) =>
            isTheVideo ? status === 200 : status >= 400 && status < 500,
          ),
        );
        if (isTheVideo && !servesVideo) breaches.push(`${odd}: not the video`);
        if (
          isTheVideo &&
          !String(answer.headers['content-disposition']).includes(`wan-video-${id}-0.mp4"`)
        ) {
          breaches.push(`${odd}: content-disposition ${answer.headers['content-disposition']}`);
        }
      }
      // Ranges.
      const rangeAnswers: string[] = [];
      for (const [name, range] of Object.entries(ranges())) {
        const answer = await raw(t, port, path, { headers: { range } });
        rangeAnswers.push(
          look(`Range ${name}`, answer, (status) => [200, 206, 416, 400, 431].includes(status)),
        );
        if (
          name === 'the first 100 bytes' &&
          !(answer.status === 206 && answer.bytes.equals(video.subarray(0, 100)))
        ) {
          breaches.push(`Range ${name}: ${answer.status}, ${answer.bytes.length} bytes`);
        }
        if (name === 'from byte 999999999' && answer.status !== 416) {
          breaches.push(`Range ${name}: ${answer.status}`);
        }
      }
      // Methods.
      const head = await raw(t, port, path, { method: 'HEAD' });
      look('HEAD', head, (status) => status === 200);
      if (head.bytes.length !== 0 || Number(head.headers['content-length']) !== video.length) {
        breaches.push(
          `HEAD: ${head.bytes.length} body bytes, content-length ${head.headers['content-length']}`,
        );
      }
      const methods: string[] = [`HEAD ${head.status}`];
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const answer = await raw(t, port, path, { method, body: 'x' });
        methods.push(`${method} ${look(method, answer, (status) => status === 405)}`);
      }
      // Links are capabilities: another client, and no key at all, get the video.
      const foreign: string[] = [];
      for (const [name, headers] of Object.entries({
        beta: { authorization: `Bearer ${beta}` },
        'no key': {},
        'a wrong key': { authorization: 'Bearer nope-nope-nope' },
      })) {
        const answer = await raw(t, port, path, { headers });
        foreign.push(`${name} ${look(name, answer, (status) => status === 200)}`);
        if (!answer.bytes.equals(video)) breaches.push(`${name}: not the whole video`);
      }
      // Slow readers: the gateway must not buffer the video for each.
      const before = await settledRss(stack, 1000);
      const watch = watchResponsiveness(stack, [`${stack.gateway.url}/healthz`], t);
      const sockets = await slowReaders(port, path, readers);
      // Their answers are under way once the upstream has been asked for each (or the gateway
      // holds the bytes): wait for the emulator to have seen every video fetch, then for RSS to settle.
      const fetchesBefore = stack.emulator
        .requests()
        .filter((entry) => entry.path.includes('/videos/')).length;
      await until(
        () =>
          stack.emulator.requests().filter((entry) => entry.path.includes('/videos/')).length >=
          fetchesBefore + readers,
        10_000,
      );
      const peak = await settledRss(stack, 1500);
      const received = await Promise.all(sockets.map(drain));
      const watched = await watch.stop();
      const whole = received.filter((bytes) => bytes.equals(video)).length;
      const grew = Math.max(peak, watched.peakRss) - before;
      if (whole !== readers)
        breaches.push(`${readers - whole} slow readers did not get the whole video`);
      if (grew > 64 * 2 ** 20) breaches.push(`RSS grew ${mb(grew)} MB`);
      if (watched.worstMs > PROMPT_MS || watched.failures.length) {
        breaches.push(
          `/healthz worst ${Math.round(watched.worstMs)} ms, ${watched.failures.length} failed`,
        );
      }
      return outcome(
        breaches.length === 0 && outside.length === 0,
        `a ${Math.round(video.length / 1024)} KB video; ${pathAnswers.length} odd paths: ${tally(pathAnswers)}; ${rangeAnswers.length} Range headers: ${tally(rangeAnswers)}; ${methods.join(', ')}; the link read by ${foreign.join(', ')}; ${outside.length} answers with bytes from outside the video${outside[0] ? ` (${outside.slice(0, 3).join('; ')})` : ''}; ${readers} slow readers: RSS ${mb(before)} → ${mb(before + grew)} MB, /healthz worst ${Math.round(watched.worstMs)} ms over ${watched.samples} calls, ${whole}/${readers} got the whole video${breaches.length ? `; not as expected: ${breaches.slice(0, 4).join('; ')}` : ''}`,
        {
          cases:
            pathAnswers.length + rangeAnswers.length + methods.length + foreign.length + readers,
          http500: t.http500,
          leaks: t.leaks(stack),
          ...(await ledger(stack, [id])),
        },
      );
    });
  },
};

// embedded-emulator ----------------------------------------------------------------------------

/** A gateway started without NOVITA_API_KEY on a database of its own: the embedded emulator. */
interface Embedded {
  readonly dir: string;
  readonly databasePath: string;
  readonly journal: string;
  readonly port: number;
  gateway: ChildGateway;
  readonly output: string[];
}

async function startEmbedded(): Promise<Embedded> {
  const dir = await mkdtemp(join(tmpdir(), 'wan-video-reliability-embedded-'));
  const databasePath = join(dir, 'gateway.db');
  const port = await freePort();
  const gateway = await spawnGateway(port, embeddedEnv(databasePath), { healthyWithinMs: 60_000 });
  return {
    dir,
    databasePath,
    journal: `${databasePath}-emulator/tasks.jsonl`,
    port,
    gateway,
    output: [],
  };
}

const embeddedEnv = (databasePath: string) => ({
  NOVITA_API_KEY: '',
  DATABASE_PATH: databasePath,
  EMULATOR_TIME_SCALE: '20',
  LOG_LEVEL: 'info',
  MUTATIONS_PER_MINUTE: '10000',
  MAX_IN_FLIGHT_TASKS: '1000',
});

async function restartEmbedded(embedded: Embedded, signal: NodeJS.Signals) {
  const exit = await embedded.gateway.kill(signal);
  embedded.output.push(...embedded.gateway.stdout, ...embedded.gateway.stderr);
  embedded.gateway = await spawnGateway(embedded.port, embeddedEnv(embedded.databasePath), {
    healthyWithinMs: 60_000,
  });
  return exit;
}

/** The embedded emulator's tasks, as its journal holds them: id → lines. */
function journalled(file: string): Map<string, number> {
  const tasks = new Map<string, number>();
  if (!existsSync(file)) return tasks;
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    const task = parseJson(text);
    if (typeof task?.id === 'string') tasks.set(task.id, (tasks.get(task.id) ?? 0) + 1);
  }
  return tasks;
}

/** The mounted emulator's request log, read as a loopback client may. */
async function mountedRequests(t: Transcript, port: number): Promise<any[]> {
  const answer = await raw(t, port, '/emulator/__emulator/requests');
  return parseJson(answer.body)?.requests ?? [];
}

/** An address of this machine that is not loopback, if it has one. */
function outsideAddress(): string | undefined {
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? [])
      if (!entry.internal && entry.family === 'IPv4') return entry.address;
  }
  return undefined;
}

const GENERATE_PLAIN =
  'mutation($input: GenerateVideoInput!) { generateVideo(input: $input) { id } }';

/** Guessed keys of the mounted API. */
const guessedKeys = () => ({
  'no key': undefined,
  'an empty bearer': 'Bearer ',
  'a random key of the same shape': `Bearer ${randomBytes(24).toString('base64url')}`,
  anonymous: 'Bearer anonymous',
  'a bare random key': randomBytes(24).toString('base64url'),
  'a common test key': 'Bearer sk-test',
});

/** Kills the gateway while creates are in flight; each round, returns the tasks answered. */
async function killMidCreate(embedded: Embedded, t: Transcript, round: number) {
  const answered: string[] = [];
  let stop = false;
  let sent = 0;
  const create = async () => {
    while (!stop) {
      sent += 1;
      const answer = await t.gql(embedded.gateway.graphqlUrl, GENERATE_PLAIN, {
        input: {
          prompt: `round ${round}`,
          width: 832,
          height: 480,
          steps: 3 + (sent % 5),
          seed: round * 100 + sent,
        },
      });
      const id = answer.json?.data?.generateVideo?.id;
      if (typeof id === 'string') answered.push(id);
      if (answer.status === 0) return; // the process died mid-request
    }
  };
  const clients = Array.from({ length: 4 }, create);
  // Killed once some answers are in and more creates are on the wire.
  await until(() => answered.length >= 2 + (round % 3), 30_000, 10);
  const exit = await restartEmbedded(embedded, 'SIGKILL');
  stop = true;
  await Promise.all(clients);
  return { answered, exit };
}

const embeddedEmulator: Attack = {
  id: 'embedded-emulator',
  title:
    'The emulator mounted at /emulator (no NOVITA_API_KEY): guessed keys, a client not on loopback, SIGKILL mid-create',
  expected:
    "the mounted API refuses every guessed key 401 and creates nothing (its request log and journal show only the gateway's creates); its admin routes answer 403 to a client that is not loopback (X-Forwarded-For: 127.0.0.1 changes nothing) and 200 to one that is; traversal paths under /emulator serve no file; after each SIGKILL mid-create and a restart on the same database, every task the gateway answered ends final and is in the journal exactly once (one upstream task per gateway task); no 5xx",
  fast: true,
  async run(scale) {
    const rounds = scale === 'full' ? 8 : 1;
    const embedded = await startEmbedded();
    const t = new Transcript();
    try {
      const breaches: string[] = [];
      const port = embedded.port;
      // Guessed keys on the mounted API.
      const guessed = guessedKeys();
      const guesses: string[] = [];
      for (const [name, value] of Object.entries(guessed)) {
        const headers = value === undefined ? {} : { authorization: value };
        const create = await raw(t, port, `/emulator${CREATE_PATH}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(wireBody()),
        });
        const read = await raw(t, port, `/emulator${RESULT_PATH}?task_id=${randomUUID()}`, {
          headers,
        });
        guesses.push(`${create.status}`, `${read.status}`);
        if (create.status !== 401 || read.status !== 401) {
          breaches.push(`${name}: create ${create.status}, read ${read.status}`);
        }
      }
      const log = await mountedRequests(t, port);
      const guessedCreates = log.filter(
        (entry) => entry.method === 'POST' && entry.status === 200,
      ).length;
      const journalAfterGuesses = journalled(embedded.journal).size;
      if (guessedCreates > 0 || journalAfterGuesses > 0) {
        breaches.push(
          `guessed keys made ${guessedCreates} creates, ${journalAfterGuesses} journalled tasks`,
        );
      }
      // Traversal under the mount.
      const traversals: string[] = [];
      for (const odd of [
        '/emulator/../../etc/passwd',
        '/emulator/%2e%2e/%2e%2e/etc/passwd',
        '/emulator/videos/..%2f..%2f..%2fetc%2fpasswd.mp4',
        `/emulator/videos/${randomUUID()}.mp4`,
        `/emulator/videos/${randomUUID()}.mp4?expires=9999999999&signature=x`,
        '/emulator/__emulator/../../etc/passwd',
        '/emulator/tasks.jsonl',
        '/emulator/video-url-secret',
      ]) {
        const answer = await raw(t, port, odd);
        traversals.push(`${answer.status}`);
        if (answer.status < 400 || OUTSIDE_MARKERS.some((marker) => answer.body.includes(marker))) {
          breaches.push(`${odd}: ${answer.status} ${answer.body.slice(0, 80)}`);
        }
      }
      // Admin routes from an address that is not loopback.
      const outside = outsideAddress();
      let adminFigures: string;
      if (outside) {
        const asOutsider = (path: string, method = 'GET', headers: Record<string, string> = {}) =>
          raw(t, port, path, {
            method,
            localAddress: outside,
            headers: { 'content-type': 'application/json', ...headers },
            ...(method === 'POST'
              ? { body: JSON.stringify({ serverErrors: { count: 1000 } }) }
              : {}),
          });
        const answers = [
          await asOutsider('/emulator/__emulator/requests'),
          await asOutsider('/emulator/__emulator/faults'),
          await asOutsider('/emulator/__emulator/faults', 'POST'),
          await asOutsider('/emulator/__emulator/requests', 'DELETE'),
          await asOutsider('/emulator/__emulator/requests', 'GET', {
            'x-forwarded-for': '127.0.0.1',
          }),
        ];
        const local = await raw(t, port, '/emulator/__emulator/faults');
        adminFigures = `from ${outside}: ${tally(answers.map((answer) => `${answer.status}`))}; from 127.0.0.1: ${local.status}`;
        if (answers.some((answer) => answer.status !== 403) || local.status !== 200) {
          breaches.push(`admin routes ${adminFigures}`);
        }
        if (JSON.stringify(parseJson(local.body)?.faults ?? {}).includes('serverErrors')) {
          breaches.push('the outsider set faults');
        }
      } else {
        adminFigures = 'NOT TESTED: this machine has no address but loopback';
      }
      // SIGKILL mid-create, then the books.
      const answered: string[] = [];
      const exits: string[] = [];
      for (let round = 0; round < rounds; round++) {
        const result = await killMidCreate(embedded, t, round);
        answered.push(...result.answered);
        exits.push(result.exit.signal ?? String(result.exit.code));
      }
      const finalOf = () => {
        const byId = new Map(rowsAt(embedded.databasePath).map((row) => [row.id, row]));
        return answered.map((id) => byId.get(id)?.status ?? 'unstored');
      };
      await until(
        () => finalOf().every((status) => status === 'SUCCEEDED' || status === 'FAILED'),
        60_000,
        200,
      );
      const statuses = finalOf();
      const rows = rowsAt(embedded.databasePath);
      const journal = journalled(embedded.journal);
      const byUpstream = new Map<string, number>();
      for (const row of rows) {
        if (row.upstreamTaskId)
          byUpstream.set(row.upstreamTaskId, (byUpstream.get(row.upstreamTaskId) ?? 0) + 1);
      }
      const answeredRows = rows.filter((row) => answered.includes(row.id));
      const notJournalled = answeredRows.filter(
        (row) =>
          row.status === 'SUCCEEDED' && (!row.upstreamTaskId || !journal.has(row.upstreamTaskId)),
      ).length;
      const shared = [...byUpstream.values()].filter((n) => n > 1).length;
      const unrecorded = [...journal.keys()].filter((id) => !byUpstream.has(id)).length;
      const lost = statuses.filter(
        (status) => status !== 'SUCCEEDED' && status !== 'FAILED',
      ).length;
      if (notJournalled) breaches.push(`${notJournalled} answered tasks not in the journal`);
      if (statuses.some((status) => status !== 'SUCCEEDED'))
        breaches.push(`answered tasks ended ${tally(statuses)}`);
      const output = [...embedded.output, ...embedded.gateway.stdout, ...embedded.gateway.stderr];
      return outcome(
        breaches.length === 0,
        `${Object.keys(guessed).length} guessed keys on the mounted API: ${tally(guesses)}, ${guessedCreates} creates, ${journalAfterGuesses} journalled; ${traversals.length} paths under /emulator: ${tally(traversals)}; admin routes ${adminFigures}; ${rounds} SIGKILLs mid-create (${tally(exits)}): ${answered.length} answered tasks ended ${tally(statuses)}, the journal holds ${journal.size} tasks (${unrecorded} made by creates the gateway never recorded: caught by a kill, nothing paid), ${shared} upstream tasks recorded twice${breaches.length ? `; not as expected: ${breaches.slice(0, 4).join('; ')}` : ''}`,
        {
          cases: guesses.length + traversals.length + 6 + rounds,
          lost,
          doubleCreates: shared,
          http500: t.http500,
          // The guessed keys are not echoed (the gateway's own key for it is never shown).
          leaks: leaksIn(
            [...t.texts, ...output],
            Object.values(guessed).filter((key): key is string => (key?.length ?? 0) >= 12),
          ),
        },
      );
    } finally {
      await embedded.gateway.kill('SIGKILL');
      await rm(embedded.dir, { recursive: true, force: true });
    }
  },
};

export const DOORS_ATTACKS: readonly Attack[] = [
  restUnauthenticated,
  restFuzz,
  restIdempotencyRace,
  videoRouteAbuse,
  embeddedEmulator,
];
