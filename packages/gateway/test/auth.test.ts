/** Client API keys: who may call at all, and that one client never sees another's tasks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ALPHA_KEY,
  BETA_KEY,
  bearer,
  GATEWAY_API_KEYS,
  nextClose,
  sseOnce,
} from './support/b-helpers.js';
import {
  creates,
  GENERATE,
  QUERY_TASK,
  type Stack,
  smallInput,
  startStack,
  WATCH,
  watch,
} from './support/stack.js';

const alpha = bearer(ALPHA_KEY);
const beta = bearer(BETA_KEY);
const LIST = /* GraphQL */ `query { videoTasks(first: 100) { edges { node { id } } } }`;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { GATEWAY_API_KEYS } });
});
afterAll(() => stack?.stop());

describe('over HTTP', () => {
  const refused: [string, Record<string, string>][] = [
    ['no Authorization header', {}],
    ['a wrong key', bearer('key-gamma-000000')],
    ['a key without the Bearer scheme', { authorization: ALPHA_KEY }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ];

  it.each(refused)('%s: 401 with UNAUTHENTICATED and no data', async (_name, headers) => {
    const { status, body } = await stack.gql('query { gateway { authRequired } }', {}, headers);
    expect(status).toBe(401);
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('a mutation without a key is refused before anything is sent upstream', async () => {
    const before = creates(await stack.upstream()).length;
    const { status, body } = await stack.gql(GENERATE, { input: smallInput() });
    expect(status).toBe(401);
    expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(creates(await stack.upstream()).length).toBe(before);
  });

  it('a subscription over SSE without a key is refused with 401', async () => {
    const answer = await sseOnce(stack.gateway.graphqlUrl, WATCH, { id: UNKNOWN_ID });
    expect(answer.status).toBe(401);
    expect(answer.messages.some((message) => message.data)).toBe(false);
  });

  it.each([
    ['alpha', alpha],
    ['beta', beta],
  ])('%s key is accepted', async (_name, headers) => {
    const { status, body } = await stack.gql('query { gateway { authRequired } }', {}, headers);
    expect(status).toBe(200);
    expect(body).toEqual({ data: { gateway: { authRequired: true } } });
  });
});

describe('over graphql-ws', () => {
  const refused: [string, Record<string, unknown> | undefined][] = [
    ['no connectionParams', undefined],
    ['connectionParams without authorization', { token: ALPHA_KEY }],
    ['a wrong key', bearer('key-gamma-000000')],
    ['a key that is not a string', { authorization: 12345678 }],
  ];

  it.each(refused)('%s: the connection is closed with 4403', async (_name, params) => {
    const client = stack.ws(params);
    const closed = nextClose(client);
    const sub = watch(client, UNKNOWN_ID);
    await sub.done;
    expect(sub.events).toEqual([]);
    expect(sub.errors).toHaveLength(1);
    expect(sub.errors[0]).toMatchObject({ code: 4403 });
    expect(await closed).toBe(4403);
  });

  it("alpha's key opens a connection", async () => {
    const client = stack.ws(alpha);
    const result = await new Promise<any>((resolve, reject) => {
      client.subscribe(
        { query: 'query { gateway { authRequired } }' },
        { next: resolve, error: reject, complete: () => {} },
      );
    });
    expect(result).toEqual({ data: { gateway: { authRequired: true } } });
  });
});

describe("one client cannot see another's task", () => {
  let taskId: string;
  beforeAll(async () => {
    const { body } = await stack.gql(GENERATE, { input: smallInput({ seed: 101 }) }, alpha);
    expect(body.errors).toBeUndefined();
    taskId = body.data.generateVideo.id;
  });

  it('alpha reads it by query', async () => {
    const { body } = await stack.gql(QUERY_TASK, { id: taskId }, alpha);
    expect(body.errors).toBeUndefined();
    expect(body.data.videoTask.id).toBe(taskId);
  });

  it('beta reading it by query gets NOT_FOUND, exactly as for an id that does not exist', async () => {
    const theirs = await stack.gql(QUERY_TASK, { id: taskId }, beta);
    expect(theirs.body.errors).toHaveLength(1);
    expect(theirs.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(theirs.body.data?.videoTask ?? null).toBeNull();
    expect(JSON.stringify(theirs.body)).not.toMatch(/"status"|"progressPercent"|"videos"/);
    const none = await stack.gql(QUERY_TASK, { id: UNKNOWN_ID }, beta);
    expect(theirs.body.errors?.[0]?.extensions?.code).toBe(none.body.errors?.[0]?.extensions?.code);
  });

  it('beta subscribing over graphql-ws gets NOT_FOUND, never the task', async () => {
    const client = stack.ws(beta);
    const closes: number[] = [];
    client.on('closed', (event) => closes.push((event as { code: number }).code));
    const sub = watch(client, taskId);
    await sub.done;
    expect(sub.events.filter(Boolean)).toEqual([]);
    // graphql-ws hands the operation's errors to the sink as one array.
    expect(sub.errors.flat()).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'NOT_FOUND' }) }),
    ]);
    // The refusal is about one operation: the connection stays usable.
    expect(closes).toEqual([]);
  });

  it('beta subscribing over SSE gets NOT_FOUND, never the task', async () => {
    const answer = await sseOnce(stack.gateway.graphqlUrl, WATCH, { id: taskId }, beta);
    expect(answer.status).toBe(200);
    expect(answer.messages.length).toBeGreaterThan(0);
    expect(answer.messages.map((message) => message.data?.videoTask ?? null)).not.toContainEqual(
      expect.objectContaining({ id: taskId }),
    );
    expect(answer.messages.flatMap((message) => message.errors ?? [])).toContainEqual(
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'NOT_FOUND' }) }),
    );
  });

  it("beta's videoTasks does not list it; alpha's does", async () => {
    const ids = (body: any) => body.data.videoTasks.edges.map((edge: any) => edge.node.id);
    const theirs = await stack.gql(LIST, {}, beta);
    expect(theirs.body.errors).toBeUndefined();
    expect(ids(theirs.body)).not.toContain(taskId);
    const own = await stack.gql(LIST, {}, alpha);
    expect(ids(own.body)).toContain(taskId);
  });

  it('alpha follows it to SUCCEEDED over graphql-ws', async () => {
    const sub = watch(stack.ws(alpha), taskId);
    await sub.done;
    expect(sub.errors).toEqual([]);
    expect(sub.events.at(-1)).toMatchObject({ id: taskId, status: 'SUCCEEDED' });
  });
});

describe('without client keys', () => {
  it.each(['0.0.0.0', '::'])(
    'HOST=%s: binds to loopback only, and says so in a warning',
    async (host) => {
      const open = await startStack({ env: { HOST: host } });
      try {
        expect(open.gateway.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
        const warnings = open.logs
          .map((line) => JSON.parse(line) as { level: string; msg: string; requested?: string })
          .filter((entry) => entry.level === 'warn');
        expect(warnings).toContainEqual(
          expect.objectContaining({
            requested: host,
            msg: expect.stringMatching(/GATEWAY_API_KEYS.*127\.0\.0\.1/),
          }),
        );
        const { body } = await open.gql('query { gateway { authRequired } }');
        expect(body).toEqual({ data: { gateway: { authRequired: false } } });
      } finally {
        await open.stop();
      }
    },
  );
});
