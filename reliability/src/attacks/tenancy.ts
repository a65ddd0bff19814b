/**
 * Attacks on who may call and who sees what, with client keys configured: one client reaching
 * for another's task by every door (query by id over HTTP GET and POST, the list, a subscription
 * over graphql-ws, SSE and graphql-sse, the other's idempotency key), and callers without a
 * valid key over every transport, /metrics included.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { type Attack, ledger, outcome } from '../attack.js';
import { type Stack, withStack } from '../stack.js';
import {
  type Answer,
  codeOf,
  createTask,
  endWithin,
  GENERATE,
  type GqlSocket,
  initSocket,
  openSocket,
  operate,
  parseJson,
  smallInput,
  Transcript,
  tally,
} from './resources.js';

const hex = () => randomBytes(12).toString('hex');
export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

const TASK = 'query($id: ID!) { videoTask(id: $id) { id status input { prompt } } }';
const LIST = '{ videoTasks(first: 100) { edges { node { id input { prompt } } } } }';
const WATCH = 'subscription($id: ID!) { videoTask(id: $id) { id status input { prompt } } }';

/** Tasks fail upstream at once: nothing is rendered, every task ends. */
const NOT_RENDERED = { faults: { failTasks: { reason: 'not rendered in this attack' } } };

/** An operation over SSE (`/graphql`, or graphql-sse's `/graphql/stream`) to its end. */
function overSse(
  stack: Stack,
  transcript: Transcript,
  path: '/graphql' | '/graphql/stream',
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<Answer> {
  return transcript.http(`${stack.gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
    timeoutMs: 20_000,
  });
}

/** A GraphQL GET with the query and variables in the URL. */
function overGet(
  stack: Stack,
  transcript: Transcript,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<Answer> {
  const params = new URLSearchParams({ query, variables: JSON.stringify(variables) });
  return transcript.http(`${stack.gateway.graphqlUrl}?${params}`, {
    headers: { accept: 'application/json', ...headers },
  });
}

// cross-tenant ---------------------------------------------------------------------------------

/** Alpha's task: what beta must never see. */
interface Secret {
  readonly id: string;
  readonly prompt: string;
  readonly idempotencyKey: string;
}

/** One probe of beta's: its verdict and the ways it leaked (if any). */
interface Probe {
  readonly name: string;
  /** It was refused or answered as the contract says. */
  readonly ok: boolean;
  /** How it leaked alpha's task: its prompt, its id, or an answer unlike one for no task. */
  readonly leaks: string[];
  readonly got: string;
}

/** Where alpha's task shows through a text beta was given. */
function leaksOf(text: string, secret: Secret, checkPrompt: boolean, idExpected: boolean) {
  const found: string[] = [];
  if (checkPrompt && text.includes(secret.prompt)) found.push("alpha's prompt");
  if (!idExpected && text.includes(secret.id)) found.push("alpha's id");
  return found;
}

/**
 * Asks by alpha's id and by an id nobody has, the same way; the two answers must be the same
 * (the id aside): anything else tells beta that alpha's task exists, or what it holds.
 */
async function byIdProbe(
  name: string,
  secret: Secret,
  ask: (id: string) => Promise<string>,
  refused: (text: string) => boolean,
): Promise<Probe> {
  const theirs = await ask(secret.id);
  const unknown = randomUUID();
  const none = await ask(unknown);
  const leaks = leaksOf(theirs, secret, true, true);
  if (theirs.replaceAll(secret.id, '<id>') !== none.replaceAll(unknown, '<id>')) {
    leaks.push('an answer unlike the one for an id nobody has');
  }
  return { name, ok: refused(theirs), leaks, got: theirs.slice(0, 160) };
}

/** The messages of one operation on a socket, as comparable text. */
async function overSocket(socket: GqlSocket, id: string, query: string, variables: object) {
  const messages = await operate(socket, id, { query, variables: { ...variables } }, 20_000);
  return JSON.stringify(messages.map((m) => ({ type: m.type, payload: m.payload })));
}

const isNotFound = (text: string) =>
  text.includes('"NOT_FOUND"') && !text.includes('"status"') && !text.includes('"prompt"');

/** Beta reads alpha's task by id, every way there is. */
async function byIdProbes(
  stack: Stack,
  t: Transcript,
  secret: Secret,
  beta: Record<string, string>,
) {
  const socket = await openSocket(stack.gateway.wsUrl, t);
  const acked = await initSocket(socket, beta);
  let n = 0;
  const probes = [
    await byIdProbe(
      'videoTask over POST',
      secret,
      async (id) => (await t.gql(stack.gateway.graphqlUrl, TASK, { id }, beta)).body,
      isNotFound,
    ),
    await byIdProbe(
      'videoTask over GET',
      secret,
      async (id) => (await overGet(stack, t, TASK, { id }, beta)).body,
      isNotFound,
    ),
    await byIdProbe(
      'videoTask over graphql-ws',
      secret,
      (id) => overSocket(socket, `q${n++}`, TASK, { id }),
      (text) => acked && isNotFound(text),
    ),
    await byIdProbe(
      'subscription over graphql-ws',
      secret,
      (id) => overSocket(socket, `s${n++}`, WATCH, { id }),
      (text) => acked && isNotFound(text),
    ),
    await byIdProbe(
      'subscription over SSE',
      secret,
      async (id) => (await overSse(stack, t, '/graphql', WATCH, { id }, beta)).body,
      isNotFound,
    ),
    await byIdProbe(
      'subscription over graphql-sse',
      secret,
      async (id) => (await overSse(stack, t, '/graphql/stream', WATCH, { id }, beta)).body,
      isNotFound,
    ),
  ];
  socket.ws.close();
  return probes;
}

/** Beta lists its tasks: alpha's is not among them. */
async function listProbe(
  stack: Stack,
  t: Transcript,
  secret: Secret,
  beta: Record<string, string>,
  name: string,
  checkPrompt: boolean,
): Promise<Probe> {
  const answer = await t.gql(stack.gateway.graphqlUrl, LIST, {}, beta);
  const listed = answer.json?.data?.videoTasks?.edges;
  return {
    name,
    ok: answer.status === 200 && Array.isArray(listed),
    leaks: leaksOf(answer.body, secret, checkPrompt, false),
    got: `${Array.isArray(listed) ? listed.length : 'no'} tasks listed`,
  };
}

/**
 * Beta, then gamma (a key that never made anything, so its answer cannot be about a task of its
 * own), create with alpha's idempotency key: each gets a task of its own, never alpha's, never
 * a conflict naming alpha's task.
 */
async function idempotencyProbes(
  stack: Stack,
  t: Transcript,
  secret: Secret,
  input: Record<string, unknown>,
  others: { beta: Record<string, string>; gamma: Record<string, string> },
): Promise<{ probes: Probe[]; made: string[] }> {
  const made: string[] = [];
  const probes: Probe[] = [];
  const cases: [string, Record<string, unknown>, Record<string, string>, boolean][] = [
    // The same input: beta's own task holds the same prompt, so only the id tells.
    ["beta with alpha's idempotency key and input", input, others.beta, false],
    [
      "gamma with alpha's idempotency key, another input",
      { ...input, prompt: 'gamma, on its own' },
      others.gamma,
      true,
    ],
  ];
  for (const [name, theInput, headers, checkPrompt] of cases) {
    const answer = await t.gql(
      stack.gateway.graphqlUrl,
      GENERATE,
      { input: theInput, idempotencyKey: secret.idempotencyKey },
      headers,
    );
    const id = answer.json?.data?.generateVideo?.id as string | undefined;
    if (id) made.push(id);
    probes.push({
      name,
      ok: id !== undefined && id !== secret.id,
      leaks: leaksOf(answer.body, secret, checkPrompt, false),
      got: id
        ? id === secret.id
          ? "alpha's task"
          : 'a task of its own'
        : `${answer.status} ${codeOf(answer.json) ?? ''}`,
    });
  }
  return { probes, made };
}

/** Alpha sees its own task by id, in its list and over a subscription (the control). */
async function alphaSeesIt(
  stack: Stack,
  t: Transcript,
  secret: Secret,
  alpha: Record<string, string>,
) {
  const byId = await t.gql(stack.gateway.graphqlUrl, TASK, { id: secret.id }, alpha);
  const list = await t.gql(stack.gateway.graphqlUrl, LIST, {}, alpha);
  const socket = await openSocket(stack.gateway.wsUrl, t);
  const watched = (await initSocket(socket, alpha))
    ? await overSocket(socket, 'w', WATCH, { id: secret.id })
    : '';
  socket.ws.close();
  return (
    byId.json?.data?.videoTask?.input?.prompt === secret.prompt &&
    list.body.includes(secret.id) &&
    watched.includes(secret.prompt)
  );
}

const crossTenant: Attack = {
  id: 'cross-tenant',
  title: "One client reaching for another's task",
  expected:
    "with three client keys, beta gets NOT_FOUND for alpha's task by id (POST, GET, graphql-ws query and subscription, SSE, graphql-sse), each answer the same as for an id nobody has; alpha's task is not in beta's list; alpha's idempotency key makes beta (same input) and gamma (another input) tasks of their own, never alpha's or a conflict; no answer to them holds alpha's prompt or id (each one a leak); alpha sees its task; no 5xx",
  fast: true,
  async run() {
    const keys = [
      `tenant-alpha-${hex()}`,
      `tenant-beta-${hex()}`,
      `tenant-gamma-${hex()}`,
    ] as const;
    const alpha = bearer(keys[0]);
    const beta = bearer(keys[1]);
    const gamma = bearer(keys[2]);
    return withStack(
      { env: { GATEWAY_API_KEYS: keys.join(',') }, emulator: NOT_RENDERED },
      async (stack) => {
        const t = new Transcript();
        const prompt = `alpha's private prompt ${hex()}`;
        const input = smallInput({ prompt, seed: 401 });
        const idempotencyKey = `alpha-order-${hex()}`;
        const id = await createTask(stack, t, input, alpha, idempotencyKey);
        if (!id) return outcome(false, `alpha could not create its task: ${t.texts.at(-1)}`, {});
        const secret: Secret = { id, prompt, idempotencyKey };
        const before = await listProbe(stack, t, secret, beta, "beta's list", true);
        const byId = await byIdProbes(stack, t, secret, beta);
        const reuse = await idempotencyProbes(stack, t, secret, input, { beta, gamma });
        const after = await listProbe(stack, t, secret, beta, "beta's list, after", false);
        const probes = [before, ...byId, ...reuse.probes, after];
        const control = await alphaSeesIt(stack, t, secret, alpha);
        const books = await ledger(stack, [id, ...reuse.made]);
        const wrong = probes.filter((probe) => !probe.ok);
        const leaky = probes.filter((probe) => probe.leaks.length > 0);
        const tenantLeaks = leaky.reduce((sum, probe) => sum + probe.leaks.length, 0);
        return outcome(
          wrong.length === 0 && control,
          `${probes.length} probes by the others: ${probes.length - wrong.length} refused or answered as the contract says${wrong.length ? ` (not: ${wrong.map((p) => `${p.name}: ${p.got}`).join('; ')})` : ''}, ${leaky.length} leaked${leaky.length ? ` (${leaky.map((p) => `${p.name}: ${p.leaks.join(', ')}`).join('; ')})` : ''}; by id: ${tally(byId.map((p) => (p.ok ? 'NOT_FOUND as for no task' : p.got)))}; idempotency key reused: ${reuse.probes.map((p) => p.got).join(', ')}; alpha ${control ? 'sees' : 'does NOT see'} its task`,
          {
            cases: probes.length,
            http500: t.http500,
            leaks: tenantLeaks + t.leaks(stack),
            ...books,
          },
        );
      },
    );
  },
};

// unauthenticated ------------------------------------------------------------------------------

/** Authorization values that must not pass, by name. */
function badCredentials(stack: Stack, keys: readonly string[], metricsToken: string) {
  const [keyA = '', keyB = ''] = keys;
  return {
    'no key': undefined,
    'a wrong key': `Bearer wrong-key-${hex()}`,
    'an empty bearer': 'Bearer ',
    'a key without Bearer': keyA,
    'Basic scheme': `Basic ${keyA}`,
    'a key and a character': `Bearer ${keyA}x`,
    'a key less a character': `Bearer ${keyA.slice(0, -1)}`,
    'two keys': `Bearer ${keyA} ${keyB}`,
    'the upstream key': `Bearer ${stack.upstreamKey}`,
    'the metrics token': `Bearer ${metricsToken}`,
  } satisfies Record<string, string | undefined>;
}

/** `{ authorization }`, or nothing. */
const withAuth = (value: string | undefined): Record<string, string> =>
  value === undefined ? {} : { authorization: value };

/** HTTP refusals: 401 with UNAUTHENTICATED and no data; what each transport answered. */
async function httpRefusals(stack: Stack, t: Transcript, authorization: string | undefined) {
  const headers = withAuth(authorization);
  const watch = { id: randomUUID() };
  const answers: Record<string, Answer> = {
    query: await t.gql(stack.gateway.graphqlUrl, '{ gateway { authRequired } }', {}, headers),
    mutation: await t.gql(stack.gateway.graphqlUrl, GENERATE, { input: smallInput() }, headers),
    get: await overGet(stack, t, '{ gateway { authRequired } }', {}, headers),
    sse: await overSse(stack, t, '/graphql', WATCH, watch, headers),
    'graphql-sse': await overSse(stack, t, '/graphql/stream', WATCH, watch, headers),
    'graphql-sse reservation': await t.http(`${stack.gateway.url}/graphql/stream`, {
      method: 'PUT',
      headers,
    }),
  };
  return Object.entries(answers).map(([transport, answer]) => {
    const body = answer.body;
    const refused =
      answer.status === 401 &&
      body.includes('"UNAUTHENTICATED"') &&
      !body.includes('"data"') &&
      !body.includes('authRequired');
    return { transport, refused, got: `${answer.status}` };
  });
}

/** Over graphql-ws: init with the value, then a create at once; the socket must close, 44xx. */
async function wsRefusal(stack: Stack, t: Transcript, authorization: string | undefined) {
  const socket = await openSocket(stack.gateway.wsUrl, t);
  socket.send({
    type: 'connection_init',
    ...(authorization === undefined ? {} : { payload: { authorization } }),
  });
  socket.send({
    id: '1',
    type: 'subscribe',
    payload: { query: GENERATE, variables: { input: smallInput() } },
  });
  const end = await endWithin(socket);
  const code = end?.kind === 'closed' ? end.code : undefined;
  const answered = socket.messages.some((m) => m.type === 'next' || m.type === 'connection_ack');
  return {
    transport: 'graphql-ws',
    refused: (code === 4403 || code === 4401) && !answered,
    got: code === undefined ? (end?.kind ?? 'still open') : `closed ${code}`,
  };
}

/** Sockets that skip or twist the handshake. */
async function wsHandshakeTricks(stack: Stack, t: Transcript, key: string) {
  const tricks: [string, (socket: GqlSocket) => void][] = [
    ['subscribe before connection_init', () => {}],
    [
      'a key that is not a string',
      (s) => s.send({ type: 'connection_init', payload: { authorization: 12345678 } }),
    ],
    [
      'the key under another name',
      (s) => s.send({ type: 'connection_init', payload: { token: key } }),
    ],
  ];
  const results = [];
  for (const [name, handshake] of tricks) {
    const socket = await openSocket(stack.gateway.wsUrl, t);
    handshake(socket);
    socket.send({
      id: '1',
      type: 'subscribe',
      payload: { query: GENERATE, variables: { input: smallInput() } },
    });
    const end = await endWithin(socket);
    const code = end?.kind === 'closed' ? end.code : undefined;
    const answered = socket.messages.some((m) => m.type === 'next' || m.type === 'connection_ack');
    results.push({
      name,
      refused: code !== undefined && code >= 4400 && code < 4500 && !answered,
      got: code === undefined ? (end?.kind ?? 'still open') : `closed ${code}`,
    });
  }
  return results;
}

/** /metrics with each value: all 401 but the token's (200, the control). */
async function metricsDoor(stack: Stack, t: Transcript, keys: readonly string[], token: string) {
  const metrics = `${stack.gateway.url}/metrics`;
  const refused: Record<string, string | undefined> = {
    'no token': undefined,
    'a wrong token': `Bearer wrong-token-${hex()}`,
    'the token without Bearer': token,
    'a client key': `Bearer ${keys[0]}`,
    'the upstream key': `Bearer ${stack.upstreamKey}`,
  };
  const wrong: string[] = [];
  for (const [name, value] of Object.entries(refused)) {
    const answer = await t.http(metrics, { headers: withAuth(value) });
    if (answer.status !== 401 || codeOf(parseJson(answer.body)) !== 'UNAUTHENTICATED') {
      wrong.push(`${name}: ${answer.status}`);
    }
  }
  const ok = await t.http(metrics, { headers: { authorization: `Bearer ${token}` } });
  return {
    tried: Object.keys(refused).length,
    wrong,
    tokenWorks: ok.status === 200 && ok.body.includes('wan_'),
  };
}

/** With a real key: HTTP, graphql-ws and a create work (the control). */
async function keyWorks(stack: Stack, t: Transcript, key: string) {
  const query = await t.gql(
    stack.gateway.graphqlUrl,
    '{ gateway { authRequired } }',
    {},
    bearer(key),
  );
  const socket = await openSocket(stack.gateway.wsUrl, t);
  const acked = await initSocket(socket, bearer(key));
  socket.ws.close();
  const id = await createTask(stack, t, smallInput({ seed: 402 }), bearer(key));
  return {
    ok: query.json?.data?.gateway?.authRequired === true && acked && id !== undefined,
    id,
  };
}

const unauthenticated: Attack = {
  id: 'unauthenticated',
  title: 'Callers without a valid key, over every transport',
  expected:
    'with client keys and METRICS_TOKEN: no key, wrong keys (near misses, the upstream key, the metrics token, other schemes) are refused over HTTP POST and GET, SSE, graphql-sse (operation and reservation) with 401 UNAUTHENTICATED and no data, over graphql-ws with a 4401/4403 close and no ack; /metrics without the token is 401; nothing is created; a real key works; no 5xx',
  fast: true,
  async run() {
    const keys = [`client-one-${hex()}`, `client-two-${hex()}`];
    const metricsToken = `metrics-${hex()}`;
    return withStack(
      {
        env: { GATEWAY_API_KEYS: keys.join(','), METRICS_TOKEN: metricsToken },
        emulator: NOT_RENDERED,
      },
      async (stack) => {
        const t = new Transcript();
        const results: { name: string; refused: boolean; got: string }[] = [];
        for (const [name, value] of Object.entries(badCredentials(stack, keys, metricsToken))) {
          for (const r of [
            ...(await httpRefusals(stack, t, value)),
            await wsRefusal(stack, t, value),
          ]) {
            results.push({ name: `${name} over ${r.transport}`, refused: r.refused, got: r.got });
          }
        }
        results.push(...(await wsHandshakeTricks(stack, t, keys[0] ?? '')));
        const metrics = await metricsDoor(stack, t, keys, metricsToken);
        const made = {
          rows: stack.rows().length,
          creates: stack.emulator.requests().filter((e) => e.method === 'POST').length,
        };
        const control = await keyWorks(stack, t, keys[1] ?? '');
        const books = await ledger(stack, control.id ? [control.id] : []);
        const admitted = results.filter((r) => !r.refused);
        const ok =
          admitted.length === 0 &&
          metrics.wrong.length === 0 &&
          metrics.tokenWorks &&
          made.rows === 0 &&
          made.creates === 0 &&
          control.ok;
        return outcome(
          ok,
          `${results.length - admitted.length}/${results.length} calls without a valid key refused (${tally(results.map((r) => r.got))})${admitted.length ? `; NOT refused: ${admitted.map((r) => `${r.name} → ${r.got}`).join('; ')}` : ''}; /metrics refused ${metrics.tried - metrics.wrong.length}/${metrics.tried} without the token${metrics.wrong.length ? ` (not: ${metrics.wrong.join(', ')})` : ''}, ${metrics.tokenWorks ? 'served' : 'NOT served'} with it; made meanwhile: ${made.rows} rows, ${made.creates} upstream creates; a real key ${control.ok ? 'works' : 'does NOT work'} (HTTP, graphql-ws, a create)`,
          {
            cases: results.length + metrics.tried,
            http500: t.http500,
            leaks: t.leaks(stack),
            ...books,
          },
        );
      },
    );
  },
};

export const TENANCY_ATTACKS: readonly Attack[] = [crossTenant, unauthenticated];
