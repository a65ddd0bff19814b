/**
 * The graphql-sse protocol at /graphql/stream with graphql-sse's own client, in both of its
 * modes: distinct connections (one event stream per operation) and single connection (a stream
 * reserved with PUT, operations added with POST). Auth is the Authorization header in both.
 */
import { type Client, createClient, type ExecutionResult, NetworkError } from 'graphql-sse';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ALPHA_KEY, bearer, GATEWAY_API_KEYS } from './support/b-helpers.js';
import { creates, GENERATE, type Stack, smallInput, startStack, WATCH } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { GATEWAY_API_KEYS } });
});
afterAll(() => stack?.stop());

/** A client, with the method of every request it made and every refusal it was given. */
interface Traced {
  readonly client: Client;
  readonly methods: string[];
  /** Read as they come: the client aborts a refused connection, and its body with it. */
  readonly refusals: { status: number; body: unknown }[];
}

const clients: Client[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.dispose();
});

function sseClient(singleConnection: boolean, headers: Record<string, string>): Traced {
  const methods: string[] = [];
  const refusals: Traced['refusals'] = [];
  const client = createClient({
    url: `${stack.gateway.url}/graphql/stream`,
    singleConnection,
    headers,
    // A refusal should surface, not be retried.
    retryAttempts: 0,
    fetchFn: async (input: RequestInfo | URL, init?: RequestInit) => {
      methods.push(init?.method ?? 'GET');
      const response = await fetch(input, init);
      if (!response.ok) {
        refusals.push({ status: response.status, body: await response.clone().json() });
      }
      return response;
    },
  });
  clients.push(client);
  return { client, methods, refusals };
}

type Result = ExecutionResult<Record<string, any>, unknown>;

/** Every result of one operation, to its completion (or the error it ended with). */
async function run(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ results: Result[]; error?: unknown }> {
  const results: Result[] = [];
  try {
    for await (const result of client.iterate({ query, variables })) results.push(result);
    return { results };
  } catch (error) {
    return { results, error };
  }
}

async function generate(seed: number) {
  // One step: the emulator's task is short, and the test is about the transport.
  const input = smallInput({ seed, steps: 1 });
  const { body } = await stack.gql(GENERATE, { input }, bearer(ALPHA_KEY));
  expect(body.errors).toBeUndefined();
  return body.data.generateVideo.id as string;
}

describe.each([
  ['distinct connections', false],
  ['single connection', true],
])('graphql-sse, %s', (mode, singleConnection) => {
  it('follows a video generated over HTTP from QUEUED to SUCCEEDED', async () => {
    const id = await generate(singleConnection ? 71 : 72);
    const { client, methods } = sseClient(singleConnection, bearer(ALPHA_KEY));
    const { results, error } = await run(client, WATCH, { id });
    expect(error).toBeUndefined();
    expect(results.every((result) => result.errors === undefined)).toBe(true);
    const statuses = results.map((result) => result.data?.videoTask.status);
    // The task's state now first (it may have started already), then each change, then the end.
    expect(['QUEUED', 'PROCESSING']).toContain(statuses[0]);
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(results.at(-1)?.data?.videoTask.videos).toHaveLength(1);
    // Single connection reserves its stream first; distinct connections POST the operation.
    expect(methods[0]).toBe(singleConnection ? 'PUT' : 'POST');
  });

  it('a mutation over the stream creates the task, once', async () => {
    const before = creates(await stack.upstream()).length;
    const { client } = sseClient(singleConnection, bearer(ALPHA_KEY));
    const { results, error } = await run(client, GENERATE, {
      input: smallInput({ seed: singleConnection ? 73 : 74, steps: 1 }),
    });
    expect(error).toBeUndefined();
    expect(results).toEqual([
      { data: { generateVideo: expect.objectContaining({ status: 'QUEUED' }) } },
    ]);
    expect(creates(await stack.upstream()).length).toBe(before + 1);
  });

  it('a bad request is a coded result on the stream, and the stream goes on', async () => {
    const { client } = sseClient(singleConnection, bearer(ALPHA_KEY));
    const refused = await run(client, GENERATE, { input: smallInput({ steps: 'many' }) });
    expect(refused.error).toBeUndefined();
    expect(refused.results).toEqual([
      {
        data: null,
        errors: [
          expect.objectContaining({
            extensions: {
              code: 'BAD_USER_INPUT',
              issues: [expect.objectContaining({ path: ['input', 'steps'], rule: 'type' })],
            },
          }),
        ],
      },
    ]);
    const invalid = await run(client, '{ gateway { colour } }');
    expect(invalid.results[0]?.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const answered = await run(client, '{ gateway { authRequired } }');
    expect(answered.results).toEqual([{ data: { gateway: { authRequired: true } } }]);
  });

  it.each([
    ['no key', {}],
    ['a wrong key', bearer('key-gamma-000000')],
  ])(`${mode}: %s is UNAUTHENTICATED (401) before anything runs`, async (_name, headers) => {
    const { client, methods, refusals } = sseClient(singleConnection, headers);
    const { results, error } = await run(client, '{ gateway { authRequired } }');
    expect(results).toEqual([]);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as NetworkError<Response>).response?.status).toBe(401);
    expect(refusals).toEqual([
      {
        status: 401,
        body: {
          errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }],
        },
      },
    ]);
    // Single connection is refused at the reservation: no stream is kept for a stranger.
    expect(methods).toEqual([singleConnection ? 'PUT' : 'POST']);
  });
});

describe('graphql-sse, single connection', () => {
  it('runs two subscriptions at once over one reserved stream', async () => {
    const [first, second] = await Promise.all([generate(75), generate(76)]);
    const { client, methods } = sseClient(true, bearer(ALPHA_KEY));
    const [a, b] = await Promise.all([
      run(client, WATCH, { id: first }),
      run(client, WATCH, { id: second }),
    ]);
    for (const { results, error } of [a, b]) {
      expect(error).toBeUndefined();
      expect(results.at(-1)?.data?.videoTask.status).toBe('SUCCEEDED');
    }
    expect(methods.filter((method) => method === 'PUT')).toHaveLength(1);
    expect(methods.filter((method) => method === 'POST')).toHaveLength(2);
  });
});
