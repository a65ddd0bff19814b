/**
 * Crashes and restarts: the gateway runs as a real child process (src/bin.ts) on one SQLite
 * file, in front of an in-test emulator whose tasks take a few seconds. A SIGKILL mid-task, a
 * graceful SIGTERM and a kill mid-create each end in the right state after a restart, and no
 * task is ever sent upstream twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Emulator, startEmulator, WEBHOOK_ATTEMPTS } from '@wan-video/emulator';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqliteTaskStore } from '../src/index.js';
import {
  freePort,
  type GatewayProcess,
  startGatewayProcess,
  stopAllGatewayProcesses,
} from './support/a-process.js';
import { creates, GENERATE, NOVITA_KEY, readsOf, smallInput, watch } from './support/stack.js';

/**
 * 832x480 at 30 steps: 20 s at time scale 1, 5 s here. The gateway reads a new task first after
 * its idle interval (2 s), and at least 1 s apart: a task must last long enough to be seen
 * PROCESSING.
 */
const TIME_SCALE = 4;
const taskInput = (seed: number) => smallInput({ steps: 30, seed });

let dir: string;
let emulator: Emulator;
let port: number;
let env: Record<string, string>;
let gateway: GatewayProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wan-gateway-durability-'));
  emulator = await startEmulator({ timeScale: TIME_SCALE, storageDir: join(dir, 'videos') });
  port = await freePort();
  env = {
    NOVITA_API_KEY: NOVITA_KEY,
    NOVITA_BASE_URL: emulator.url,
    DATABASE_PATH: join(dir, 'db.sqlite'),
    LOG_LEVEL: 'info',
  };
  gateway = await startGatewayProcess(port, env);
});

afterAll(async () => {
  await stopAllGatewayProcesses();
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Creates a task on the running gateway; returns it with its upstream task id. */
async function createTask(seed: number) {
  const before = creates([...emulator.requests()]).length;
  const { body } = await gateway.gql(GENERATE, { input: taskInput(seed) });
  expect(body.errors).toBeUndefined();
  const task = body.data.generateVideo;
  const made = creates([...emulator.requests()]);
  expect(made).toHaveLength(before + 1);
  const upstreamTaskId = made.at(-1)?.taskId as string;
  expect(upstreamTaskId).toMatch(/^[0-9a-f-]{36}$/);
  return { id: task.id as string, upstreamTaskId };
}

/** What the store holds for a task, read from the file while no gateway runs. */
async function stored(id: string) {
  const store = new SqliteTaskStore(env.DATABASE_PATH as string);
  try {
    return await store.get(id);
  } finally {
    await store.close();
  }
}

/** The `resumed`/`interrupted` counts of the latest "listening" log line. */
const startupCounts = (process: GatewayProcess) => {
  const line = process.logs().findLast((record) => record.msg === 'wan-video gateway listening');
  return { resumed: line?.resumed, interrupted: line?.interrupted };
};

describe('a gateway process that dies or stops', () => {
  it('SIGKILL mid-task: after a restart on the same database the task resumes, ends SUCCEEDED, and was created once', async () => {
    const { id, upstreamTaskId } = await createTask(101);
    const first = watch(gateway.ws(), id);
    await vi.waitFor(
      () => expect(first.events.map((event) => event.status)).toContain('PROCESSING'),
      { timeout: 10_000, interval: 20 },
    );

    const exit = await gateway.kill('SIGKILL');
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    await first.done;
    expect(first.events.map((event) => event.status)).not.toContain('SUCCEEDED');
    // synchronous = FULL: what was written before the kill is on disk, upstream id included.
    const record = await stored(id);
    expect(record).toMatchObject({ upstreamTaskId, status: 'PROCESSING' });

    gateway = await startGatewayProcess(port, env);
    expect(startupCounts(gateway)).toEqual({ resumed: 1, interrupted: 0 });
    const second = watch(gateway.ws(), id);
    await second.done;
    expect(second.errors).toEqual([]);
    const last = second.events.at(-1);
    expect(last).toMatchObject({ id, status: 'SUCCEEDED', progressPercent: 100 });
    expect(last.videos).toHaveLength(1);

    const log = [...emulator.requests()];
    expect(creates(log)).toHaveLength(1);
    expect(readsOf(log, upstreamTaskId).at(-1)?.status).toBe(200);
  });

  it('SIGTERM mid-task: exits 0 leaving the task as it was, and a restart finishes it', async () => {
    const createsBefore = creates([...emulator.requests()]).length;
    const { id, upstreamTaskId } = await createTask(102);
    const first = watch(gateway.ws(), id);
    await vi.waitFor(
      () => expect(first.events.map((event) => event.status)).toContain('PROCESSING'),
      { timeout: 10_000, interval: 20 },
    );

    const exit = await gateway.kill('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(gateway.logs().map((record) => record.msg)).toContain('wan-video gateway stopped');
    await first.done;
    expect(first.events.map((event) => event.status)).not.toContain('SUCCEEDED');
    // Stopping changes no task: it is neither failed nor finished, only left to resume.
    expect(await stored(id)).toMatchObject({
      upstreamTaskId,
      status: 'PROCESSING',
      failureReason: null,
      completedAt: null,
    });

    gateway = await startGatewayProcess(port, env);
    expect(startupCounts(gateway)).toEqual({ resumed: 1, interrupted: 0 });
    const second = watch(gateway.ws(), id);
    await second.done;
    expect(second.errors).toEqual([]);
    expect(second.events.at(-1)).toMatchObject({ id, status: 'SUCCEEDED' });
    expect(creates([...emulator.requests()])).toHaveLength(createsBefore + 1);
  });

  it('SIGKILL while the create is in flight: the restart fails the task with a reason and never sends it again', async () => {
    const createsBefore = creates([...emulator.requests()]).length;
    // Hold every upstream answer back so that the gateway dies waiting for the create's.
    emulator.setFaults({ latencyMs: 5000 });
    const mutation = gateway.gql(GENERATE, { input: taskInput(103), key: 'create-then-die' }).then(
      () => 'answered',
      () => 'connection lost',
    );
    await vi.waitFor(
      () => expect(creates([...emulator.requests()])).toHaveLength(createsBefore + 1),
      { timeout: 10_000, interval: 20 },
    );
    await gateway.kill('SIGKILL');
    expect(await mutation).toBe('connection lost');
    emulator.setFaults({});

    gateway = await startGatewayProcess(port, env);
    expect(startupCounts(gateway)).toEqual({ resumed: 0, interrupted: 1 });
    const { body } = await gateway.gql(
      'query { videoTasks(first: 1) { edges { node { id status failureReason } } } }',
    );
    expect(body.errors).toBeUndefined();
    const [newest] = body.data.videoTasks.edges;
    expect(newest.node.status).toBe('FAILED');
    expect(newest.node.failureReason).toMatch(/being created.*not sent again/);
    // A subscriber to it is told the final state at once.
    const sub = watch(gateway.ws(), newest.node.id);
    await sub.done;
    expect(sub.events.map((event) => event.status)).toEqual(['FAILED']);
    // The client's retry with the same key is answered with that task, and sends nothing.
    const retry = await gateway.gql(GENERATE, { input: taskInput(103), key: 'create-then-die' });
    expect(retry.body.errors).toBeUndefined();
    expect(retry.body.data.generateVideo).toMatchObject({ id: newest.node.id, status: 'FAILED' });
    expect(creates([...emulator.requests()])).toHaveLength(createsBefore + 1);
  });

  it('SIGTERM while a create is in flight: the create is let finish, so the paid task resumes instead of failing', async () => {
    const createsBefore = creates([...emulator.requests()]).length;
    emulator.setFaults({ latencyMs: 1000 });
    const mutation = gateway.gql(GENERATE, { input: taskInput(105) }).catch(() => undefined);
    await vi.waitFor(
      () => expect(creates([...emulator.requests()])).toHaveLength(createsBefore + 1),
      { timeout: 10_000, interval: 20 },
    );
    const exit = await gateway.kill('SIGTERM');
    emulator.setFaults({});
    expect(exit).toEqual({ code: 0, signal: null });

    // The upstream task exists (it was paid for): the restart must resume it, not fail it.
    gateway = await startGatewayProcess(port, env);
    expect(startupCounts(gateway)).toEqual({ resumed: 1, interrupted: 0 });
    const { body } = await gateway.gql(
      'query { videoTasks(first: 1) { edges { node { id status failureReason } } } }',
    );
    const id = body.data.videoTasks.edges[0].node.id as string;
    const sub = watch(gateway.ws(), id);
    await sub.done;
    expect(sub.events.at(-1)).toMatchObject({ id, status: 'SUCCEEDED' });
    // (Whether the client heard its answer before the socket closed is another matter.)
    await mutation;
    expect(creates([...emulator.requests()])).toHaveLength(createsBefore + 1);
  });
});

describe('a gateway process in webhook mode', () => {
  // Faster still: the task and the emulator's five webhook tries (15 s at scale 1) take ~1 s.
  let fast: Emulator;
  beforeAll(async () => {
    fast = await startEmulator({ timeScale: 40, storageDir: join(dir, 'videos') });
  });
  afterAll(() => fast?.close());

  it('SIGKILL mid-task, the webhook lost while it is down: the restart still finishes the task at once', async () => {
    const hookPort = await freePort();
    const hookEnv = {
      ...env,
      NOVITA_BASE_URL: fast.url,
      DATABASE_PATH: join(dir, 'webhooks.sqlite'),
      PUBLIC_URL: `http://127.0.0.1:${hookPort}`,
    };
    let hooked = await startGatewayProcess(hookPort, hookEnv);
    const { body } = await hooked.gql(GENERATE, { input: taskInput(104) });
    expect(body.errors).toBeUndefined();
    const id = body.data.generateVideo.id as string;
    const upstreamTaskId = creates([...fast.requests()]).at(-1)?.taskId as string;
    await hooked.kill('SIGKILL');

    // The task ends upstream, and every webhook delivery try fails: nobody is listening.
    await vi.waitFor(
      () => {
        const tries = fast.webhooks().filter((hook) => hook.taskId === upstreamTaskId);
        expect(tries).toHaveLength(WEBHOOK_ATTEMPTS);
        expect(tries.every((hook) => hook.status === null)).toBe(true);
      },
      { timeout: 15_000, interval: 50 },
    );

    hooked = await startGatewayProcess(hookPort, hookEnv);
    expect(startupCounts(hooked)).toEqual({ resumed: 1, interrupted: 0 });
    const sub = watch(hooked.ws(), id);
    // No webhook will come again: a resumed task must be read, not left to the polling
    // fallback two minutes away. A read at start answers at once; 5 s is plenty.
    await vi.waitFor(() => expect(sub.events.at(-1)?.status).toBe('SUCCEEDED'), {
      timeout: 5000,
      interval: 50,
    });
    expect(
      creates([...fast.requests()]).filter((entry) => entry.taskId === upstreamTaskId),
    ).toHaveLength(1);
    await hooked.kill('SIGTERM');
  });
});
