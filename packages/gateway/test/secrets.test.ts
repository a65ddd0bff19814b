/**
 * Secrets stay secret: the upstream key and the client keys never show up in an HTTP answer
 * (body or header), a WebSocket message or close reason, or a log line, whatever happens:
 * success, bad input, bad auth (with a key near a real one, or the upstream key offered as a
 * client key), upstream failures and an upstream that refuses our key. Every log line is JSON.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  freePort,
  runGatewayToExit,
  startGatewayProcess,
  stopAllGatewayProcesses,
} from './support/a-process.js';
import { GENERATE, type Stack, smallInput, startStack, WATCH } from './support/stack.js';

const hex = () => randomBytes(12).toString('hex');
const NOVITA_KEY = `nv-sk-${hex()}`;
const GATEWAY_KEYS = [`gw-alpha-${hex()}`, `gw-beta-${hex()}`] as const;
const [KEY_A, KEY_B] = GATEWAY_KEYS;
const SECRETS = [NOVITA_KEY, ...GATEWAY_KEYS];

/** Each secret whole, and a 16-character piece of its random part (a cut-off copy is a leak too). */
const NEEDLES = SECRETS.flatMap((secret) => [secret, secret.slice(-20, -4)]);

/** Every answer and message the tests saw, as text. */
const seen: { what: string; text: string }[] = [];
const clients: Client[] = [];

let stack: Stack;
/** A second gateway whose upstream refuses its key (the emulator knows another one). */
let refused: Stack;

beforeAll(async () => {
  const env = { NOVITA_API_KEY: NOVITA_KEY, GATEWAY_API_KEYS: GATEWAY_KEYS.join(',') };
  [stack, refused] = await Promise.all([
    startStack({ env, emulator: { apiKeys: [NOVITA_KEY] } }),
    startStack({ env, emulator: { apiKeys: ['the-only-key-this-emulator-takes'] } }),
  ]);
});
afterAll(async () => {
  for (const client of clients) await client.dispose();
  await stopAllGatewayProcesses();
  await Promise.all([stack?.stop(), refused?.stop()]);
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** Any HTTP request; the status, every header and the whole body are kept. */
async function http(what: string, url: string, init: RequestInit = {}) {
  const response = await fetch(url, init);
  const text = await response.text();
  seen.push({ what, text: JSON.stringify([response.status, [...response.headers], text]) });
  return { status: response.status, text, headers: response.headers };
}

async function gql(
  what: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
  on: Stack = stack,
) {
  const { status, text } = await http(what, on.gateway.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status, body: JSON.parse(text) };
}

/** A graphql-ws client that keeps every message it receives and how its socket closed. */
function wsClient(what: string, connectionParams: Record<string, unknown>) {
  const client = createClient({
    url: stack.gateway.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams,
    on: {
      message: (message) => seen.push({ what, text: JSON.stringify(message) }),
      closed: (event) => {
        const { code, reason } = event as { code?: number; reason?: string };
        seen.push({ what: `${what} (close)`, text: JSON.stringify({ code, reason }) });
      },
    },
  });
  clients.push(client);
  return client;
}

/** Subscribes and resolves with everything it got when it completes or fails. */
function subscribe(client: Client, id: string) {
  return new Promise<{ data: any[]; errors: unknown[] }>((resolve) => {
    const data: any[] = [];
    const errors: unknown[] = [];
    client.subscribe(
      { query: WATCH, variables: { id } },
      {
        next: (message) => {
          if (message.errors) errors.push(...message.errors);
          if (message.data) data.push(message.data.videoTask);
        },
        error: (error) => {
          errors.push(error);
          resolve({ data, errors });
        },
        complete: () => resolve({ data, errors }),
      },
    );
  });
}

const leaksIn = (text: string) => NEEDLES.filter((needle) => text.includes(needle));

describe('secrets', () => {
  it('drives the gateway through successes and failures', async () => {
    // A task that succeeds, followed over WebSocket and over SSE.
    const made = await gql(
      'generate',
      GENERATE,
      { input: smallInput({ seed: 51 }) },
      bearer(KEY_A),
    );
    expect(made.body.errors).toBeUndefined();
    const id = made.body.data.generateVideo.id;
    const live = await subscribe(wsClient('watch', bearer(KEY_A)), id);
    expect(live.errors).toEqual([]);
    expect(live.data.at(-1).status).toBe('SUCCEEDED');
    const overSse = await http('sse', stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        ...bearer(KEY_A),
      },
      body: JSON.stringify({ query: WATCH, variables: { id } }),
    });
    expect(overSse.text).toContain('SUCCEEDED');
    // The other client does not see it.
    const other = await gql(
      'other client',
      'query($id: ID!) { videoTask(id: $id) { id } }',
      { id },
      bearer(KEY_B),
    );
    expect(other.body.errors?.[0].extensions.code).toBe('NOT_FOUND');

    // Bad auth over HTTP, with keys near the real ones and the upstream key offered as a client key.
    const refusals = {
      none: {},
      wrong: bearer('not-a-key-at-all-0000'),
      'upstream key': bearer(NOVITA_KEY),
      'key plus a character': bearer(`${KEY_A}x`),
      'key less a character': bearer(KEY_A.slice(0, -1)),
      'basic scheme': { authorization: `Basic ${KEY_A}` },
      'two keys': { authorization: `Bearer ${KEY_A} ${KEY_B}` },
    };
    for (const [name, headers] of Object.entries(refusals)) {
      const { status, body } = await gql(
        `auth: ${name}`,
        GENERATE,
        { input: smallInput() },
        headers,
      );
      expect(status, name).toBe(401);
      expect(body.errors?.[0].extensions.code, name).toBe('UNAUTHENTICATED');
    }
    // Bad auth over WebSocket.
    for (const [name, params] of Object.entries({
      'ws: upstream key': bearer(NOVITA_KEY),
      'ws: key plus a character': bearer(`${KEY_A}x`),
    })) {
      const refusal = await subscribe(wsClient(name, params), id);
      expect(refusal.data, name).toEqual([]);
      expect(refusal.errors, name).toHaveLength(1);
    }

    // Bad input, bad documents, bad bodies.
    const invalid = await gql(
      'bad input',
      GENERATE,
      { input: smallInput({ width: 1, steps: 99 }) },
      bearer(KEY_A),
    );
    expect(invalid.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    await gql('syntax error', 'mutation { generateVideo(', {}, bearer(KEY_A));
    await gql('unknown field', 'query { nope }', {}, bearer(KEY_A));
    await gql('bad variables', GENERATE, { input: 'not an object' }, bearer(KEY_A));
    await http('broken JSON body', stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(KEY_A) },
      body: '{"query": ',
    });
    const huge = await http('oversized body', stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(KEY_A) },
      body: JSON.stringify({ query: `query { gateway { webhooks } } # ${'x'.repeat(70_000)}` }),
    });
    expect(huge.status).toBe(413);

    // Upstream failures: a 5xx on create, a burst of them on reads, a task that fails.
    stack.emulator.setFaults({ serverErrors: { count: 1 }, routes: ['create'] });
    const down = await gql(
      'upstream 5xx on create',
      GENERATE,
      { input: smallInput({ seed: 52 }) },
      bearer(KEY_A),
    );
    expect(down.body.errors?.[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    stack.emulator.setFaults({
      serverErrors: { count: 5 },
      failTasks: { reason: 'upstream says no' },
      routes: ['result'],
    });
    const failing = await gql(
      'generate, fails',
      GENERATE,
      { input: smallInput({ seed: 53 }) },
      bearer(KEY_A),
    );
    const failed = await subscribe(
      wsClient('watch, fails', bearer(KEY_A)),
      failing.body.data.generateVideo.id,
    );
    expect(failed.data.at(-1).status).toBe('FAILED');
    stack.emulator.setFaults({});
    expect(stack.logs.some((line) => line.includes('upstream read failed'))).toBe(true);

    // An upstream that refuses our key.
    const rejected = await gql(
      'upstream 401',
      GENERATE,
      { input: smallInput() },
      bearer(KEY_A),
      refused,
    );
    expect(rejected.body.errors?.[0].extensions.code).toBe('UPSTREAM_REJECTED');
    expect(rejected.body.errors?.[0].extensions.status).toBe(401);

    // The other routes.
    for (const on of [stack, refused]) {
      for (const path of ['/healthz', '/readyz', '/metrics', '/', '/graphql', '/nowhere']) {
        await http(`GET ${path}`, `${on.gateway.url}${path}`, {
          headers: bearer(KEY_A),
          redirect: 'manual',
        });
      }
    }
    await http('GraphiQL', stack.gateway.graphqlUrl, {
      headers: { accept: 'text/html', ...bearer(KEY_A) },
    });
    await http(
      'webhook, unknown task',
      `${stack.gateway.url}/webhooks/novita/${id}?secret=not-the-secret`,
      {
        method: 'POST',
        body: '{}',
      },
    );
    expect(seen.length).toBeGreaterThan(30);
  });

  it('no answer, message or close reason holds a key', () => {
    expect(seen.length).toBeGreaterThan(30);
    const leaks = seen
      .map(({ what, text }) => ({ what, leaked: leaksIn(text) }))
      .filter(({ leaked }) => leaked.length > 0);
    expect(leaks).toEqual([]);
  });

  it('every log line is JSON, and none holds a key', () => {
    const logs = [...stack.logs, ...refused.logs];
    expect(logs.length).toBeGreaterThan(10);
    const notJson = logs.filter((line) => {
      try {
        const record = JSON.parse(line);
        return typeof record !== 'object' || record === null || typeof record.msg !== 'string';
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);
    const leaks = logs.filter((line) => leaksIn(line).length > 0);
    expect(leaks).toEqual([]);
  });
});

/** Lines that are not one JSON object each. */
const notJsonLines = (lines: readonly string[]) =>
  lines.filter((line) => {
    try {
      const record = JSON.parse(line);
      return typeof record !== 'object' || record === null;
    } catch {
      return true;
    }
  });

describe('the gateway binary', () => {
  it('writes JSON log lines only to stdout, and no key to stdout or stderr', async () => {
    const port = await freePort();
    const gateway = await startGatewayProcess(port, {
      NOVITA_API_KEY: NOVITA_KEY,
      GATEWAY_API_KEYS: GATEWAY_KEYS.join(','),
      NOVITA_BASE_URL: stack.emulator.url,
      DATABASE_PATH: join(stack.dir, 'binary.sqlite'),
      LOG_LEVEL: 'debug',
    });
    const made = await gateway.gql(GENERATE, { input: smallInput({ seed: 54 }) }, bearer(KEY_A));
    expect(made.body.errors).toBeUndefined();
    const refusedCall = await gateway.gql(GENERATE, { input: smallInput() }, bearer(NOVITA_KEY));
    expect(refusedCall.status).toBe(401);
    const exit = await gateway.kill('SIGTERM');
    expect(exit.code).toBe(0);

    expect(gateway.stdout.length).toBeGreaterThan(3);
    expect(gateway.stdout.filter((line) => leaksIn(line).length > 0)).toEqual([]);
    expect(gateway.stderr.filter((line) => leaksIn(line).length > 0)).toEqual([]);
    // Log shippers read stdout as JSON lines: anything else there breaks them.
    expect(notJsonLines(gateway.stdout)).toEqual([]);
  });

  it('a bad configuration exits 2 naming the variable, never its value', async () => {
    const result = await runGatewayToExit({
      NOVITA_API_KEY: NOVITA_KEY,
      GATEWAY_API_KEYS: `${KEY_A},short`,
      DATABASE_PATH: join(stack.dir, 'never.sqlite'),
      PORT: 'not-a-port',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/GATEWAY_API_KEYS/);
    expect(result.stderr).toMatch(/PORT/);
    expect(leaksIn(result.stderr + result.stdout)).toEqual([]);
    expect(result.stderr).not.toContain('short');
  });
});
