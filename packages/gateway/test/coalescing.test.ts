/**
 * One tracker per task: however many clients watch a task, the upstream is read for it as often
 * as for a task nobody watches; and /metrics counts the live subscriptions in and out.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sample, scrape, sseOnce } from './support/b-helpers.js';
import {
  GENERATE,
  QUERY_TASK,
  readsOf,
  type Stack,
  smallInput,
  startStack,
  WATCH,
  watch,
} from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const liveSubscriptions = async () =>
  sample(await scrape(stack.gateway.url), 'wan_live_subscriptions');

async function generate(input: Record<string, unknown>): Promise<string> {
  const { body } = await stack.gql(GENERATE, { input });
  expect(body.errors).toBeUndefined();
  return body.data.generateVideo.id;
}

/** The upstream task id of a gateway task, from the gateway's own "task created" log line. */
function upstreamIdOf(taskId: string): string {
  for (const line of stack.logs) {
    const entry = JSON.parse(line) as { msg?: string; taskId?: string; upstreamTaskId?: string };
    if (entry.msg === 'task created' && entry.taskId === taskId && entry.upstreamTaskId)
      return entry.upstreamTaskId;
  }
  throw new Error(`no "task created" log line for ${taskId}`);
}

describe('coalescing', () => {
  it('53 subscribers on one task cost the upstream the reads of one subscriber, or of none', async () => {
    // Three identical tasks started together (same duration, one shared render), ~1.3 s each.
    const input = smallInput({ steps: 40, seed: 301 });
    const [crowd, single, unwatched] = await Promise.all([
      generate(input),
      generate(input),
      generate(input),
    ]);
    if (!crowd || !single || !unwatched) throw new Error('unreachable');

    // 5 graphql-ws connections × 10 subscriptions, and 3 over SSE, on one task.
    const clients = Array.from({ length: 5 }, () => stack.ws());
    const subscribers = clients.flatMap((client) =>
      Array.from({ length: 10 }, () => watch(client, crowd)),
    );
    const sses = Array.from({ length: 3 }, () =>
      sseOnce(stack.gateway.graphqlUrl, WATCH, { id: crowd }),
    );
    const alone = watch(stack.ws(), single);

    await vi.waitFor(async () => expect(await liveSubscriptions()).toBeGreaterThanOrEqual(53), {
      timeout: 5000,
      interval: 20,
    });

    await Promise.all([...subscribers.map((sub) => sub.done), alone.done]);
    const sseAnswers = await Promise.all(sses);
    await vi.waitFor(
      async () => {
        const { body } = await stack.gql(QUERY_TASK, { id: unwatched });
        expect(body.data.videoTask.status).toBe('SUCCEEDED');
      },
      { timeout: 5000, interval: 50 },
    );

    for (const sub of [...subscribers, alone]) {
      expect(sub.errors).toEqual([]);
      expect(sub.events.at(-1)).toMatchObject({ status: 'SUCCEEDED' });
    }
    for (const answer of sseAnswers) {
      expect(answer.status).toBe(200);
      expect(answer.messages.at(-1)?.data?.videoTask).toMatchObject({ status: 'SUCCEEDED' });
    }
    // Everyone saw the same final video.
    const urls = new Set(subscribers.map((sub) => sub.events.at(-1).videos[0]?.url));
    expect(urls.size).toBe(1);

    const log = await stack.upstream();
    const reads = {
      crowd: readsOf(log, upstreamIdOf(crowd)).length,
      single: readsOf(log, upstreamIdOf(single)).length,
      unwatched: readsOf(log, upstreamIdOf(unwatched)).length,
    };
    expect(reads.unwatched).toBeGreaterThanOrEqual(2);
    expect(Math.abs(reads.crowd - reads.single), JSON.stringify(reads)).toBeLessThanOrEqual(1);
    expect(Math.abs(reads.crowd - reads.unwatched), JSON.stringify(reads)).toBeLessThanOrEqual(1);
    expect(reads.crowd, JSON.stringify(reads)).toBeLessThanOrEqual(reads.unwatched + 1);

    await vi.waitFor(async () => expect(await liveSubscriptions()).toBe(0));
  });
});

describe('wan_live_subscriptions', () => {
  let stalled: string;
  beforeAll(async () => {
    // A task that stays PROCESSING: its subscribers only end when they leave.
    stack.emulator.setFaults({ stallTasks: { progress: 40 } });
    try {
      stalled = await generate(smallInput({ seed: 302 }));
    } finally {
      stack.emulator.setFaults({});
    }
    // Past its last change: from here on nothing new is published for it.
    await vi.waitFor(async () => {
      const { body } = await stack.gql(QUERY_TASK, { id: stalled });
      expect(body.data.videoTask).toMatchObject({ status: 'PROCESSING', progressPercent: 40 });
    });
  });

  it('counts a graphql-ws subscriber out as soon as it unsubscribes', async () => {
    const before = await liveSubscriptions();
    const sub = watch(stack.ws(), stalled);
    await vi.waitFor(() => expect(sub.events.length).toBeGreaterThan(0));
    expect(await liveSubscriptions()).toBe((before ?? 0) + 1);
    sub.unsubscribe();
    await vi.waitFor(async () => expect(await liveSubscriptions()).toBe(before));
  });

  it('counts graphql-ws subscribers out as soon as their connection closes', async () => {
    const before = await liveSubscriptions();
    const client = stack.ws();
    const subs = [watch(client, stalled), watch(client, stalled)];
    await vi.waitFor(() => {
      for (const sub of subs) expect(sub.events.length).toBeGreaterThan(0);
    });
    expect(await liveSubscriptions()).toBe((before ?? 0) + 2);
    await client.dispose();
    await vi.waitFor(async () => expect(await liveSubscriptions()).toBe(before));
  });

  it('counts an SSE subscriber out as soon as it goes away', async () => {
    const before = await liveSubscriptions();
    const controller = new AbortController();
    const response = await fetch(stack.gateway.graphqlUrl, {
      method: 'POST',
      signal: controller.signal,
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: WATCH, variables: { id: stalled } }),
    });
    const reader = response.body?.getReader();
    await reader?.read();
    expect(await liveSubscriptions()).toBe((before ?? 0) + 1);
    controller.abort();
    await vi.waitFor(async () => expect(await liveSubscriptions()).toBe(before));
  });
});
