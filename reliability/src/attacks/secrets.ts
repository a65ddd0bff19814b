/**
 * Attacks on the gateway's secrets: a gateway with client keys and a METRICS_TOKEN is driven
 * through successes and every kind of failure (wrong keys, the upstream key and the metrics
 * token offered as client keys, bad input and documents, upstream faults, refused creates, the
 * other routes), over HTTP, SSE and graphql-ws; then every answer (status, headers, body), every
 * WebSocket message and close reason, and every line the gateway wrote are searched for the
 * upstream key, the client keys and the metrics token, whole or cut short. Every stdout line
 * must be one JSON object.
 */
import { randomBytes } from 'node:crypto';
import { type Attack, ledger, outcome } from '../attack.js';
import { type Stack, withStack } from '../stack.js';
import {
  codeOf,
  endWithin,
  GENERATE,
  initSocket,
  openSocket,
  operate,
  parseJson,
  type SocketEnd,
  smallInput,
  Transcript,
  tally,
} from './resources.js';
import { bearer } from './tenancy.js';

const hex = () => randomBytes(12).toString('hex');

const TASK = 'query($id: ID!) { videoTask(id: $id) { id status failureReason videos { url } } }';
const WATCH =
  'subscription($id: ID!) { videoTask(id: $id) { id status progressPercent failureReason videos { url } } }';

/** One step of the drive: whether the gateway did what it should (else the drive missed). */
interface Step {
  readonly name: string;
  readonly ok: boolean;
  readonly got: string;
}

/** What the drive needs at hand. */
interface Drive {
  readonly stack: Stack;
  readonly t: Transcript;
  readonly steps: Step[];
  /** Tasks the clients were told of (created, or named by an error). */
  readonly tasks: string[];
  readonly keyA: string;
  readonly keyB: string;
  readonly metricsToken: string;
}

const step = (drive: Drive, name: string, ok: boolean, got: string) => {
  drive.steps.push({ name, ok, got });
};

/** A GraphQL POST with `key`'s Authorization (or `headers`); the task it names is kept. */
async function call(
  drive: Drive,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
) {
  const answer = await drive.t.gql(drive.stack.gateway.graphqlUrl, query, variables, headers);
  const named =
    answer.json?.data?.generateVideo?.id ?? answer.json?.errors?.[0]?.extensions?.taskId;
  if (typeof named === 'string' && !drive.tasks.includes(named)) drive.tasks.push(named);
  return answer;
}

/** Follows a task over graphql-ws to its end; its last status, or how the socket ended. */
async function watchOverWs(drive: Drive, id: string, key: string): Promise<string> {
  const socket = await openSocket(drive.stack.gateway.wsUrl, drive.t);
  if (!(await initSocket(socket, bearer(key)))) return describeEnd(await endWithin(socket));
  const messages = await operate(socket, 'watch', { query: WATCH, variables: { id } }, 90_000);
  socket.ws.close();
  const last = messages.filter((m) => m.type === 'next').at(-1);
  return last?.payload?.data?.videoTask?.status ?? codeOf(last?.payload) ?? 'nothing';
}

const describeEnd = (end: SocketEnd | undefined) =>
  end === undefined
    ? 'open, never acknowledged'
    : end.kind === 'closed'
      ? `closed ${end.code}`
      : end.kind === 'refused'
        ? `${end.status}`
        : 'failed';

/** An operation over SSE (yoga's `/graphql`, or graphql-sse's `/graphql/stream`) to its end. */
function overSse(drive: Drive, path: string, id: string, key: string) {
  return drive.t.http(`${drive.stack.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...bearer(key) },
    body: JSON.stringify({ query: WATCH, variables: { id } }),
    timeoutMs: 30_000,
  });
}

/** A task that succeeds, followed over graphql-ws, SSE and graphql-sse, read and listed. */
async function successes(drive: Drive): Promise<string | undefined> {
  const made = await call(
    drive,
    GENERATE,
    { input: smallInput({ seed: 501 }) },
    bearer(drive.keyA),
  );
  const id = made.json?.data?.generateVideo?.id as string | undefined;
  step(drive, 'a create', id !== undefined, `${made.status}`);
  if (!id) return undefined;
  const watched = await watchOverWs(drive, id, drive.keyA);
  step(drive, 'followed over graphql-ws', watched === 'SUCCEEDED', watched);
  for (const path of ['/graphql', '/graphql/stream']) {
    const streamed = await overSse(drive, path, id, drive.keyA);
    step(
      drive,
      `followed over SSE ${path}`,
      streamed.body.includes('SUCCEEDED'),
      `${streamed.status}`,
    );
  }
  const read = await call(drive, TASK, { id }, bearer(drive.keyA));
  step(drive, 'read', read.json?.data?.videoTask?.videos?.length > 0, `${read.status}`);
  const list = await call(
    drive,
    '{ videoTasks(first: 10) { edges { node { id } } } }',
    {},
    bearer(drive.keyA),
  );
  step(drive, 'listed', list.body.includes(id), `${list.status}`);
  const other = await call(drive, TASK, { id }, bearer(drive.keyB));
  step(
    drive,
    "the other client's read",
    codeOf(other.json) === 'NOT_FOUND',
    codeOf(other.json) ?? '',
  );
  return id;
}

/** Keys that are not keys: 401 UNAUTHENTICATED over HTTP, a 44xx close over graphql-ws. */
async function wrongKeys(drive: Drive, id: string) {
  const { keyA, keyB, metricsToken, stack } = drive;
  const refusals: Record<string, Record<string, string>> = {
    none: {},
    wrong: bearer(`not-a-key-${hex()}`),
    'the upstream key': bearer(stack.upstreamKey),
    'the metrics token': bearer(metricsToken),
    'a key and a character': bearer(`${keyA}x`),
    'a key less a character': bearer(keyA.slice(0, -1)),
    'the Basic scheme': { authorization: `Basic ${keyA}` },
    'two keys': { authorization: `Bearer ${keyA} ${keyB}` },
  };
  for (const [name, headers] of Object.entries(refusals)) {
    const answer = await call(drive, GENERATE, { input: smallInput() }, headers);
    const code = codeOf(answer.json);
    step(
      drive,
      `HTTP with ${name}`,
      answer.status === 401 && code === 'UNAUTHENTICATED',
      `${answer.status} ${code}`,
    );
  }
  for (const [name, key] of Object.entries({
    'the upstream key': stack.upstreamKey,
    'the metrics token': metricsToken,
    'a key and a character': `${keyA}x`,
  })) {
    const got = await watchOverWs(drive, id, key);
    step(drive, `graphql-ws with ${name}`, got === 'closed 4403', got);
  }
}

/** Bad input, bad documents, bad bodies. */
async function badRequests(drive: Drive) {
  const headers = bearer(drive.keyA);
  const expectCode = async (name: string, query: string, variables: object, code: string) => {
    const answer = await call(drive, query, { ...variables }, headers);
    step(drive, name, codeOf(answer.json) === code, `${answer.status} ${codeOf(answer.json)}`);
  };
  await expectCode(
    'bad input',
    GENERATE,
    { input: smallInput({ width: 1, steps: 99 }) },
    'BAD_USER_INPUT',
  );
  await expectCode('a syntax error', 'mutation { generateVideo(', {}, 'GRAPHQL_PARSE_FAILED');
  await expectCode('an unknown field', '{ nope }', {}, 'GRAPHQL_VALIDATION_FAILED');
  await expectCode('bad variables', GENERATE, { input: 'not an object' }, 'BAD_USER_INPUT');
  await expectCode(
    'too deep',
    `{ __type(name: "VideoTask") { fields { type { ${'ofType { '.repeat(6)}name${' }'.repeat(6)} } } } }`,
    {},
    'MAX_DEPTH_EXCEEDED',
  );
  const broken = await drive.t.http(drive.stack.gateway.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: '{"query": ',
  });
  step(drive, 'a broken JSON body', broken.status === 400, `${broken.status}`);
  const huge = await drive.t.http(drive.stack.gateway.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: `{ __typename } # ${'x'.repeat(70_000)}` }),
  });
  step(drive, 'an oversized body', huge.status === 413, `${huge.status}`);
}

/** Faults of the upstream, on creates and on reads. */
async function upstreamFaults(drive: Drive) {
  const { emulator } = drive.stack;
  const headers = bearer(drive.keyA);
  const onCreate = {
    'a 5xx': { serverErrors: { count: 1 } },
    'a 429': { rateLimit: { count: 1, retryAfterSeconds: 1 } },
    'a reset connection': { connectionReset: { count: 1 } },
  };
  for (const [name, fault] of Object.entries(onCreate)) {
    emulator.setFaults({ ...fault, routes: ['create'] });
    const answer = await call(drive, GENERATE, { input: smallInput({ seed: 510 }) }, headers);
    const got =
      answer.json?.data?.generateVideo?.status ?? codeOf(answer.json) ?? `${answer.status}`;
    step(drive, `the upstream answers a create with ${name}`, answer.status < 500, got);
  }
  emulator.setFaults({
    serverErrors: { count: 5 },
    malformedJson: { count: 2 },
    failTasks: { reason: 'the upstream says no' },
    routes: ['result'],
  });
  const failing = await call(drive, GENERATE, { input: smallInput({ seed: 511 }) }, headers);
  const id = failing.json?.data?.generateVideo?.id;
  const ended = id ? await watchOverWs(drive, id, drive.keyA) : 'not created';
  step(drive, 'a task whose reads fail, then fails upstream', ended === 'FAILED', ended);
  emulator.setFaults({});
}

/** Creates the gateway refuses: a reused idempotency key, too many creates. */
async function refusedCreates(drive: Drive, perMinute: number) {
  const key = `order-${hex()}`;
  const headers = bearer(drive.keyA);
  await call(drive, GENERATE, { input: smallInput({ seed: 520 }), idempotencyKey: key }, headers);
  const conflict = await call(
    drive,
    GENERATE,
    { input: smallInput({ seed: 521 }), idempotencyKey: key },
    headers,
  );
  step(
    drive,
    'a reused idempotency key',
    codeOf(conflict.json) === 'IDEMPOTENCY_CONFLICT',
    codeOf(conflict.json) ?? '',
  );
  // The other client creates until its rate is spent (its tasks fail upstream, unrendered).
  drive.stack.emulator.setFaults({ failTasks: { reason: 'not rendered' } });
  let refusal = '';
  for (let i = 0; i <= perMinute && !refusal; i++) {
    const answer = await call(
      drive,
      GENERATE,
      { input: smallInput({ seed: 530 + i }) },
      bearer(drive.keyB),
    );
    if (!answer.json?.data?.generateVideo) refusal = codeOf(answer.json) ?? `${answer.status}`;
  }
  drive.stack.emulator.setFaults({});
  step(drive, 'creates over the rate', refusal === 'RATE_LIMITED', refusal || 'none refused');
}

/** The other routes, with a client key (and /metrics without and with its token). */
async function otherRoutes(drive: Drive, id: string | undefined) {
  const { url, graphqlUrl } = drive.stack.gateway;
  const headers = bearer(drive.keyA);
  const gets: [string, string, Record<string, string>, number][] = [
    ['/healthz', `${url}/healthz`, headers, 200],
    ['/readyz', `${url}/readyz`, headers, 200],
    ['/metrics with a client key', `${url}/metrics`, headers, 401],
    ['/metrics with its token', `${url}/metrics`, bearer(drive.metricsToken), 200],
    ['/', `${url}/`, headers, 302],
    ['GraphiQL', graphqlUrl, { ...headers, accept: 'text/html' }, 200],
    ['/nowhere', `${url}/nowhere`, headers, 404],
  ];
  for (const [name, target, withHeaders, status] of gets) {
    const answer = await drive.t.http(target, { headers: withHeaders });
    step(drive, `GET ${name}`, answer.status === status, `${answer.status}`);
  }
  const hook = await drive.t.http(`${url}/webhooks/novita/${id ?? 'none'}?secret=not-the-secret`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  step(drive, 'a webhook call (webhooks off)', hook.status < 500, `${hook.status}`);
}

/** Each secret whole, and a 16-character piece of its end (a cut-off copy is a leak too). */
function needlesOf(secrets: readonly string[]): string[][] {
  return secrets.map((secret) => [secret, ...(secret.length >= 24 ? [secret.slice(-20, -4)] : [])]);
}

/** Texts holding a secret (whole or in part), each text counted once per secret. */
function findLeaks(texts: readonly string[], secrets: readonly string[]) {
  const found: string[] = [];
  for (const text of texts) {
    for (const needles of needlesOf(secrets)) {
      if (needles.some((needle) => text.includes(needle))) found.push(text.slice(0, 200));
    }
  }
  return found;
}

/** Lines that are not one JSON object each. */
const notJsonObjects = (lines: readonly string[]) =>
  lines.filter((line) => {
    const record = parseJson(line);
    return typeof record !== 'object' || record === null || Array.isArray(record);
  });

const secretsScan: Attack = {
  id: 'secrets-scan',
  title: 'Secrets in answers, messages, close reasons and logs, through successes and failures',
  expected:
    'the drive goes as the contract says (successes over HTTP, graphql-ws, SSE; 401/4403 for wrong keys; coded errors for bad input, upstream faults and refused creates); the upstream key, the client keys and the metrics token appear (whole or cut short) in no answer, header, message, close reason or log line; every stdout line is one JSON object; no 5xx',
  fast: true,
  async run() {
    const keyA = `secret-client-a-${hex()}`;
    const keyB = `secret-client-b-${hex()}`;
    const metricsToken = `metrics-token-${hex()}`;
    const perMinute = 10;
    const env = {
      GATEWAY_API_KEYS: `${keyA},${keyB}`,
      METRICS_TOKEN: metricsToken,
      LOG_LEVEL: 'debug',
      MUTATIONS_PER_MINUTE: String(perMinute),
    };
    return withStack({ env }, async (stack) => {
      const drive: Drive = {
        stack,
        t: new Transcript(),
        steps: [],
        tasks: [],
        keyA,
        keyB,
        metricsToken,
      };
      const id = await successes(drive);
      if (id) await wrongKeys(drive, id);
      await badRequests(drive);
      await upstreamFaults(drive);
      await refusedCreates(drive, perMinute);
      await otherRoutes(drive, id);
      const books = await ledger(stack, drive.tasks);
      const output = stack.output();
      const leaks = findLeaks([...drive.t.texts, ...output], stack.secrets);
      const notJson = notJsonObjects(stack.gateway.stdout);
      const missed = drive.steps.filter((s) => !s.ok);
      const ok = missed.length === 0 && notJson.length === 0;
      return outcome(
        ok,
        `${drive.steps.length - missed.length}/${drive.steps.length} steps as expected${missed.length ? ` (not: ${missed.map((s) => `${s.name} → ${s.got}`).join('; ')})` : ''} (${tally(drive.steps.map((s) => s.got))}); ${drive.t.texts.length} answers, messages and close reasons and ${output.length} log lines (${stack.gateway.stderr.length} on stderr${stack.gateway.stderr[0] ? `: ${stack.gateway.stderr[0].slice(0, 100)}` : ''}) searched for ${stack.secrets.length} secrets: ${leaks.length} found${leaks[0] ? ` (e.g. ${leaks[0]})` : ''}; ${notJson.length} stdout lines not one JSON object${notJson[0] ? ` (e.g. ${notJson[0].slice(0, 120)})` : ''}; ${drive.tasks.length} tasks`,
        { cases: drive.steps.length, http500: drive.t.http500, leaks: leaks.length, ...books },
      );
    });
  },
};

export const SECRETS_ATTACKS: readonly Attack[] = [secretsScan];
