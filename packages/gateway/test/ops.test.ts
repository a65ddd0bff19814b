/** Operations: health, readiness, Prometheus metrics and a graceful stop. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Emulator, startEmulator } from '@wan-video/emulator';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createGateway, type Gateway, readConfig } from '../src/index.js';
import { nextClose, rawSocket, sample } from './support/b-helpers.js';
import {
  GENERATE,
  NOVITA_KEY,
  pushedChanges,
  QUERY_TASK,
  type Stack,
  smallInput,
  startStack,
  WATCH,
  watch,
} from './support/stack.js';

const getJson = async (url: string) => {
  const response = await fetch(url);
  return { status: response.status, body: await response.json() };
};

describe('health, readiness and metrics', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(() => stack?.stop());

  it('/healthz is 200', async () => {
    expect(await getJson(`${stack.gateway.url}/healthz`)).toEqual({
      status: 200,
      body: { status: 'ok' },
    });
  });

  it('/readyz is 200 with every check ok', async () => {
    expect(await getJson(`${stack.gateway.url}/readyz`)).toEqual({
      status: 200,
      body: {
        status: 'ready',
        checks: { store: 'ok', events: 'ok', tracking: 'ok', upstream: 'ok' },
      },
    });
  });

  it('/metrics is Prometheus text with the task, upstream, subscription and latency series', async () => {
    // One failed read first, so that the answer status shows in the labels.
    stack.emulator.setFaults({ serverErrors: { count: 1, statuses: [503] }, routes: ['result'] });
    const { body } = await stack.gql(GENERATE, { input: smallInput({ seed: 401 }) });
    expect(body.errors).toBeUndefined();
    const sub = watch(stack.ws(), body.data.generateVideo.id);
    await sub.done;
    stack.emulator.setFaults({});
    expect(sub.events.at(-1)).toMatchObject({ status: 'SUCCEEDED' });

    const response = await fetch(`${stack.gateway.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('# TYPE wan_tasks gauge');
    expect(text).toContain('# TYPE wan_upstream_requests_total counter');
    expect(text).toContain('# TYPE wan_live_subscriptions gauge');
    expect(text).toContain('# TYPE wan_push_latency_seconds histogram');

    expect(sample(text, 'wan_tasks', { status: 'SUCCEEDED' })).toBe(1);
    for (const status of ['QUEUED', 'PROCESSING', 'FAILED']) {
      expect(sample(text, 'wan_tasks', { status })).toBe(0);
    }
    expect(sample(text, 'wan_upstream_requests_total', { route: 'create', status: '200' })).toBe(1);
    expect(
      sample(text, 'wan_upstream_requests_total', { route: 'result', status: '200' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'wan_upstream_requests_total', { route: 'result', status: '503' })).toBe(1);
    expect(sample(text, 'wan_live_subscriptions')).toBe(0);
    // One push per live change the subscriber got (not the first event, a read, nor an estimate).
    const pushes = sample(text, 'wan_push_latency_seconds_count') ?? 0;
    expect(pushes).toBe(pushedChanges(sub.events));
    expect(pushes).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'wan_push_latency_seconds_bucket', { le: '+Inf' })).toBe(pushes);
    expect(sample(text, 'wan_push_latency_seconds_bucket', { le: '1' })).toBeDefined();
    expect(text).toMatch(/^wan_gateway_process_cpu_user_seconds_total \d/m);
  });
});

describe('readiness when the upstream goes away', () => {
  let dir: string;
  let emulator: Emulator;
  let gateway: Gateway;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wan-gateway-ops-'));
    emulator = await startEmulator({ timeScale: 20, storageDir: join(dir, 'videos') });
    gateway = createGateway(
      readConfig({
        PORT: '0',
        NOVITA_API_KEY: NOVITA_KEY,
        NOVITA_BASE_URL: emulator.url,
        DATABASE_PATH: join(dir, 'db.sqlite'),
        LOG_LEVEL: 'warn',
      }),
      { logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }) },
    );
    await gateway.start();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    await gateway?.stop();
    await emulator?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('/readyz turns 503, naming the upstream, once the upstream is closed', async () => {
    expect((await getJson(`${gateway.url}/readyz`)).status).toBe(200);
    await emulator.close();
    // The gateway checks the upstream at most every 5 s: move the clock past that, not the test.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + 5_001);
    expect(await getJson(`${gateway.url}/readyz`)).toEqual({
      status: 503,
      body: {
        status: 'not ready',
        checks: { store: 'ok', events: 'ok', tracking: 'ok', upstream: 'upstream unreachable' },
      },
    });
    // The process itself still serves.
    expect((await getJson(`${gateway.url}/healthz`)).status).toBe(200);
  });
});

describe('graceful stop', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Tasks that never finish: their subscriptions are still open when the gateway stops.
    stack = await startStack({ emulator: { faults: { stallTasks: { progress: 40 } } } });
  });
  afterAll(() => stack?.stop());

  it('closes open graphql-ws sockets with 1012 (service restart: clients reconnect), ends SSE streams, then refuses new requests', async () => {
    const { body } = await stack.gql(GENERATE, { input: smallInput({ seed: 402 }) });
    const id = body.data.generateVideo.id as string;
    await vi.waitFor(async () => {
      const { body: read } = await stack.gql(QUERY_TASK, { id });
      expect(read.data.videoTask.status).toBe('PROCESSING');
    });
    const { url, wsUrl, graphqlUrl } = stack.gateway;

    const client = stack.ws();
    const closed = nextClose(client);
    const sub = watch(client, id);
    await vi.waitFor(() => expect(sub.events.length).toBeGreaterThan(0));

    const stream = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: WATCH, variables: { id } }),
    });
    const sseEnded = stream.text().then(
      () => 'ended',
      () => 'ended',
    );

    await stack.gateway.stop();

    expect(await closed).toBe(1012);
    await sub.done;
    expect(sub.errors).toEqual([expect.objectContaining({ code: 1012 })]);
    expect(await sseEnded).toBe('ended');
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    const late = rawSocket(wsUrl);
    await expect(late.opened).rejects.toThrow();
  });
});
