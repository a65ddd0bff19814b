/**
 * Findings of the second adversarial run that need real gateway processes (`src/bin.ts`): one
 * writer per SQLite file, a SIGKILL between the upstream's 200 and the local write in webhook
 * mode, SIGTERM bounded by SHUTDOWN_TIMEOUT_MS, and stdout that is JSON and nothing else.
 *
 * A gateway process takes up to 20 s to start on a busy machine (tsx compiles it first), so each
 * scenario is a few steps in order, each step starting at most one process within its 30 s.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Emulator, startEmulator } from '@wan-video/emulator';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import {
  freePort,
  type GatewayProcess,
  runGatewayToExit,
  startGatewayProcess,
  stopAllGatewayProcesses,
} from './support/a-process.js';
import { FAT_QUERY, fatDatabase } from './support/fat-tasks.js';
import { type Relay, startRelay } from './support/relay.js';
import { creates, GENERATE, NOVITA_KEY, QUERY_TASK, smallInput, watch } from './support/stack.js';

/** 832x480 at 30 steps: 20 s at time scale 1, 8 s here. */
const TIME_SCALE = 2.5;

let dir: string;
let emulator: Emulator;
const relays: Relay[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wan-gateway-hardening-2-'));
  emulator = await startEmulator({ timeScale: TIME_SCALE, storageDir: join(dir, 'videos') });
});

afterAll(async () => {
  await stopAllGatewayProcesses();
  for (const relay of relays) await relay.close();
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const baseEnv = (database: string, extra: Record<string, string> = {}) => ({
  NOVITA_API_KEY: NOVITA_KEY,
  NOVITA_BASE_URL: emulator.url,
  DATABASE_PATH: join(dir, database),
  LOG_LEVEL: 'info',
  ...extra,
});

/** Creates made by the emulator (answered 200), whatever the gateway heard. */
const madeUpstream = () =>
  creates([...emulator.requests()]).filter((entry) => entry.status === 200);

/** How long a start may take on a busy machine, inside a step's 30 s. */
const START = { healthyWithinMs: 28_000 } as const;

const startupLine = (gateway: GatewayProcess) =>
  gateway.logs().findLast((record) => record.msg === 'wan-video gateway listening');

describe('finding 4: one writer per SQLite file', () => {
  let env: Record<string, string>;
  let relay: Relay;
  let first: GatewayProcess;
  let creating: string;
  beforeAll(async () => {
    // The first process's create is held by a relay: its task stays CREATING in the file, as
    // the task of a create in flight does.
    relay = await startRelay(emulator.url);
    relays.push(relay);
    relay.fate = { kind: 'hold' };
    env = baseEnv('shared.sqlite', { NOVITA_BASE_URL: relay.url });
    first = await startGatewayProcess(await freePort(), env, START);
  });

  it('a second process on the same file exits 1 with a message, and leaves the live one’s create alone', async () => {
    void first.gql(GENERATE, { input: smallInput({ seed: 301 }) }).catch(() => {});
    await vi.waitFor(() => expect(relay.created).toHaveLength(1), {
      timeout: 5000,
      interval: 20,
    });
    const list = await first.gql('{ videoTasks(first: 1) { edges { node { id status } } } }');
    creating = list.body.data.videoTasks.edges[0].node.id;

    const second = await runGatewayToExit({ ...env, PORT: String(await freePort()) });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      `Another gateway process is using the SQLite database ${env.DATABASE_PATH}`,
    );
    const fatal = second.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
      .find((record) => record.level === 'fatal');
    expect(fatal.err.type).toBe('DatabaseLockedError');
    // It stopped before resuming anything: the live create's task was not failed.
    const task = await first.gql(QUERY_TASK, { id: creating });
    expect(task.body.data.videoTask).toMatchObject({ status: 'QUEUED', failureReason: null });
  });

  it('after a SIGKILL of the first, a new process takes the lock at once', async () => {
    await first.kill('SIGKILL');
    relay.fate = { kind: 'pass' };
    const third = await startGatewayProcess(await freePort(), env, START);
    // Polling mode: the create the SIGKILL interrupted ends FAILED (the documented trade-off).
    expect(startupLine(third)).toMatchObject({ interrupted: 1 });
    await third.kill('SIGTERM');
  });
});

describe('finding 5: no orphaned paid task in webhook mode', () => {
  // Time scale 1: the task takes about 17 s upstream (25 steps), longer than a restart here,
  // and short enough that its end, waited for in one test, stays well inside the 30 s ceiling.
  let slow: Emulator;
  let relay: Relay;
  let port: number;
  let env: Record<string, string>;
  let gateway: GatewayProcess;
  const input = smallInput({ seed: 302, steps: 25 });
  beforeAll(async () => {
    slow = await startEmulator({ timeScale: 1, storageDir: join(dir, 'videos') });
    // The relay lets the create through and holds the emulator's answer: the upstream has made
    // the task; the gateway never hears of it.
    relay = await startRelay(slow.url);
    relays.push(relay);
    relay.fate = { kind: 'hold' };
    port = await freePort();
    env = baseEnv('adopt.sqlite', {
      NOVITA_BASE_URL: relay.url,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
    });
    gateway = await startGatewayProcess(port, env, START);
  });
  afterAll(() => slow?.close());

  it('SIGKILL between the upstream’s 200 and the local write', async () => {
    const mutation = gateway
      .gql(GENERATE, { input, key: 'adopt-me' })
      .catch(() => 'connection lost');
    await vi.waitFor(() => expect(relay.created).toHaveLength(1), {
      timeout: 5000,
      interval: 20,
    });
    await gateway.kill('SIGKILL');
    expect(await mutation).toBe('connection lost');
    relay.fate = { kind: 'pass' };
  });

  it('the restart keeps the interrupted create waiting for its webhook, QUEUED to its client', async () => {
    gateway = await startGatewayProcess(port, env, START);
    expect(startupLine(gateway)).toMatchObject({ interrupted: 0, awaitingWebhook: 1 });
    const retry = await gateway.gql(GENERATE, { input, key: 'adopt-me' });
    expect(retry.body.errors).toBeUndefined();
    expect(retry.body.data.generateVideo.status).toBe('QUEUED');
  });

  it('the webhook adopts the upstream task: SUCCEEDED, and one create in all', async () => {
    const list = await gateway.gql('{ videoTasks(first: 1) { edges { node { id } } } }');
    const id = list.body.data.videoTasks.edges[0].node.id as string;
    const sub = watch(gateway.ws(), id);
    await sub.done;
    expect(sub.errors).toEqual([]);
    expect(sub.events.at(-1)).toMatchObject({ id, status: 'SUCCEEDED' });
    expect(sub.events.at(-1).videos).toHaveLength(1);
    expect(gateway.logs().find((record) => String(record.msg).includes('adopted'))).toMatchObject({
      taskId: id,
      upstreamTaskId: relay.created[0],
    });
    expect(creates([...slow.requests()]).filter((entry) => entry.status === 200)).toHaveLength(1);
    await gateway.kill('SIGTERM');
  });
});

describe('finding 6: SIGTERM exits within SHUTDOWN_TIMEOUT_MS', () => {
  let port: number;
  let env: Record<string, string>;
  let gateway: GatewayProcess;
  let inProgress: string;
  let madeBefore: number;
  beforeAll(async () => {
    port = await freePort();
    env = baseEnv('shutdown.sqlite', { SHUTDOWN_TIMEOUT_MS: '3000' });
    gateway = await startGatewayProcess(port, env, START);
  });

  it('while a create waits out a 40 s Retry-After: exits 0 within 3 s, and nothing is made for it', async () => {
    const started = await gateway.gql(GENERATE, { input: smallInput({ seed: 303, steps: 30 }) });
    expect(started.body.errors).toBeUndefined();
    inProgress = started.body.data.generateVideo.id as string;
    madeBefore = madeUpstream().length;

    emulator.setFaults({ rateLimit: { count: 1, retryAfterSeconds: 40 }, routes: ['create'] });
    const createsBefore = creates([...emulator.requests()]).length;
    const waiting = gateway.gql(GENERATE, { input: smallInput({ seed: 304 }) }).then(
      ({ body }) => body.errors?.[0].extensions,
      () => 'connection lost',
    );
    await vi.waitFor(
      () => expect(creates([...emulator.requests()]).at(createsBefore)?.status).toBe(429),
      { timeout: 10_000, interval: 20 },
    );
    const signalledAt = performance.now();
    const exit = await gateway.kill('SIGTERM');
    const tookMs = performance.now() - signalledAt;
    emulator.setFaults({});
    expect(exit).toEqual({ code: 0, signal: null });
    // The budget, and a moment for the process to be scheduled on a busy machine.
    expect(tookMs).toBeLessThan(3000 + 1500);
    const told = await waiting;
    if (told !== 'connection lost') {
      expect(told).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfterSeconds: 5 });
    }
    expect(madeUpstream()).toHaveLength(madeBefore);
  });

  it('the next start resumes the task that was in progress; the aborted create left nothing', async () => {
    gateway = await startGatewayProcess(port, env, START);
    expect(startupLine(gateway)).toMatchObject({ resumed: 1, interrupted: 0 });
    const sub = watch(gateway.ws(), inProgress);
    await sub.done;
    expect(sub.events.at(-1)).toMatchObject({ id: inProgress, status: 'SUCCEEDED' });
    const list = await gateway.gql('{ videoTasks(first: 10) { edges { node { id } } } }');
    expect(list.body.data.videoTasks.edges.map((edge: any) => edge.node.id)).toEqual([inProgress]);
    expect(madeUpstream()).toHaveLength(madeBefore);
    await gateway.kill('SIGTERM');
  });
});

describe('finding 3: every line on stdout is one JSON object', () => {
  let gateway: GatewayProcess;
  beforeAll(async () => {
    await fatDatabase(join(dir, 'fat.sqlite'));
    gateway = await startGatewayProcess(await freePort(), baseEnv('fat.sqlite'), START);
  });

  it('a slow reader, a client that vanishes mid-answer and an oversized message: JSON lines only, errors serialised', async () => {
    const open = async () => {
      const ws = new WebSocket(gateway.wsUrl, 'graphql-transport-ws');
      await once(ws, 'open');
      ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
      await once(ws, 'message');
      return ws;
    };
    // A reader too slow: closed by the gateway.
    const slow = await open();
    (slow as unknown as { _socket: import('node:net').Socket })._socket.pause();
    for (let i = 0; i < 100; i++) {
      slow.send(JSON.stringify({ id: `q${i}`, type: 'subscribe', payload: { query: FAT_QUERY } }));
    }
    // A client that vanishes with answers on their way.
    const gone = await open();
    for (let i = 0; i < 30; i++) {
      gone.send(JSON.stringify({ id: `g${i}`, type: 'subscribe', payload: { query: FAT_QUERY } }));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    gone.terminate();
    // A message over 64 KiB: ws closes the socket with 1009 and emits an error.
    const big = await open();
    const bigClosed = once(big, 'close');
    big.send('x'.repeat(70 * 1024));
    const [code] = await bigClosed;
    expect(code).toBe(1009);
    await vi.waitFor(
      () =>
        expect(gateway.logs().some((record) => record.msg?.includes('read too slowly'))).toBe(true),
      { timeout: 20_000, interval: 50 },
    );
    slow.terminate();
    await gateway.kill('SIGTERM');

    const notJson = gateway.stdout.filter((line) => {
      try {
        return typeof JSON.parse(line) !== 'object';
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);
    // stderr holds the start banner and nothing else: no stack traces.
    expect(gateway.stderr.filter((line) => /^\s+at /.test(line))).toEqual([]);
    // graphql-ws's own report of the oversized message arrives as JSON, its error serialised.
    const reported = gateway.logs().find((record) => record.source === 'console');
    expect(reported).toMatchObject({ level: 'error', err: { message: expect.any(String) } });
    expect(typeof reported?.err.stack).toBe('string');
  });
});
