/**
 * The gateway's pooled upstream transport (undici) behind core's client, against the emulator
 * over loopback: it times its requests out itself (`fetchEnforcesTimeout`), so the client makes
 * no controller or timer per request, and a caller's abort still stops a request at once.
 */
import { isUpstreamError, NovitaClient } from '@wan-video/core';
import { type Emulator, startEmulator } from '@wan-video/emulator';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pooledUpstream, type UpstreamHttp } from '../src/upstream-http.js';

let emulator: Emulator;
let http: UpstreamHttp;
let taskId: string;

beforeAll(async () => {
  emulator = await startEmulator({ timeScale: 1000 });
  http = pooledUpstream(emulator.url);
  taskId = await client().createTask({
    model_name: 'wan2.1-t2v',
    prompt: 'a kite over a beach',
    width: 832,
    height: 480,
    seed: 3,
    steps: 4,
  });
});
afterAll(async () => {
  await http?.close();
  await emulator?.close();
});

function client(timeoutMs = 30_000) {
  return new NovitaClient({
    apiKey: 'test-key',
    baseUrl: emulator.url,
    fetch: http.fetch,
    fetchEnforcesTimeout: true,
    timeoutMs,
    retry: { maxAttempts: 1 },
  });
}

it('reads a task through the pool', async () => {
  const snapshot = await client().getTaskResult(taskId);
  expect(snapshot.taskId).toBe(taskId);
});

it('an answer slower than the timeout is a timeout, as core classifies its own', async () => {
  emulator.setFaults({ latencyMs: 3000 });
  try {
    const error = await client(300)
      .getTaskResult(taskId)
      .catch((caught: unknown) => caught);
    expect(isUpstreamError(error)).toBe(true);
    expect(error).toMatchObject({ kind: 'timeout', retryable: true, attempts: 1 });
    expect((error as Error).cause).toMatchObject({ name: 'TimeoutError' });
  } finally {
    emulator.setFaults({});
  }
});

it("a caller's abort stops the request with the caller's reason", async () => {
  emulator.setFaults({ latencyMs: 3000 });
  try {
    const controller = new AbortController();
    const reading = client().getTaskResult(taskId, { signal: controller.signal });
    const reason = new Error('the caller left');
    setImmediate(() => controller.abort(reason));
    await expect(reading).rejects.toBe(reason);
  } finally {
    emulator.setFaults({});
  }
});
