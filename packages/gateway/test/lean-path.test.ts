/**
 * The lean mutation path, checked from outside: upstream calls reuse kept-alive connections (a
 * TCP proxy in front of the emulator counts them); a new task's first upstream read waits one
 * poll interval instead of confirming QUEUED at once; SQLite's WAL is checkpointed by the worker
 * thread while the gateway's own connection never checkpoints.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NovitaClient, parseVideoInput, pollTask, toCreateTaskRequest } from '@wan-video/core';
import { type Emulator, startEmulator } from '@wan-video/emulator';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SqliteTaskStore } from '../src/store/sqlite.js';
import {
  creates,
  GENERATE,
  NOVITA_KEY,
  readsOf,
  type Stack,
  smallInput,
  startStack,
} from './support/stack.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

/** The upstream task id of a gateway task, from the gateway's own "task created" log line. */
function upstreamIdOf(stack: Stack, taskId: string): string {
  for (const line of stack.logs) {
    const entry = JSON.parse(line) as { msg?: string; taskId?: string; upstreamTaskId?: string };
    if (entry.msg === 'task created' && entry.taskId === taskId && entry.upstreamTaskId)
      return entry.upstreamTaskId;
  }
  throw new Error(`no "task created" log line for ${taskId}`);
}

async function generate(stack: Stack, input = smallInput()): Promise<string> {
  const { body } = await stack.gql(GENERATE, { input });
  expect(body.errors).toBeUndefined();
  return body.data.generateVideo.id as string;
}

describe('upstream calls through a kept-alive pool', () => {
  let proxy: TcpProxy;
  let stack: Stack;
  let emulator: Emulator;
  beforeAll(async () => {
    emulator = await startEmulator({ timeScale: 1000 });
    proxy = await startTcpProxy([emulator.port]);
    stack = await startStack({
      env: { MUTATIONS_PER_MINUTE: '100000', MAX_IN_FLIGHT_TASKS: '10000' },
      config: { novitaBaseUrl: proxy.url },
    });
    return async () => {
      await stack.stop();
      await proxy.close();
      await emulator.close();
    };
  });

  it('30 mutations one after the other: many calls per connection, not one each', async () => {
    // One input for all: one render, so that the tasks end quickly and reads stay few.
    for (let index = 0; index < 30; index++) await generate(stack);
    const calls = emulator.requests().length;
    // 30 creates and their tracker's reads went through the proxy on a handful of connections
    // (reads of different tasks may overlap, each needing its own while it lasts).
    expect(calls).toBeGreaterThanOrEqual(30);
    expect(proxy.routed.length).toBeGreaterThan(0);
    expect(proxy.routed.length * 5).toBeLessThanOrEqual(calls);
  });
});

describe("a new task's first read", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      emulator: { timeScale: 1000 },
      // QUEUED without an eta: the first read waits the idle interval, at least 900 ms.
      gateway: { pollPolicy: { minIntervalMs: 1000, maxIntervalMs: 2000, idleIntervalMs: 1000 } },
    });
  });
  afterAll(() => stack?.stop());

  it('waits one poll interval, and a task done by then is read once', async () => {
    // Its video rendered beforehand: the task is then done upstream in milliseconds.
    const client = new NovitaClient({ apiKey: NOVITA_KEY, baseUrl: stack.emulator.url });
    const rendering = await client.createTask(toCreateTaskRequest(parseVideoInput(smallInput())));
    for await (const _ of pollTask(client, rendering, { minIntervalMs: 50 })) {
      // Until it ends.
    }
    const id = await generate(stack);
    const upstreamId = upstreamIdOf(stack, id);
    await vi.waitFor(
      () => expect(readsOf([...stack.emulator.requests()], upstreamId)).toHaveLength(1),
      { timeout: 20_000, interval: 50 },
    );
    const log = [...stack.emulator.requests()];
    const created = creates(log).find((entry) => entry.taskId === upstreamId);
    const [read] = readsOf(log, upstreamId);
    if (!created || !read) throw new Error('no create or read logged');
    // A lower bound only: a busy machine can make it later, never sooner.
    expect(Date.parse(read.time) - Date.parse(created.time)).toBeGreaterThanOrEqual(900);
    // The task (done upstream in milliseconds) ended with that one read.
    await vi.waitFor(
      async () => {
        const { body } = await stack.gql('query ($id: ID!) { videoTask(id: $id) { status } }', {
          id,
        });
        expect(body.data.videoTask.status).toBe('SUCCEEDED');
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(readsOf([...stack.emulator.requests()], upstreamId)).toHaveLength(1);
  });
});

describe("SQLite's WAL", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wan-video-wal-'));
    return () => rm(dir, { recursive: true, force: true });
  });

  /** The WAL header's checkpoint sequence number: it grows each time the WAL starts over. */
  async function walSequence(path: string): Promise<number> {
    const file = await open(`${path}-wal`, 'r');
    try {
      const header = Buffer.alloc(32);
      const { bytesRead } = await file.read(header, 0, 32, 0);
      return bytesRead < 32 ? -1 : header.readUInt32BE(12);
    } finally {
      await file.close();
    }
  }

  it('is checkpointed by the worker thread: it starts over while the store only writes', async () => {
    const path = join(dir, 'tasks.db');
    const store = new SqliteTaskStore(path);
    try {
      const input = parseVideoInput(smallInput());
      const insert = (index: number) =>
        store.insert(
          {
            id: randomUUID(),
            owner: 'wal-test',
            idempotencyKey: null,
            inputHash: `hash-${index}`,
            input,
            webhookSecretHash: null,
            createdAt: Date.now(),
            deadlineAt: Date.now() + 60_000,
          },
          { maxInFlight: 1_000_000 },
        );
      let written = 0;
      const first = await (async () => {
        await insert(written++);
        return walSequence(path);
      })();
      // Writes go on, a few at a time with the event loop free in between, until the WAL has
      // started over: only a checkpoint by someone else lets a writer do that.
      await vi.waitFor(
        async () => {
          for (let index = 0; index < 20; index++) await insert(written++);
          expect(await walSequence(path)).toBeGreaterThan(first);
        },
        // Pauses between the bursts: the worker checkpoints every 500 ms, and a WAL whose
        // frames are all copied starts over at the next write.
        { timeout: 25_000, interval: 300 },
      );
      expect(written).toBeGreaterThan(1);
    } finally {
      await store.close();
    }
  });
});
