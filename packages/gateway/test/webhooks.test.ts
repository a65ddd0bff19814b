/**
 * Webhook mode (PUBLIC_URL set): the emulator calls the gateway back when a task ends, the
 * gateway confirms with one read, and a webhook without the task's secret changes nothing.
 * The polling fallback is a minute away, so only a webhook can finish a task within a test.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { freePort } from './support/a-process.js';
import {
  creates,
  GENERATE,
  QUERY_TASK,
  readsOf,
  type Stack,
  smallInput,
  startStack,
  watch,
} from './support/stack.js';

let stack: Stack;
let publicUrl: string;

beforeAll(async () => {
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  stack = await startStack({
    env: { PORT: String(port), PUBLIC_URL: publicUrl },
    gateway: { webhookFallbackMs: 60_000 },
  });
});
afterAll(() => stack?.stop());

/** Upstream requests other than the gateway's readiness probe. */
const upstreamLog = async () =>
  (await stack.upstream()).filter((entry) => entry.taskId !== 'wan-video-readiness-probe');

/** Creates a task; returns it with the upstream task id the emulator gave it. */
async function createTask(input: Record<string, unknown>) {
  const before = creates(await upstreamLog()).length;
  const { body } = await stack.gql(GENERATE, { input });
  expect(body.errors).toBeUndefined();
  const made = creates(await upstreamLog());
  expect(made).toHaveLength(before + 1);
  return { task: body.data.generateVideo, upstreamTaskId: made.at(-1)?.taskId as string };
}

const forge = (id: string, query: string) =>
  fetch(`${stack.gateway.url}/webhooks/novita/${id}${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      event_type: 'ASYNC_TASK_RESULT',
      payload: {
        task: { task_id: 'forged', status: 'TASK_STATUS_SUCCEED', progress_percent: 100 },
        videos: [
          { video_url: 'https://evil.example/x.mp4', video_url_ttl: '3600', video_type: 'mp4' },
        ],
      },
    }),
  });

describe('webhook mode', () => {
  it('says so in gateway info', async () => {
    const { body } = await stack.gql('query { gateway { webhooks } }');
    expect(body.data.gateway.webhooks).toBe(true);
  });

  it('a task ends through its webhook: one create, one confirming read, the callback URL carrying a secret', async () => {
    const { task, upstreamTaskId } = await createTask(smallInput({ seed: 31 }));
    const sub = watch(stack.ws(), task.id);
    await sub.done;
    expect(sub.errors).toEqual([]);
    expect(sub.events.at(-1)).toMatchObject({ id: task.id, status: 'SUCCEEDED' });
    expect(sub.events.at(-1).videos).toHaveLength(1);

    const log = (await upstreamLog()).filter((entry) => entry.taskId === upstreamTaskId);
    expect(log.map((entry) => [entry.method, entry.path, entry.status])).toEqual([
      ['POST', '/v3/async/wan-t2v', 200],
      ['GET', '/v3/async/task-result', 200],
    ]);

    // The emulator delivers to the URL sent in the create body's extra.webhook.url.
    const deliveries = stack.emulator.webhooks().filter((hook) => hook.taskId === upstreamTaskId);
    expect(deliveries).toHaveLength(1);
    const [delivery] = deliveries;
    expect(delivery?.status).toBe(202);
    const url = new URL(delivery?.url as string);
    expect(`${url.origin}${url.pathname}`).toBe(`${publicUrl}/webhooks/novita/${task.id}`);
    const secret = url.searchParams.get('secret') as string;
    expect(secret).toMatch(/^[\w-]{32,}$/);
    // The secret is a credential: no log line shows it.
    expect(stack.logs.filter((line) => line.includes(secret))).toEqual([]);
  });

  it('a confirming read that fails does not lose the webhook: the task still ends, long before the fallback', async () => {
    const { task, upstreamTaskId } = await createTask(smallInput({ seed: 36 }));
    const sub = watch(stack.ws(), task.id);
    // The read after the webhook fails, all four tries of it (the only reads there are).
    stack.emulator.setFaults({ serverErrors: { count: 4 }, routes: ['result'] });
    try {
      await vi.waitFor(
        () => {
          const reads = readsOf([...stack.emulator.requests()], upstreamTaskId);
          expect(reads.slice(0, 4).map((entry) => entry.status)).toEqual([500, 502, 503, 500]);
        },
        { timeout: 10_000, interval: 20 },
      );
      // The upstream was answered 202: it will not send this webhook again.
      expect(
        stack.emulator
          .webhooks()
          .filter((hook) => hook.taskId === upstreamTaskId)
          .map((hook) => hook.status),
      ).toEqual([202]);
      // The task is done upstream; the gateway must still find out (by reading again), not wait
      // a minute for the polling fallback. 5 s is ample for a few retries.
      await vi.waitFor(() => expect(sub.events.at(-1)?.status).toBe('SUCCEEDED'), {
        timeout: 5000,
        interval: 50,
      });
    } finally {
      stack.emulator.setFaults({});
      sub.unsubscribe();
    }
  });

  it("a forged webhook (wrong, another task's, missing or empty secret; unknown task) answers 404, reads nothing upstream and changes nothing", async () => {
    // A stalled task never finishes, so no real webhook can come for it.
    stack.emulator.setFaults({ stallTasks: {} });
    const { task: running, upstreamTaskId } = await createTask(smallInput({ seed: 34 }));
    stack.emulator.setFaults({});
    const before = (await stack.gql(QUERY_TASK, { id: running.id })).body.data.videoTask;
    // Another task's real secret, from a task that ran to its end.
    const { task: finished, upstreamTaskId: finishedUpstream } = await createTask(
      smallInput({ seed: 33 }),
    );
    await watch(stack.ws(), finished.id).done;
    const delivery = stack.emulator.webhooks().find((hook) => hook.taskId === finishedUpstream);
    const otherSecret = new URL(delivery?.url as string).searchParams.get('secret') as string;
    expect(otherSecret).toBeTruthy();

    for (const query of [
      '?secret=wrong-secret-0123456789abcdefghij',
      `?secret=${encodeURIComponent(otherSecret)}`,
      '',
      '?secret=',
      '?other=1',
    ]) {
      const response = await forge(running.id, query);
      expect(response.status, query).toBe(404);
      expect(await response.json()).toEqual({ error: 'Unknown task or secret.' });
    }
    const unknown = await forge(randomUUID(), '?secret=whatever');
    expect(unknown.status).toBe(404);

    // Give any wrongly triggered read time to show: a whole other task runs to its end first.
    const { task: other } = await createTask(smallInput({ seed: 35 }));
    const sub = watch(stack.ws(), other.id);
    await sub.done;
    expect(sub.events.at(-1).status).toBe('SUCCEEDED');

    expect(readsOf(await upstreamLog(), upstreamTaskId)).toEqual([]);
    const after = (await stack.gql(QUERY_TASK, { id: running.id })).body.data.videoTask;
    expect(after).toEqual(before);
    expect(after.status).toBe('QUEUED');
    expect(after.videos).toEqual([]);
  });
});
