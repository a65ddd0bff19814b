/** Each fault knob, set and reset over the admin HTTP routes, observed over the API. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator, RequestLogEntry } from '../src/index.js';
import { AUTH, create, emulators, follow, post, result, wire } from './support/harness.js';

const pool = emulators();
let emu: Emulator;
beforeAll(async () => {
  emu = await pool.start();
});
afterAll(() => pool.stopAll());
afterEach(async () => {
  const reset = await fetch(`${emu.url}/__emulator/faults`, { method: 'DELETE' });
  expect(await reset.json()).toEqual({ faults: {} });
});

async function setFaults(faults: unknown) {
  const response = await fetch(`${emu.url}/__emulator/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(faults),
  });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

async function requestLog(): Promise<RequestLogEntry[]> {
  return (
    (await (await fetch(`${emu.url}/__emulator/requests`)).json()) as {
      requests: RequestLogEntry[];
    }
  ).requests;
}

const rawResult = (taskId: string) =>
  fetch(`${emu.url}/v3/async/task-result?task_id=${taskId}`, { headers: AUTH });

describe('fault knobs', () => {
  it('latencyMs delays every API answer', async () => {
    const taskId = await create(emu.url);
    await setFaults({ latencyMs: 250 });
    const started = performance.now();
    expect((await rawResult(taskId)).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(240);
  });

  it('serverErrors answers the next N with 500/502/503 in turn, then recovers', async () => {
    const taskId = await create(emu.url);
    await setFaults({ serverErrors: { count: 4, statuses: [500, 502, 503] } });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await rawResult(taskId)).status);
    expect(statuses).toEqual([500, 502, 503, 500, 200]);
    const body = await (
      await fetch(`${emu.url}/v3/async/task-result?task_id=${taskId}`, { headers: AUTH })
    ).json();
    expect(body.task.task_id).toBe(taskId);
  });

  it('a rate strikes that share of requests, evenly', async () => {
    const taskId = await create(emu.url);
    await setFaults({ serverErrors: { rate: 0.5, statuses: [503] } });
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await rawResult(taskId)).status);
    expect(statuses).toEqual([200, 503, 200, 503, 200, 503]);
  });

  it('rateLimit answers 429 with Retry-After', async () => {
    await setFaults({ rateLimit: { count: 1, retryAfterSeconds: 7 } });
    const limited = await post(emu.url, wire());
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('7');
    expect(limited.json).toMatchObject({ code: 429, reason: 'RATE_LIMIT_EXCEEDED' });
    expect((await post(emu.url, wire())).status).toBe(200);
  });

  it('connectionReset drops the connection without an answer', async () => {
    const taskId = await create(emu.url);
    await setFaults({ connectionReset: { count: 1 } });
    await expect(rawResult(taskId)).rejects.toThrow();
    expect((await rawResult(taskId)).status).toBe(200);
    const reset = (await requestLog()).filter((entry) => entry.taskId === taskId);
    expect(reset.map((entry) => entry.status)).toEqual([200, null, 200]);
  });

  it('malformedJson cuts a 200 body short', async () => {
    const taskId = await create(emu.url);
    await setFaults({ malformedJson: { count: 1 } });
    const broken = await rawResult(taskId);
    expect(broken.status).toBe(200);
    const text = await broken.text();
    expect(() => JSON.parse(text)).toThrow();
    expect(text.startsWith('{"extra"')).toBe(true);
  });

  it('routes limits the answer faults to some routes', async () => {
    const taskId = await create(emu.url);
    await setFaults({ serverErrors: { rate: 1 }, routes: ['create'] });
    expect((await rawResult(taskId)).status).toBe(200);
    expect((await post(emu.url, wire())).status).toBe(500);
  });

  it('failTasks makes new tasks end FAILED with the reason', async () => {
    await setFaults({ failTasks: { reason: 'NSFW content detected' } });
    const taskId = await create(emu.url);
    const { final } = await follow(emu.url, taskId);
    expect(final).toMatchObject({
      status: 'FAILED',
      failureReason: 'NSFW content detected',
      videos: [],
    });
    expect((await result(emu.url, taskId)).json.task).toMatchObject({
      status: 'TASK_STATUS_FAILED',
      reason: 'NSFW content detected',
    });
  });

  it('stallTasks makes new tasks stay PROCESSING past their time', async () => {
    await setFaults({ stallTasks: { progress: 37 } });
    const taskId = await create(emu.url, { steps: 1 });
    const error = await follow(emu.url, taskId, 1500).catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'PollDeadlineError',
      lastSnapshot: { status: 'PROCESSING', progressPercent: 37 },
    });
  });

  it('faults already in force apply to tasks created before them only where they should', async () => {
    const before = await create(emu.url);
    await setFaults({ failTasks: { reason: 'late fault' } });
    const { final } = await follow(emu.url, before);
    expect(final.status).toBe('SUCCEEDED');
  });

  it('can be set at start', async () => {
    const faulty = await pool.start({ faults: { serverErrors: { count: 1, statuses: [502] } } });
    expect((await post(faulty.url, wire())).status).toBe(502);
    expect((await post(faulty.url, wire())).status).toBe(200);
  });

  it('refuses invalid faults, naming the problem, and keeps the old ones', async () => {
    await setFaults({ latencyMs: 5 });
    for (const bad of [
      { latencyMs: -1 },
      { serverErrors: { rate: 2 } },
      { serverErrors: {} },
      { nonsense: true },
    ]) {
      const answer = await setFaults(bad);
      expect(answer.status).toBe(400);
      expect(answer.json.metadata.issues.length).toBeGreaterThan(0);
    }
    expect(await (await fetch(`${emu.url}/__emulator/faults`)).json()).toEqual({
      faults: { latencyMs: 5 },
    });
  });
});

describe('the request log', () => {
  it('lists method, path, task id, time and answer status, and can be cleared', async () => {
    await fetch(`${emu.url}/__emulator/requests`, { method: 'DELETE' });
    const taskId = await create(emu.url);
    await result(emu.url, taskId);
    await result(emu.url, 'nope');
    const log = await requestLog();
    expect(log).toEqual([
      { method: 'POST', path: '/v3/async/wan-t2v', taskId, time: expect.any(String), status: 200 },
      {
        method: 'GET',
        path: '/v3/async/task-result',
        taskId,
        time: expect.any(String),
        status: 200,
      },
      {
        method: 'GET',
        path: '/v3/async/task-result',
        taskId: 'nope',
        time: expect.any(String),
        status: 404,
      },
    ]);
    expect(Number.isNaN(Date.parse(log[0]?.time ?? ''))).toBe(false);
  });

  it('counts a create refused by validation, which makes no task', async () => {
    await fetch(`${emu.url}/__emulator/requests`, { method: 'DELETE' });
    await post(emu.url, wire({ height: 832 }));
    expect(await requestLog()).toEqual([
      {
        method: 'POST',
        path: '/v3/async/wan-t2v',
        taskId: null,
        time: expect.any(String),
        status: 400,
      },
    ]);
  });
});

describe('the admin routes', () => {
  it('can be switched off', async () => {
    const closed = await pool.start({ admin: false });
    expect((await fetch(`${closed.url}/__emulator/faults`)).status).toBe(404);
    expect((await fetch(`${closed.url}/__emulator/requests`)).status).toBe(404);
    const answer = await fetch(`${closed.url}/__emulator/faults`, {
      method: 'POST',
      body: '{"latencyMs": 1}',
    });
    expect(answer.status).toBe(404);
  });
});
