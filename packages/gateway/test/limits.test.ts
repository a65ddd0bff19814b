/** Guard rails: mutation rate, tasks in flight, query shape, message sizes, connections. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ALPHA_KEY,
  acknowledged,
  BETA_KEY,
  bearer,
  GATEWAY_API_KEYS,
  rawSocket,
} from './support/b-helpers.js';
import { creates, GENERATE, type Stack, smallInput, startStack } from './support/stack.js';

const alpha = bearer(ALPHA_KEY);
const beta = bearer(BETA_KEY);
const createCount = async (stack: Stack) => creates(await stack.upstream()).length;

describe('MUTATIONS_PER_MINUTE=3', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { MUTATIONS_PER_MINUTE: '3', GATEWAY_API_KEYS } });
  });
  afterAll(() => stack?.stop());

  let firstId: string;

  it('the 4th is RATE_LIMITED with a retry time, and nothing is sent upstream', async () => {
    const before = await createCount(stack);
    for (let seed = 1; seed <= 3; seed++) {
      const { body } = await stack.gql(
        GENERATE,
        { input: smallInput({ seed }), key: `r${seed}` },
        alpha,
      );
      expect(body.errors).toBeUndefined();
      if (seed === 1) firstId = body.data.generateVideo.id;
    }
    expect((await createCount(stack)) - before).toBe(3);
    const { status, body } = await stack.gql(GENERATE, { input: smallInput({ seed: 4 }) }, alpha);
    expect(status).toBe(200);
    expect(body.data).toBeNull();
    expect(body.errors).toHaveLength(1);
    expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'rate' });
    expect(body.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    expect(body.errors?.[0]?.extensions?.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect((await createCount(stack)) - before).toBe(3);
  });

  it('a retry with a used idempotencyKey is still answered (it creates nothing)', async () => {
    const before = await createCount(stack);
    const { body } = await stack.gql(
      GENERATE,
      { input: smallInput({ seed: 1 }), key: 'r1' },
      alpha,
    );
    expect(body.errors).toBeUndefined();
    expect(body.data.generateVideo.id).toBe(firstId);
    expect(await createCount(stack)).toBe(before);
  });

  it('the limit is per client: another key still creates', async () => {
    const before = await createCount(stack);
    const { body } = await stack.gql(GENERATE, { input: smallInput({ seed: 5 }) }, beta);
    expect(body.errors).toBeUndefined();
    expect((await createCount(stack)) - before).toBe(1);
  });
});

describe('MAX_IN_FLIGHT_TASKS=2', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      env: { MAX_IN_FLIGHT_TASKS: '2' },
      emulator: { faults: { stallTasks: { progress: 40 } } },
    });
  });
  afterAll(() => stack?.stop());

  it('with two tasks still running, the 3rd is RATE_LIMITED (in_flight) and not sent upstream', async () => {
    for (const seed of [1, 2]) {
      const { body } = await stack.gql(GENERATE, { input: smallInput({ seed }) });
      expect(body.errors).toBeUndefined();
    }
    const before = await createCount(stack);
    const { body } = await stack.gql(GENERATE, { input: smallInput({ seed: 3 }) });
    expect(body.data).toBeNull();
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'in_flight',
    });
    expect(body.errors?.[0]?.extensions?.retryAfterSeconds).toBeGreaterThan(0);
    expect(await createCount(stack)).toBe(before);
  });

  it('a burst of five at once from a fresh client gets two tasks, and three RATE_LIMITED', async () => {
    // A gateway of its own: a client with no task in flight yet.
    const fresh = await startStack({
      env: { MAX_IN_FLIGHT_TASKS: '2' },
      emulator: { faults: { stallTasks: { progress: 40 } } },
    });
    try {
      const answers = await Promise.all(
        [11, 12, 13, 14, 15].map((seed) => fresh.gql(GENERATE, { input: smallInput({ seed }) })),
      );
      const codes = answers.map(({ body }) => body.errors?.[0]?.extensions?.code ?? 'OK');
      expect(codes.filter((code) => code === 'OK')).toHaveLength(2);
      expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(3);
      expect(await createCount(fresh)).toBe(2);
    } finally {
      await fresh.stop();
    }
  });
});

describe('MAX_IN_FLIGHT_TASKS=1, a task with an ETA', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Time scale 1: 832x480 at 30 steps runs 20 s.
    stack = await startStack({ env: { MAX_IN_FLIGHT_TASKS: '1' }, emulator: { timeScale: 1 } });
  });
  afterAll(() => stack?.stop());

  it('says to try again when the task in progress should end, not in a fixed 5 s', async () => {
    const { body } = await stack.gql(GENERATE, { input: smallInput({ steps: 30, seed: 9 }) });
    const id = body.data.generateVideo.id;
    // Once the gateway has read the task's ETA from the upstream…
    await new Promise<void>((resolve, reject) => {
      const stop = stack.ws().subscribe(
        {
          query: 'subscription($id: ID!) { videoTask(id: $id) { etaSeconds } }',
          variables: { id },
        },
        {
          next: (message) => {
            if (((message.data as any)?.videoTask?.etaSeconds ?? 0) > 8) {
              stop();
              resolve();
            }
          },
          error: reject,
          complete: () => reject(new Error('completed before an ETA was known')),
        },
      );
    });
    const refused = await stack.gql(GENERATE, { input: smallInput({ seed: 10 }) });
    const extensions = refused.body.errors?.[0]?.extensions;
    expect(extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'in_flight' });
    // …"try again" follows it: seconds, not the old fixed 5 s.
    expect(extensions.retryAfterSeconds).toBeGreaterThan(5);
    expect(extensions.retryAfterSeconds).toBeLessThanOrEqual(20);
    expect(refused.body.errors?.[0]?.message).toMatch(/finish in about \d+ s/);
  }, 30_000);
});

describe('MUTATIONS_PER_MINUTE=3, in a burst', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { MUTATIONS_PER_MINUTE: '3' } });
  });
  afterAll(() => stack?.stop());

  it('five at once: three go through, two are RATE_LIMITED', async () => {
    const answers = await Promise.all(
      [21, 22, 23, 24, 25].map((seed) => stack.gql(GENERATE, { input: smallInput({ seed }) })),
    );
    const codes = answers.map(({ body }) => body.errors?.[0]?.extensions?.code ?? 'OK');
    expect(codes.filter((code) => code === 'OK')).toHaveLength(3);
    expect(codes.filter((code) => code === 'RATE_LIMITED')).toHaveLength(2);
    expect(creates(await stack.upstream())).toHaveLength(3);
  });
});

describe('query shape, body and message size', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  /** `__type { fields { type { ofType { ... { name } } } } }`, `depth` fields deep. */
  const typeChain = (depth: number) => {
    const ofTypes = depth - 4;
    return `query { __type(name: "VideoTask") { fields { type { ${'ofType { '.repeat(ofTypes)}name${' }'.repeat(ofTypes)} } } } }`;
  };

  it('a query 8 deep is answered', async () => {
    const { body } = await stack.gql(typeChain(8));
    expect(body.errors).toBeUndefined();
    expect(body.data.__type.fields.length).toBeGreaterThan(0);
  });

  it.each([
    ['introspection 9 deep', typeChain(9)],
    ['introspection 12 deep', typeChain(12)],
    [
      'nested fragments 9 deep',
      'query { videoTasks { edges { node { input { loras { ... on Lora { ... on Lora { ... on Lora { path } } } } } } } } }',
    ],
  ])('%s is refused with errors and no data', async (_name, query) => {
    const { body } = await stack.gql(query);
    expect(body.data).toBeUndefined();
    expect(body.errors?.[0]?.message).toMatch(/depth limit of 8/);
  });

  const aliases = (n: number) =>
    `query { ${Array.from({ length: n }, (_, i) => `a${i}: gateway { emulated }`).join(' ')} }`;

  it('15 aliases are answered; 16 are refused with errors and no data', async () => {
    const fifteen = await stack.gql(aliases(15));
    expect(fifteen.body.errors).toBeUndefined();
    expect(Object.keys(fifteen.body.data)).toHaveLength(15);
    const sixteen = await stack.gql(aliases(16));
    expect(sixteen.body.data).toBeUndefined();
    expect(sixteen.body.errors?.[0]?.message).toMatch(/aliases/i);
  });

  const deepSubscription =
    'subscription { videoTask(id: "00000000-0000-4000-8000-000000000000") { input { loras { ... on Lora { ... on Lora { ... on Lora { ... on Lora { ... on Lora { path } } } } } } } } }';

  it.each([
    ['a subscription 9 deep', deepSubscription, /depth limit of 8/],
    ['a query with 16 aliases', aliases(16), /aliases/i],
    ['a query with a syntax error', 'query { gateway { emulated }', /Syntax Error/],
  ])(
    'over graphql-ws, %s is an error for that operation alone: no data, the connection stays',
    async (_name, query, message) => {
      const client = stack.ws();
      const closes: number[] = [];
      client.on('closed', (event) => closes.push((event as { code: number }).code));
      const outcome = await new Promise<{ data: unknown[]; errors: unknown }>((resolve) => {
        const data: unknown[] = [];
        client.subscribe(
          { query },
          {
            next: (message) => data.push(message),
            // An array of GraphQL errors, or the CloseEvent if the connection died.
            error: (errors) =>
              resolve({
                data,
                errors: Array.isArray(errors)
                  ? errors
                  : {
                      closedWith: (errors as CloseEvent).code,
                      reason: (errors as CloseEvent).reason,
                    },
              }),
            complete: () => resolve({ data, errors: undefined }),
          },
        );
      });
      expect(outcome.data).toEqual([]);
      expect(outcome.errors).toEqual([
        expect.objectContaining({ message: expect.stringMatching(message) }),
      ]);
      expect(closes).toEqual([]);
      // The same connection still answers.
      const next = await new Promise<unknown>((resolve, reject) => {
        client.subscribe(
          { query: 'query { gateway { emulated } }' },
          { next: resolve, error: reject, complete: () => {} },
        );
      });
      expect(next).toEqual({ data: { gateway: { emulated: false } } });
      expect(closes).toEqual([]);
    },
  );

  const post = (body: string, init: RequestInit = {}) =>
    fetch(stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      ...init,
    });

  it('a body just under 64 KiB is answered; one over it is 413', async () => {
    const padded = (bytes: number) => {
      const base = JSON.stringify({
        query: 'query { gateway { emulated } }',
        variables: { pad: '' },
      });
      return JSON.stringify({
        query: 'query { gateway { emulated } }',
        variables: { pad: 'x'.repeat(bytes - base.length) },
      });
    };
    const under = await post(padded(64 * 1024));
    expect(under.status).toBe(200);
    expect(await under.json()).toEqual({ data: { gateway: { emulated: false } } });
    const over = await post(padded(64 * 1024 + 1));
    expect(over.status).toBe(413);
  });

  it('a body without a Content-Length (chunked) is refused, so the size check cannot be dodged', async () => {
    const chunks = [JSON.stringify({ query: 'query { gateway { emulated } }' })];
    const stream = new ReadableStream({
      pull(controller) {
        const chunk = chunks.shift();
        if (chunk) controller.enqueue(new TextEncoder().encode(chunk));
        else controller.close();
      },
    });
    const response = await post('', { body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(411);
  });

  it('a WebSocket message just under 64 KiB is answered; one over it closes the socket with 1009', async () => {
    const { socket, opened, ended } = rawSocket(stack.gateway.wsUrl);
    await opened;
    await acknowledged(socket);
    const ping = (bytes: number) => {
      const base = JSON.stringify({ type: 'ping', payload: { pad: '' } });
      return JSON.stringify({ type: 'ping', payload: { pad: 'x'.repeat(bytes - base.length) } });
    };
    const pong = new Promise<unknown>((resolve) =>
      socket.once('message', (data) => resolve(JSON.parse(String(data)))),
    );
    socket.send(ping(64 * 1024));
    expect(await pong).toMatchObject({ type: 'pong' });
    socket.send(ping(64 * 1024 + 1));
    expect(await ended).toMatchObject({ kind: 'closed', code: 1009 });
  });
});

describe('MAX_CONNECTIONS=2', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { MAX_CONNECTIONS: '2' } });
  });
  afterAll(() => stack?.stop());

  it('a third WebSocket is refused; once one closes, a new one gets in', async () => {
    const first = rawSocket(stack.gateway.wsUrl);
    const second = rawSocket(stack.gateway.wsUrl);
    await Promise.all([first.opened, second.opened]);
    await acknowledged(first.socket);
    await acknowledged(second.socket);

    const third = rawSocket(stack.gateway.wsUrl);
    await expect(third.opened).rejects.toThrow();
    const end = await third.ended;
    expect(end.kind).toBe('failed');
    if (end.kind === 'failed' && end.status !== undefined) expect(end.status).toBe(503);

    first.socket.close(1000);
    await first.ended;
    await vi.waitFor(
      async () => {
        const next = rawSocket(stack.gateway.wsUrl);
        try {
          await next.opened;
          await acknowledged(next.socket);
        } finally {
          next.socket.close(1000);
          await next.ended;
        }
      },
      { timeout: 3000, interval: 50 },
    );
    second.socket.close(1000);
    await second.ended;
  });
});
