import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isUpstreamError,
  isValidationError,
  NovitaClient,
  type NovitaClientOptions,
  UpstreamError,
} from '../src/index.js';
import {
  closedPort,
  hang,
  json,
  reset,
  type ScriptedServer,
  startScriptedServer,
  taskResult,
  text,
} from './support/scripted-server.js';

const API_KEY = 'sk-test-0123456789abcdef';
const TIMEOUT_MS = 10_000;
const request = {
  model_name: 'wan2.1-t2v',
  width: 832,
  height: 480,
  seed: 7,
  prompt: 'a red fox',
} as const;

/**
 * Records the backoff waits the client asks for and lets them pass at once: no test sleeps.
 * The per-call timeout (`timeoutMs`) keeps real time, since a real server is on the other end.
 */
function instantTimers(timeoutMs = TIMEOUT_MS) {
  const waits: number[] = [];
  return {
    waits,
    timeoutMs,
    options: {
      timeoutMs,
      setTimeout: (callback: () => void, ms: number) => {
        if (ms === timeoutMs) return setTimeout(callback, ms);
        waits.push(ms);
        return setTimeout(callback, 0);
      },
      clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
    },
  };
}

/**
 * Like `instantTimers`, but the per-call timeout starts counting only once the server holds the
 * request: on a busy machine, delivering a request over loopback can itself take longer than a
 * short timeout, and these tests are about a request that was sent and then timed out.
 */
function timeoutAfterArrival(timeoutMs = 200) {
  const waits: number[] = [];
  return {
    waits,
    options: {
      timeoutMs,
      setTimeout: (callback: () => void, ms: number) => {
        if (ms !== timeoutMs) {
          waits.push(ms);
          return setTimeout(callback, 0);
        }
        // The client arms this before it sends: the request it times is the server's next one.
        const timer: { cancelled: boolean; handle?: NodeJS.Timeout } = { cancelled: false };
        void server.received(server.requests.length + 1).then(() => {
          if (!timer.cancelled) timer.handle = setTimeout(callback, ms);
        });
        return timer;
      },
      clearTimeout: (timer: unknown) => {
        const armed = timer as { cancelled: boolean; handle?: NodeJS.Timeout };
        if (typeof armed === 'object' && armed !== null && 'cancelled' in armed) {
          armed.cancelled = true;
          clearTimeout(armed.handle);
        } else {
          clearTimeout(timer as NodeJS.Timeout);
        }
      },
    },
  };
}

let server: ScriptedServer;
afterEach(async () => {
  await server?.close();
});

function client(options: Partial<NovitaClientOptions> = {}) {
  return new NovitaClient({
    apiKey: API_KEY,
    baseUrl: server.url,
    timeoutMs: TIMEOUT_MS,
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isUpstreamError(error)) throw new Error(`expected an UpstreamError, got ${String(error)}`);
  return error;
}

const posts = () => server.requests.filter((r) => r.method === 'POST').length;
const gets = () => server.requests.filter((r) => r.method === 'GET').length;

describe('createTask', () => {
  it('sends the validated body with bearer auth and returns the task id', async () => {
    server = await startScriptedServer([json(200, { task_id: 'abc-123' })]);
    await expect(client().createTask(request)).resolves.toBe('abc-123');
    const [sent] = server.requests;
    expect(sent?.method).toBe('POST');
    expect(sent?.url).toBe('/v3/async/wan-t2v');
    expect(sent?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(sent?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent?.body ?? '')).toEqual({
      ...request,
      steps: 30,
      guidance_scale: 5,
      flow_shift: 5,
    });
  });

  it('sends nothing for an invalid request', async () => {
    server = await startScriptedServer([]);
    const error = await client()
      .createTask({ ...request, height: 832 } as never)
      .catch((e: unknown) => e);
    expect(isValidationError(error)).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it('does not retry after a 500: a second create would be a second paid video', async () => {
    server = await startScriptedServer([
      json(500, { code: 500, reason: 'INTERNAL', message: 'boom' }),
    ]);
    const error = await failure(client().createTask(request));
    expect(posts()).toBe(1);
    expect(error).toMatchObject({
      kind: 'http',
      status: 500,
      retryable: false,
      attempts: 1,
      reason: 'INTERNAL',
    });
  });

  it.each([502, 503])('does not retry after a %i', async (status) => {
    server = await startScriptedServer([text(status, 'bad gateway')]);
    const error = await failure(client().createTask(request));
    expect(posts()).toBe(1);
    expect(error).toMatchObject({ status, retryable: false, body: 'bad gateway' });
  });

  it('does not retry after a timeout', async () => {
    server = await startScriptedServer([hang(), json(200, { task_id: 'second' })]);
    const error = await failure(client(timeoutAfterArrival().options).createTask(request));
    expect(error).toMatchObject({ kind: 'timeout', retryable: false, attempts: 1 });
    expect(posts()).toBe(1);
  });

  it('does not retry after a connection reset', async () => {
    server = await startScriptedServer([reset(), json(200, { task_id: 'second' })]);
    const error = await failure(client().createTask(request));
    expect(error).toMatchObject({ kind: 'network', retryable: false });
    expect(posts()).toBe(1);
  });

  it('does not retry a 2xx it cannot read, since the task may exist', async () => {
    server = await startScriptedServer([
      text(200, '{"task_id": '),
      json(200, { task_id: 'second' }),
    ]);
    const error = await failure(client().createTask(request));
    expect(error).toMatchObject({ kind: 'bad_response', retryable: false, body: '{"task_id": ' });
    expect(posts()).toBe(1);
  });

  it('retries a 429, waiting as long as Retry-After says', async () => {
    const timers = instantTimers();
    server = await startScriptedServer([
      json(
        429,
        { code: 429, reason: 'RATE_LIMITED', message: 'slow down' },
        { 'retry-after': '2' },
      ),
      json(200, { task_id: 'after-429' }),
    ]);
    await expect(client(timers.options).createTask(request)).resolves.toBe('after-429');
    expect(posts()).toBe(2);
    expect(timers.waits).toEqual([2000]);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const timers = instantTimers();
    const now = Date.parse('2026-11-25T12:00:00Z');
    server = await startScriptedServer([
      text(429, 'busy', { 'retry-after': 'Wed, 25 Nov 2026 12:00:05 GMT' }),
      json(200, { task_id: 'dated' }),
    ]);
    await expect(client({ ...timers.options, now: () => now }).createTask(request)).resolves.toBe(
      'dated',
    );
    expect(timers.waits).toEqual([5000]);
  });

  it('gives up on 429 after maxAttempts, saying it may be retried later', async () => {
    const timers = instantTimers();
    server = await startScriptedServer([text(429, 'a'), text(429, 'b'), text(429, 'c')]);
    const error = await failure(
      client({ ...timers.options, retry: { maxAttempts: 3 } }).createTask(request),
    );
    expect(error).toMatchObject({ status: 429, retryable: true, attempts: 3 });
    expect(posts()).toBe(3);
  });

  it('stops when Retry-After asks for longer than it will wait', async () => {
    server = await startScriptedServer([text(429, 'later', { 'retry-after': '3600' })]);
    const error = await failure(client().createTask(request));
    expect(error).toMatchObject({ status: 429, retryAfterMs: 3_600_000, attempts: 1 });
    expect(posts()).toBe(1);
  });

  it('retries when the connection is refused, since nothing reached the server', async () => {
    const port = await closedPort();
    server = await startScriptedServer([json(200, { task_id: 'unused' })]);
    let calls = 0;
    const timers = instantTimers();
    const refused = new NovitaClient({
      apiKey: API_KEY,
      baseUrl: `http://127.0.0.1:${port}`,
      ...timers.options,
      retry: { maxAttempts: 3 },
      fetch: (input, init) => {
        calls++;
        return fetch(input, init);
      },
    });
    const error = await failure(refused.createTask(request));
    expect(error).toMatchObject({ kind: 'connection_refused', retryable: true, attempts: 3 });
    expect(calls).toBe(3);
    expect(timers.waits).toHaveLength(2);
  });
});

describe('getTaskResult', () => {
  it('returns a normalised snapshot', async () => {
    const now = 1_700_000_000_000;
    server = await startScriptedServer([
      taskResult('TASK_STATUS_SUCCEED', { progress: 100, seed: '9999999999' }),
    ]);
    const snapshot = await client({ now: () => now }).getTaskResult('task-1');
    expect(server.requests[0]?.url).toBe('/v3/async/task-result?task_id=task-1');
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(snapshot).toEqual({
      taskId: 'task-1',
      status: 'SUCCEEDED',
      progressPercent: 100,
      etaSeconds: null,
      failureReason: null,
      seed: 9_999_999_999,
      videos: [{ url: 'https://cdn.example/task-1.mp4', type: 'mp4', expiresAt: now + 3_600_000 }],
    });
  });

  it('escapes the task id', async () => {
    server = await startScriptedServer([taskResult('TASK_STATUS_QUEUED')]);
    await client().getTaskResult('a&b=c d');
    expect(server.requests[0]?.url).toBe('/v3/async/task-result?task_id=a%26b%3Dc%20d');
  });

  it('retries a burst of 500/502/503 with full-jitter backoff, then succeeds', async () => {
    const timers = instantTimers();
    server = await startScriptedServer([
      text(500, 'a'),
      text(502, 'b'),
      text(503, 'c'),
      taskResult('TASK_STATUS_PROCESSING', { progress: 40, eta: 12 }),
    ]);
    const snapshot = await client({ ...timers.options, random: () => 0.5 }).getTaskResult('task-1');
    expect(snapshot).toMatchObject({ status: 'PROCESSING', progressPercent: 40, etaSeconds: 12 });
    expect(gets()).toBe(4);
    // Half of the ceilings 250, 500, 1000 ms.
    expect(timers.waits).toEqual([125, 250, 500]);
  });

  it('gives up after maxAttempts with the last error', async () => {
    const timers = instantTimers();
    server = await startScriptedServer([
      text(503, 'x'),
      text(503, 'y'),
      text(503, 'z'),
      text(503, 'w'),
    ]);
    const error = await failure(client(timers.options).getTaskResult('task-1'));
    expect(error).toMatchObject({ status: 503, retryable: true, attempts: 4, body: 'w' });
    expect(gets()).toBe(4);
  });

  it('retries a hang past the timeout, a reset and malformed JSON', async () => {
    const timers = timeoutAfterArrival(200);
    server = await startScriptedServer([
      hang(),
      reset(),
      text(200, 'not json {'),
      taskResult('TASK_STATUS_QUEUED'),
    ]);
    const snapshot = await client(timers.options).getTaskResult('task-1');
    expect(snapshot.status).toBe('QUEUED');
    expect(gets()).toBe(4);
  });

  it('reports each failure kind when retries run out', async () => {
    const one = { retry: { maxAttempts: 1 } };
    server = await startScriptedServer([hang()]);
    await expect(
      failure(client({ ...one, timeoutMs: 150 }).getTaskResult('t')),
    ).resolves.toMatchObject({
      kind: 'timeout',
      retryable: true,
    });
    await server.close();
    server = await startScriptedServer([reset()]);
    await expect(failure(client(one).getTaskResult('t'))).resolves.toMatchObject({
      kind: 'network',
      retryable: true,
    });
    await server.close();
    server = await startScriptedServer([text(200, '<html>')]);
    await expect(failure(client(one).getTaskResult('t'))).resolves.toMatchObject({
      kind: 'bad_response',
      body: '<html>',
    });
    await server.close();
    server = await startScriptedServer([
      json(200, { task: { status: 'TASK_STATUS_SOMETHING_NEW' } }),
    ]);
    const odd = await failure(client(one).getTaskResult('t'));
    expect(odd.kind).toBe('bad_response');
    expect(isValidationError(odd.cause)).toBe(true);
  });

  it('does not retry 401, 400 or 404', async () => {
    server = await startScriptedServer([
      json(401, { code: 401, reason: 'INVALID_API_KEY', message: 'bad key' }),
      text(400, 'no json here'),
      json(404, { code: 404, reason: 'TASK_NOT_FOUND', message: 'no such task' }),
    ]);
    const c = client();
    await expect(failure(c.getTaskResult('t'))).resolves.toMatchObject({
      status: 401,
      reason: 'INVALID_API_KEY',
      upstreamMessage: 'bad key',
      retryable: false,
    });
    await expect(failure(c.getTaskResult('t'))).resolves.toMatchObject({
      status: 400,
      body: 'no json here',
      reason: undefined,
      retryable: false,
    });
    await expect(failure(c.getTaskResult('t'))).resolves.toMatchObject({
      status: 404,
      reason: 'TASK_NOT_FOUND',
    });
    expect(gets()).toBe(3);
  });

  it('reads a 400 with and without a JSON body', async () => {
    server = await startScriptedServer([
      json(400, {
        code: 400,
        reason: 'INVALID_REQUEST_BODY',
        message: 'height is invalid',
        metadata: {},
      }),
      text(400, 'Bad Request'),
    ]);
    const withJson = await failure(client().createTask(request));
    expect(withJson).toMatchObject({
      status: 400,
      reason: 'INVALID_REQUEST_BODY',
      upstreamMessage: 'height is invalid',
    });
    expect(withJson.message).toBe(
      'Upstream createTask answered HTTP 400 (INVALID_REQUEST_BODY: height is invalid)',
    );
    const withText = await failure(client().createTask(request));
    expect(withText).toMatchObject({ status: 400, body: 'Bad Request', reason: undefined });
  });

  it('stops at once when aborted, mid-request or mid-backoff', async () => {
    server = await startScriptedServer([hang()]);
    const controller = new AbortController();
    const pending = client().getTaskResult('t', { signal: controller.signal });
    await server.received(1);
    controller.abort(new Error('user cancelled'));
    await expect(pending).rejects.toThrow('user cancelled');

    await server.close();
    server = await startScriptedServer([text(503, 'x'), text(503, 'y')]);
    const backoff = new AbortController();
    const slow = client({
      retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 },
      random: () => 0.99,
      setTimeout: (callback, ms) => {
        if (ms !== TIMEOUT_MS)
          queueMicrotask(() => backoff.abort(new Error('gave up while waiting')));
        return setTimeout(callback, ms);
      },
    });
    await expect(slow.getTaskResult('t', { signal: backoff.signal })).rejects.toThrow(
      'gave up while waiting',
    );
    expect(gets()).toBe(1);
  });
});

describe('the API key', () => {
  it('never appears in an error, its message, its string form or the client itself', async () => {
    server = await startScriptedServer([
      text(500, `upstream echoed Bearer ${API_KEY} back`),
      json(401, { reason: `KEY_${API_KEY}`, message: `key ${API_KEY} is revoked` }),
    ]);
    const c = client({ retry: { maxAttempts: 1 } });
    for (const call of [c.createTask(request), c.createTask(request)]) {
      const error = await failure(call);
      const everything = [
        error.message,
        String(error),
        error.stack ?? '',
        JSON.stringify(error),
        inspect(error, { depth: 5 }),
        JSON.stringify({ ...error }),
      ].join('\n');
      expect(everything).not.toContain(API_KEY);
      expect(everything).toContain('[redacted]');
    }
    expect(String(c)).not.toContain(API_KEY);
    expect(JSON.stringify(c)).not.toContain(API_KEY);
    expect(inspect(c, { depth: 5, showHidden: true })).not.toContain(API_KEY);
  });

  it('is required', () => {
    expect(() => new NovitaClient({ apiKey: ' ' })).toThrow('non-empty apiKey');
  });
});

describe('UpstreamError', () => {
  it('is recognised across copies of the class', async () => {
    server = await startScriptedServer([text(500, 'x')]);
    const error = await failure(client().createTask(request));
    expect(error).toBeInstanceOf(UpstreamError);
    // A plain copy is not branded; the real one is, even through a structured clone's loss of prototype.
    expect(isUpstreamError({ ...error })).toBe(false);
    expect(isUpstreamError(error)).toBe(true);
  });
});

describe('timeouts, Retry-After, refusals, aborts and the key', () => {
  it("with fetchEnforcesTimeout, hands fetch the timeout and the caller's own signal, and takes its TimeoutError as a timeout", async () => {
    server = await startScriptedServer([hang(), taskResult('TASK_STATUS_QUEUED'), hang()]);
    const seen: { timeoutMs: number | undefined; signal: AbortSignal | null | undefined }[] = [];
    // A fetch that times itself out, as the gateway's pooled one does with undici's timeouts.
    const timingFetch: NovitaClientOptions['fetch'] = async (input, init) => {
      seen.push({ timeoutMs: init.timeoutMs, signal: init.signal });
      const own = AbortSignal.timeout(init.timeoutMs ?? 10_000);
      const signal = init.signal ? AbortSignal.any([init.signal, own]) : own;
      return fetch(input, { ...init, signal });
    };
    const caller = new AbortController();
    const timers = instantTimers(150);
    const enforced = client({ ...timers.options, fetch: timingFetch, fetchEnforcesTimeout: true });

    const snapshot = await enforced.getTaskResult('task-1', { signal: caller.signal });
    expect(snapshot.status).toBe('QUEUED');
    expect(gets()).toBe(2);
    expect(seen).toEqual([
      { timeoutMs: 150, signal: caller.signal },
      { timeoutMs: 150, signal: caller.signal },
    ]);
    // Without a signal of the caller's, none is made for the request.
    const once = client({
      fetch: timingFetch,
      fetchEnforcesTimeout: true,
      retry: { maxAttempts: 1 },
    });
    const error = await failure(once.getTaskResult('task-1', { timeoutMs: 100 }));
    expect(seen[2]).toEqual({ timeoutMs: 100, signal: undefined });
    expect(error).toMatchObject({ kind: 'timeout', retryable: true, attempts: 1 });
  });

  it('lets one call override the timeout', async () => {
    server = await startScriptedServer([hang()]);
    const error = await failure(
      client({ retry: { maxAttempts: 1 } }).getTaskResult('t', { timeoutMs: 100 }),
    );
    expect(error).toMatchObject({ kind: 'timeout', attempts: 1 });
  });

  it('honours Retry-After on reads', async () => {
    const timers = instantTimers();
    server = await startScriptedServer([
      text(503, 'busy', { 'retry-after': '2' }),
      taskResult('TASK_STATUS_QUEUED'),
    ]);
    await expect(client(timers.options).getTaskResult('t')).resolves.toMatchObject({
      status: 'QUEUED',
    });
    expect(timers.waits).toEqual([2000]);
  });

  it('creates once the server it was refused by comes up', async () => {
    const port = await closedPort();
    let calls = 0;
    let late: ScriptedServer | undefined;
    const refusedThenUp = new NovitaClient({
      apiKey: API_KEY,
      baseUrl: `http://127.0.0.1:${port}`,
      random: () => 0,
      fetch: async (input, init) => {
        calls++;
        try {
          return await fetch(input, init);
        } catch (error) {
          // The server starts listening right after the first refusal.
          if (!late) {
            late = await startScriptedServer([json(200, { task_id: 'late-task' })], port);
            server = late; // closed after the test
          }
          throw error;
        }
      },
    });
    await expect(refusedThenUp.createTask(request)).resolves.toBe('late-task');
    expect(calls).toBe(2);
    expect(late?.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('keeps the key out of the cause chain of an unreadable 2xx', async () => {
    server = await startScriptedServer([text(200, `${API_KEY} is not JSON`)]);
    const error = await failure(client({ retry: { maxAttempts: 1 } }).getTaskResult('t'));
    expect(error.kind).toBe('bad_response');
    expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(API_KEY);
    expect(String(error.cause)).not.toContain(API_KEY);
  });

  it('turns an abort of a create that may have been sent into a non-retryable error', async () => {
    server = await startScriptedServer([hang()]);
    const controller = new AbortController();
    const pending = client().createTask(request, { signal: controller.signal });
    await server.received(1);
    controller.abort(new Error('navigated away'));
    const error = await failure(pending);
    expect(error).toMatchObject({ kind: 'aborted', retryable: false, operation: 'createTask' });
    expect((error.cause as Error).message).toBe('navigated away');
  });

  it('rejects with the plain reason when a create is aborted before anything could be created', async () => {
    server = await startScriptedServer([text(429, 'slow', { 'retry-after': '30' })]);
    const controller = new AbortController();
    const c = client({
      setTimeout: (callback, ms) => {
        if (ms === 30_000) queueMicrotask(() => controller.abort(new Error('gave up on the 429')));
        return setTimeout(callback, ms);
      },
    });
    const error = await c
      .createTask(request, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(isUpstreamError(error)).toBe(false);
    expect((error as Error).message).toBe('gave up on the 429');
    const before = new AbortController();
    before.abort(new Error('never started'));
    await expect(client().createTask(request, { signal: before.signal })).rejects.toThrow(
      'never started',
    );
  });
});
