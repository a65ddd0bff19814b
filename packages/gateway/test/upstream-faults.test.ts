/**
 * An unreliable upstream: the emulator injects 5xx, 429, connection resets, malformed JSON,
 * latency and stalls. While polling, every task still ends in its true state; at create time,
 * a create is retried only when no task can exist (429), never after a 5xx or a broken answer.
 * Each test has its own stack (faults are per emulator), so they run concurrently; all share one
 * video store warmed once, so no test waits for a render.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Faults } from '@wan-video/emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  creates,
  GENERATE,
  readsOf,
  type Stack,
  type StackOptions,
  smallInput,
  startStack,
  watch,
} from './support/stack.js';

const INPUT = smallInput({ seed: 4242 });
let videos: string;

beforeAll(async () => {
  videos = await mkdtemp(join(tmpdir(), 'wan-gateway-faults-videos-'));
  // Render INPUT's video once: every emulator below finds it in the shared store.
  await withStack(async (stack) => {
    const { last } = await runTask(stack);
    expect(last.status).toBe('SUCCEEDED');
  });
});
afterAll(async () => {
  if (videos) await rm(videos, { recursive: true, force: true });
});

async function withStack<T>(
  use: (stack: Stack) => Promise<T>,
  options: StackOptions & { deadlineMs?: number } = {},
): Promise<T> {
  const { deadlineMs, ...rest } = options;
  const stackOptions = { ...rest, emulator: { storageDir: videos, ...rest.emulator } };
  const stack =
    deadlineMs === undefined
      ? await startStack(stackOptions)
      : await startStack({ ...stackOptions, config: { taskDeadlineMs: deadlineMs } });
  try {
    return await use(stack);
  } finally {
    await stack.stop();
  }
}

/** Creates a task with the mutation and returns it and its upstream id. */
async function createTask(stack: Stack, input: Record<string, unknown> = INPUT) {
  const before = creates(await stack.upstream()).length;
  const { body } = await stack.gql(GENERATE, { input });
  expect(body.errors).toBeUndefined();
  const made = creates(await stack.upstream());
  expect(made).toHaveLength(before + 1);
  return {
    id: body.data.generateVideo.id as string,
    upstreamTaskId: made.at(-1)?.taskId as string,
  };
}

/** Creates a task and follows it over graphql-ws until the subscription completes. */
async function runTask(stack: Stack, input: Record<string, unknown> = INPUT) {
  const { id, upstreamTaskId } = await createTask(stack, input);
  const sub = watch(stack.ws(), id);
  await sub.done;
  expect(sub.errors).toEqual([]);
  return { id, upstreamTaskId, events: sub.events, last: sub.events.at(-1) };
}

/** The statuses the emulator answered the reads of one task with, in order (`null`: reset). */
const readStatuses = async (stack: Stack, upstreamTaskId: string) =>
  readsOf(await stack.upstream(), upstreamTaskId).map((entry) => entry.status);

/** The error messages of the "polling goes on" warnings: a read failed after all its retries. */
const pollWarnings = (stack: Stack) =>
  stack.logs
    .map((line) => JSON.parse(line))
    .filter((record) => record.msg === 'upstream read failed; polling goes on')
    .map((record) => String(record.err?.message));

const expectSucceeded = (last: any) => {
  expect(last.status).toBe('SUCCEEDED');
  expect(last.progressPercent).toBe(100);
  expect(last.failureReason).toBeNull();
  expect(last.videos).toHaveLength(1);
};

describe.concurrent('faults while polling: each task still ends in its true state', () => {
  // Five strikes in a row: the client's four attempts all fail (the poller logs it and goes on),
  // then one more in the next read's retries.
  const bursts: [string, Faults, (number | null)[], RegExp][] = [
    [
      '5xx',
      { serverErrors: { count: 5 }, routes: ['result'] },
      [500, 502, 503, 500, 502],
      /answered HTTP 500 after 4 attempts/,
    ],
    [
      '429 with Retry-After: 0',
      { rateLimit: { count: 5, retryAfterSeconds: 0 }, routes: ['result'] },
      [429, 429, 429, 429, 429],
      /answered HTTP 429 after 4 attempts/,
    ],
    [
      'connection resets',
      { connectionReset: { count: 5 }, routes: ['result'] },
      [null, null, null, null, null],
      /network error/,
    ],
    [
      'malformed JSON',
      { malformedJson: { count: 5 }, routes: ['result'] },
      [200, 200, 200, 200, 200],
      /could not be read after 4 attempts/,
    ],
  ];

  it.each(bursts)(
    'a burst of %s on reads: SUCCEEDED, created once',
    async (_name, faults, struck, warning) => {
      await withStack(async (stack) => {
        stack.emulator.setFaults(faults);
        const { upstreamTaskId, last } = await runTask(stack);
        expectSucceeded(last);
        const statuses = await readStatuses(stack, upstreamTaskId);
        expect(statuses.slice(0, struck.length)).toEqual(struck);
        expect(statuses.at(-1)).toBe(200);
        expect(statuses.length).toBeGreaterThan(struck.length);
        expect(pollWarnings(stack)).toEqual(
          expect.arrayContaining([expect.stringMatching(warning)]),
        );
        expect(creates(await stack.upstream())).toHaveLength(1);
        // The video link the gateway passed on is the emulator's, and it works.
        expect((await fetch(last.videos[0].url)).status).toBe(200);
      });
    },
  );

  it('a 429 with Retry-After: 1 on a read: the next read waits for it, then SUCCEEDED', async () => {
    await withStack(async (stack) => {
      stack.emulator.setFaults({
        rateLimit: { count: 1, retryAfterSeconds: 1 },
        routes: ['result'],
      });
      const { upstreamTaskId, last } = await runTask(stack);
      expectSucceeded(last);
      const reads = readsOf(await stack.upstream(), upstreamTaskId);
      expect(reads[0]?.status).toBe(429);
      expect(reads[1]?.status).toBe(200);
      // Retry-After is honoured (a lower bound, with a little room for clock granularity).
      const waited = Date.parse(reads[1]?.time as string) - Date.parse(reads[0]?.time as string);
      expect(waited).toBeGreaterThanOrEqual(950);
    });
  });

  it('latency on every answer: SUCCEEDED, created once', async () => {
    await withStack(async (stack) => {
      stack.emulator.setFaults({ latencyMs: 300 });
      const { upstreamTaskId, last } = await runTask(stack);
      expectSucceeded(last);
      expect(await readStatuses(stack, upstreamTaskId)).not.toContain(null);
      expect(creates(await stack.upstream())).toHaveLength(1);
    });
  });

  it('a failing task behind a burst of 5xx: FAILED with the upstream reason', async () => {
    await withStack(async (stack) => {
      stack.emulator.setFaults({
        failTasks: { reason: 'content policy violation' },
        serverErrors: { count: 5 },
        routes: ['result'],
      });
      const { upstreamTaskId, last } = await runTask(stack);
      expect(last).toMatchObject({
        status: 'FAILED',
        failureReason: 'content policy violation',
        videos: [],
      });
      expect((await readStatuses(stack, upstreamTaskId)).slice(0, 5)).toEqual([
        500, 502, 503, 500, 502,
      ]);
    });
  });

  it('every kind of fault at once, spread over three tasks in flight: each ends in its true state', async () => {
    await withStack(async (stack) => {
      const mixed: Faults = {
        connectionReset: { rate: 0.2 },
        rateLimit: { rate: 0.1, retryAfterSeconds: 0 },
        serverErrors: { rate: 0.2 },
        malformedJson: { rate: 0.2 },
        routes: ['result'],
      };
      stack.emulator.setFaults(mixed);
      const a = await createTask(stack);
      const b = await createTask(stack);
      stack.emulator.setFaults({ ...mixed, failTasks: { reason: 'out of credits' } });
      const c = await createTask(stack);
      const subs = [a, b, c].map((task) => watch(stack.ws(), task.id));
      await Promise.all(subs.map((sub) => sub.done));
      for (const sub of subs) expect(sub.errors).toEqual([]);
      expectSucceeded(subs[0]?.events.at(-1));
      expectSucceeded(subs[1]?.events.at(-1));
      expect(subs[2]?.events.at(-1)).toMatchObject({
        status: 'FAILED',
        failureReason: 'out of credits',
      });
      const log = await stack.upstream();
      expect(creates(log)).toHaveLength(3);
      const struck = log.filter(
        (entry) => entry.path.endsWith('/task-result') && entry.status !== 200,
      );
      expect(struck.length).toBeGreaterThan(0);
    });
  });
});

describe.concurrent('the task deadline', () => {
  // TASK_DEADLINE_SECONDS is 10 at the least; the same GatewayConfig field, set to 2 s here,
  // keeps the test short.
  it('a task that stalls upstream ends FAILED at its deadline, with a reason that says so', async () => {
    await withStack(
      async (stack) => {
        stack.emulator.setFaults({ stallTasks: { progress: 37 } });
        const { last, events } = await runTask(stack);
        expect(events.map((event) => event.status)).toContain('PROCESSING');
        expect(last).toMatchObject({ status: 'FAILED', progressPercent: 37, videos: [] });
        expect(last.failureReason).toMatch(/did not finish within 2 seconds/);
      },
      { deadlineMs: 2000 },
    );
  });

  it('a task whose every read fails ends FAILED at its deadline instead of hanging', async () => {
    await withStack(
      async (stack) => {
        stack.emulator.setFaults({ serverErrors: { rate: 1 }, routes: ['result'] });
        const { upstreamTaskId, last } = await runTask(stack);
        expect(last.status).toBe('FAILED');
        expect(last.failureReason).toMatch(/did not finish within 2 seconds/);
        expect(await readStatuses(stack, upstreamTaskId)).not.toContain(200);
      },
      { deadlineMs: 2000 },
    );
  });
});

const LIST = 'query { videoTasks(first: 10) { edges { node { id status failureReason } } } }';

describe.concurrent('faults at create time', () => {
  const notConfirmed: [string, Faults, number | null][] = [
    ['a 500', { serverErrors: { count: 1, statuses: [500] }, routes: ['create'] }, 500],
    ['a connection reset', { connectionReset: { count: 1 }, routes: ['create'] }, null],
    ['a malformed 200', { malformedJson: { count: 1 }, routes: ['create'] }, 200],
  ];

  it.each(notConfirmed)(
    '%s on create: UPSTREAM_UNAVAILABLE, exactly one POST, the task kept FAILED and never sent again',
    async (_name, faults, status) => {
      await withStack(async (stack) => {
        stack.emulator.setFaults(faults);
        const { body } = await stack.gql(GENERATE, { input: INPUT, key: 'create-once' });
        expect(body.data).toBeNull();
        expect(body.errors).toHaveLength(1);
        expect(body.errors?.[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
        expect(creates(await stack.upstream()).map((entry) => entry.status)).toEqual([status]);

        // It may exist upstream: kept, FAILED, saying why.
        const list = await stack.gql(LIST);
        const nodes = list.body.data.videoTasks.edges.map((edge: any) => edge.node);
        expect(nodes).toHaveLength(1);
        expect(nodes[0].status).toBe('FAILED');
        expect(nodes[0].failureReason).toMatch(/did not confirm/);

        // A retry with the same key answers that task and sends nothing.
        stack.emulator.setFaults({});
        const retry = await stack.gql(GENERATE, { input: INPUT, key: 'create-once' });
        expect(retry.body.errors).toBeUndefined();
        expect(retry.body.data.generateVideo).toMatchObject({ id: nodes[0].id, status: 'FAILED' });
        expect(creates(await stack.upstream())).toHaveLength(1);
      });
    },
  );

  it('a 429 with Retry-After: 0 on create is retried: 429 then 200, and the task succeeds', async () => {
    await withStack(async (stack) => {
      stack.emulator.setFaults({
        rateLimit: { count: 1, retryAfterSeconds: 0 },
        routes: ['create'],
      });
      const { body } = await stack.gql(GENERATE, { input: INPUT });
      expect(body.errors).toBeUndefined();
      expect(body.data.generateVideo.status).toBe('QUEUED');
      expect(creates(await stack.upstream()).map((entry) => entry.status)).toEqual([429, 200]);
      const sub = watch(stack.ws(), body.data.generateVideo.id);
      await sub.done;
      expectSucceeded(sub.events.at(-1));
    });
  });

  it('429 on every try of a create: UPSTREAM_UNAVAILABLE after the retries, nothing kept, the key free again', async () => {
    await withStack(async (stack) => {
      stack.emulator.setFaults({
        rateLimit: { rate: 1, retryAfterSeconds: 0 },
        routes: ['create'],
      });
      const { body } = await stack.gql(GENERATE, { input: INPUT, key: 'busy' });
      expect(body.errors?.[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      const tries = creates(await stack.upstream());
      expect(tries.length).toBeGreaterThan(1);
      expect(tries.every((entry) => entry.status === 429)).toBe(true);
      expect((await stack.gql(LIST)).body.data.videoTasks.edges).toEqual([]);

      stack.emulator.setFaults({});
      const retry = await stack.gql(GENERATE, { input: INPUT, key: 'busy' });
      expect(retry.body.errors).toBeUndefined();
      expect(retry.body.data.generateVideo.status).toBe('QUEUED');
      expect(creates(await stack.upstream())).toHaveLength(tries.length + 1);
    });
  });

  it('a 429 asking for a longer wait than allowed: not waited for, the wait passed on, one POST', async () => {
    await withStack(async (stack) => {
      stack.emulator.setFaults({
        rateLimit: { count: 1, retryAfterSeconds: 120 },
        routes: ['create'],
      });
      const { body } = await stack.gql(GENERATE, { input: INPUT });
      expect(body.errors?.[0].extensions).toMatchObject({
        code: 'UPSTREAM_UNAVAILABLE',
        status: 429,
        retryAfterSeconds: 120,
      });
      expect(creates(await stack.upstream()).map((entry) => entry.status)).toEqual([429]);
      expect((await stack.gql(LIST)).body.data.videoTasks.edges).toEqual([]);
    });
  });
});
