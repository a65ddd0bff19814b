import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_POLL_POLICY,
  isPollDeadlineError,
  isUpstreamError,
  NovitaClient,
  nextPollDelay,
  type PollPolicy,
  type PollState,
  pollTask,
  type TaskReader,
  type TaskSnapshot,
  type UpstreamError,
} from '../src/index.js';
import {
  hang,
  json,
  reset,
  type ScriptedServer,
  startScriptedServer,
  taskResult,
  text,
} from './support/scripted-server.js';

/** Real timers, tiny intervals: the poller runs against a real server in milliseconds. */
const fast: PollPolicy = { minIntervalMs: 1, maxIntervalMs: 5, idleIntervalMs: 1 };

let server: ScriptedServer;
afterEach(async () => {
  await server?.close();
  vi.useRealTimers();
});

const reader = (maxAttempts = 1) =>
  new NovitaClient({
    apiKey: 'k-123456789',
    baseUrl: server.url,
    retry: { maxAttempts, baseDelayMs: 1 },
    timeoutMs: 2000,
  });

async function collect(iterator: AsyncGenerator<TaskSnapshot, TaskSnapshot>) {
  const seen: TaskSnapshot[] = [];
  for (;;) {
    const step = await iterator.next();
    if (step.done) return { seen, final: step.value };
    seen.push(step.value);
  }
}

describe('pollTask against a real server', () => {
  it('follows QUEUED → PROCESSING 10..90 → SUCCEED, yielding only real changes', async () => {
    server = await startScriptedServer([
      taskResult('TASK_STATUS_QUEUED'),
      taskResult('TASK_STATUS_QUEUED'),
      ...[10, 30, 30, 50, 70, 90].map((progress) =>
        taskResult('TASK_STATUS_PROCESSING', { progress, eta: (100 - progress) / 10 }),
      ),
      taskResult('TASK_STATUS_SUCCEED', { progress: 100 }),
    ]);
    const { seen, final } = await collect(pollTask(reader(), 'task-1', fast));
    expect(seen.map((s) => `${s.status}:${s.progressPercent}`)).toEqual([
      'QUEUED:0',
      'PROCESSING:10',
      'PROCESSING:30',
      'PROCESSING:50',
      'PROCESSING:70',
      'PROCESSING:90',
      'SUCCEEDED:100',
    ]);
    expect(final.videos).toHaveLength(1);
    expect(server.requests).toHaveLength(9);
    expect(server.pending).toBe(0);
  });

  it('follows QUEUED → PROCESSING → FAILED and ends with the reason', async () => {
    server = await startScriptedServer([
      taskResult('TASK_STATUS_QUEUED'),
      taskResult('TASK_STATUS_PROCESSING', { progress: 20 }),
      taskResult('TASK_STATUS_FAILED', { reason: 'content policy' }),
    ]);
    const { seen, final } = await collect(pollTask(reader(), 'task-1', fast));
    expect(seen.map((s) => s.status)).toEqual(['QUEUED', 'PROCESSING', 'FAILED']);
    expect(final).toMatchObject({
      status: 'FAILED',
      failureReason: 'content policy',
      progressPercent: 20,
    });
  });

  it('rides out 5xx bursts, resets, 429s and malformed JSON, reporting each', async () => {
    server = await startScriptedServer([
      taskResult('TASK_STATUS_PROCESSING', { progress: 10 }),
      text(500, 'a'),
      text(502, 'b'),
      reset(),
      text(200, '{{{'),
      json(429, { reason: 'RATE_LIMITED' }, { 'retry-after': '0' }),
      text(503, 'c'),
      taskResult('TASK_STATUS_SUCCEED'),
    ]);
    const errors: UpstreamError[] = [];
    const { final } = await collect(
      pollTask(reader(), 'task-1', { ...fast, onError: (e) => errors.push(e) }),
    );
    expect(final.status).toBe('SUCCEEDED');
    expect(errors.map((e) => e.status ?? e.kind)).toEqual([
      500,
      502,
      'network',
      'bad_response',
      429,
      503,
    ]);
  });

  it('throws what cannot be retried', async () => {
    server = await startScriptedServer([
      taskResult('TASK_STATUS_QUEUED'),
      json(401, { reason: 'INVALID_API_KEY' }),
    ]);
    const iterator = pollTask(reader(), 'task-1', fast);
    await expect(iterator.next()).resolves.toMatchObject({ done: false });
    const error = await iterator.next().catch((e: unknown) => e);
    expect(isUpstreamError(error) && error.status).toBe(401);
  });

  it('stops on abort during a wait, with the signal reason, and reads no more', async () => {
    server = await startScriptedServer(
      Array.from({ length: 5 }, () => taskResult('TASK_STATUS_QUEUED')),
    );
    const controller = new AbortController();
    const iterator = pollTask(reader(), 'task-1', {
      minIntervalMs: 60_000,
      maxIntervalMs: 60_000,
      signal: controller.signal,
    });
    await iterator.next();
    const pending = iterator.next(); // now waiting a minute before the next read
    controller.abort(new Error('client went away'));
    await expect(pending).rejects.toThrow('client went away');
    await expect(iterator.next()).resolves.toEqual({ done: true, value: undefined });
    expect(server.requests).toHaveLength(1);
  });

  it('stops on abort during a read', async () => {
    server = await startScriptedServer([hang()]);
    const controller = new AbortController();
    const pending = collect(pollTask(reader(), 'task-1', { ...fast, signal: controller.signal }));
    await vi.waitFor(() => expect(server.requests).toHaveLength(1));
    controller.abort(new Error('user left mid-read'));
    await expect(pending).rejects.toThrow('user left mid-read');
  });

  it('gives up at the deadline with the last snapshot', async () => {
    server = await startScriptedServer(
      Array.from({ length: 500 }, () => taskResult('TASK_STATUS_PROCESSING', { progress: 50 })),
    );
    const deadline = Date.now() + 100;
    const error = await collect(pollTask(reader(), 'task-1', { ...fast, deadline })).catch(
      (e: unknown) => e,
    );
    expect(isPollDeadlineError(error)).toBe(true);
    expect(isPollDeadlineError(error) && error.lastSnapshot?.progressPercent).toBe(50);
    expect(Date.now()).toBeGreaterThanOrEqual(deadline);
  });

  it('resumes from a known snapshot without repeating it', async () => {
    server = await startScriptedServer([taskResult('TASK_STATUS_PROCESSING', { progress: 40 })]);
    const initial = await reader().getTaskResult('task-1');
    server.script(
      taskResult('TASK_STATUS_PROCESSING', { progress: 40 }),
      taskResult('TASK_STATUS_PROCESSING', { progress: 30 }),
      taskResult('TASK_STATUS_SUCCEED'),
    );
    const { seen } = await collect(pollTask(reader(), 'task-1', { ...fast, initial }));
    expect(seen.map((s) => `${s.status}:${s.progressPercent}`)).toEqual(['SUCCEEDED:100']);
    expect(server.requests).toHaveLength(4);
    expect(server.pending).toBe(0);
  });

  it('with a fresh initial snapshot, waits one interval before the first read', async () => {
    server = await startScriptedServer([taskResult('TASK_STATUS_QUEUED')]);
    const initial = await reader().getTaskResult('task-1');
    server.script(taskResult('TASK_STATUS_SUCCEED'));
    const policy = { minIntervalMs: 300, maxIntervalMs: 400, idleIntervalMs: 300, jitter: 0 };
    const started = Date.now();
    const { final } = await collect(
      pollTask(reader(), 'task-1', { ...policy, initial, initialIsFresh: true }),
    );
    // The one read went out after the idle interval that a QUEUED task without an eta calls for.
    expect(final.status).toBe('SUCCEEDED');
    expect(server.requests).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
  });

  it('refuses a deadline that is not a time, an initial snapshot of another task and bad bounds', async () => {
    server = await startScriptedServer([]);
    const done: TaskSnapshot = {
      taskId: 'other',
      status: 'QUEUED',
      progressPercent: 0,
      etaSeconds: null,
      failureReason: null,
      videos: [],
      seed: null,
    };
    await expect(pollTask(reader(), 't', { deadline: Number.NaN }).next()).rejects.toThrow(
      TypeError,
    );
    await expect(pollTask(reader(), 't', { initial: done }).next()).rejects.toThrow(/not of t/);
    await expect(
      pollTask(reader(), 't', { minIntervalMs: 20, maxIntervalMs: 5 }).next(),
    ).rejects.toThrow(RangeError);
    await expect(pollTask(reader(), 't', { jitter: 1 }).next()).rejects.toThrow(RangeError);
    expect(server.requests).toHaveLength(0);
  });

  it('makes one last read at the deadline, even on a clock that stands still', async () => {
    server = await startScriptedServer(
      Array.from({ length: 50 }, () => taskResult('TASK_STATUS_PROCESSING', { progress: 5 })),
    );
    const frozen = 1_000_000;
    const error = await collect(
      pollTask(reader(), 'task-1', { now: () => frozen, deadline: frozen + 1 }),
    ).catch((e: unknown) => e);
    expect(isPollDeadlineError(error)).toBe(true);
    // The first read, then the one at the deadline: never a read every millisecond.
    expect(server.requests).toHaveLength(2);
  });

  it('does not let a slow read run past the deadline', async () => {
    server = await startScriptedServer([hang(), hang(), hang(), hang()]);
    const slow = new NovitaClient({
      apiKey: 'k-123456789',
      baseUrl: server.url,
      timeoutMs: 30_000,
    });
    const deadline = Date.now() + 150;
    const error = await collect(
      pollTask(slow, 'task-1', { ...fast, deadline, deadlineGraceMs: 100 }),
    ).catch((e: unknown) => e);
    expect(isPollDeadlineError(error)).toBe(true);
    // Within the read grace, well before the client's own timeout (30 s per attempt, 4 attempts).
    expect(Date.now() - deadline).toBeLessThan(1000);
    expect(server.requests).toHaveLength(1);
  });

  it('gives all the reads of a task one deadline signal, and clears its timer at the end', async () => {
    server = await startScriptedServer([
      taskResult('TASK_STATUS_QUEUED'),
      taskResult('TASK_STATUS_PROCESSING', { progress: 50, eta: 1 }),
      taskResult('TASK_STATUS_SUCCEED', { progress: 100 }),
    ]);
    const client = reader();
    const signals: (AbortSignal | undefined)[] = [];
    const watched: TaskReader = {
      getTaskResult: (taskId, options) => {
        signals.push(options?.signal);
        return client.getTaskResult(taskId, options);
      },
    };
    const timers: { ms: number; cleared: boolean }[] = [];
    const handles = new Map<unknown, { ms: number; cleared: boolean }>();
    const { final } = await collect(
      pollTask(watched, 'task-1', {
        ...fast,
        deadline: Date.now() + 60_000,
        setTimeout: (callback, ms) => {
          const handle = setTimeout(callback, ms);
          const entry = { ms, cleared: false };
          timers.push(entry);
          handles.set(handle, entry);
          return handle;
        },
        clearTimeout: (handle) => {
          const entry = handles.get(handle);
          if (entry) entry.cleared = true;
          clearTimeout(handle as NodeJS.Timeout);
        },
      }),
    );
    expect(final.status).toBe('SUCCEEDED');
    expect(signals).toHaveLength(3);
    expect(new Set(signals).size).toBe(1);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    // One timer for the deadline (the rest are the waits between reads), cleared at the end.
    const deadlineTimers = timers.filter((timer) => timer.ms > 30_000);
    expect(deadlineTimers).toHaveLength(1);
    expect(deadlineTimers[0]?.cleared).toBe(true);
  });

  it('waits as long as a Retry-After the client would not wait for', async () => {
    server = await startScriptedServer(
      Array.from({ length: 50 }, () =>
        json(429, { reason: 'RATE_LIMITED' }, { 'retry-after': '3600' }),
      ),
    );
    const errors: UpstreamError[] = [];
    const deadline = Date.now() + 500;
    const error = await collect(
      pollTask(reader(4), 'task-1', { ...fast, deadline, onError: (e) => errors.push(e) }),
    ).catch((e: unknown) => e);
    expect(isPollDeadlineError(error)).toBe(true);
    // The first read, then only the last one at the deadline: no hammering in between.
    expect(server.requests).toHaveLength(2);
    expect(errors[0]?.retryAfterMs).toBe(3_600_000);
  });

  it('returns at once when resumed from a terminal snapshot', async () => {
    server = await startScriptedServer([]);
    const done: TaskSnapshot = {
      taskId: 't',
      status: 'FAILED',
      progressPercent: 3,
      etaSeconds: null,
      failureReason: 'x',
      videos: [],
      seed: 1,
    };
    await expect(collect(pollTask(reader(), 't', { initial: done }))).resolves.toEqual({
      seen: [],
      final: done,
    });
    expect(server.requests).toHaveLength(0);
  });
});

describe('nextPollDelay', () => {
  const noJitter = { ...DEFAULT_POLL_POLICY, jitter: 0 };
  const snapshot = (patch: Partial<TaskSnapshot>): TaskSnapshot => ({
    taskId: 't',
    status: 'PROCESSING',
    progressPercent: 50,
    etaSeconds: null,
    failureReason: null,
    videos: [],
    seed: null,
    ...patch,
  });
  const state = (patch: Partial<PollState>): PollState => ({
    snapshot: snapshot({}),
    progressPerSecond: null,
    unchangedReads: 0,
    failedReads: 0,
    ...patch,
  });
  const half = () => 0.5;

  it('waits half the eta, within bounds', () => {
    expect(nextPollDelay(state({ snapshot: snapshot({ etaSeconds: 6 }) }), noJitter, half)).toBe(
      3000,
    );
    expect(nextPollDelay(state({ snapshot: snapshot({ etaSeconds: 600 }) }), noJitter, half)).toBe(
      10_000,
    );
    expect(nextPollDelay(state({ snapshot: snapshot({ etaSeconds: 1 }) }), noJitter, half)).toBe(
      1000,
    );
  });

  it('estimates the eta from the progress rate when there is none', () => {
    // 50 points left at 10 points/s: 5 s left, wait 2.5 s.
    expect(nextPollDelay(state({ progressPerSecond: 10 }), noJitter, half)).toBe(2500);
  });

  it('backs off while nothing is known and nothing changes', () => {
    const waits = [0, 1, 2, 3, 4].map((unchangedReads) =>
      nextPollDelay(
        state({ snapshot: snapshot({ status: 'PROCESSING', progressPercent: 0 }), unchangedReads }),
        noJitter,
        half,
      ),
    );
    expect(waits).toEqual([2000, 3000, 4500, 6750, 10_000]);
  });

  it('reads a QUEUED task at least every 3 s, whatever its eta: the start of the work is seen', () => {
    const queued = (etaSeconds: number | null, unchangedReads = 0) =>
      nextPollDelay(
        state({
          snapshot: snapshot({ status: 'QUEUED', progressPercent: 0, etaSeconds }),
          unchangedReads,
        }),
        noJitter,
        half,
      );
    expect([queued(18), queued(600), queued(null, 4), queued(1)]).toEqual([3000, 3000, 3000, 1000]);
    // Once it runs, its eta paces the reads again.
    expect(
      nextPollDelay(
        state({
          snapshot: snapshot({ status: 'PROCESSING', progressPercent: 40, etaSeconds: 18 }),
        }),
        noJitter,
        half,
      ),
    ).toBe(9000);
  });

  it('backs off exponentially after failed reads', () => {
    const waits = [1, 2, 3, 4, 5].map((failedReads) =>
      nextPollDelay(state({ failedReads }), noJitter, () => 1),
    );
    expect(waits).toEqual([2000, 4000, 8000, 10_000, 10_000]);
  });

  it('spreads waits by the jitter and never leaves the bounds', () => {
    fc.assert(
      fc.property(
        fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: null }),
        fc.integer({ min: 0, max: 20 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (etaSeconds, unchangedReads, r) => {
          const wait = nextPollDelay(
            state({ snapshot: snapshot({ etaSeconds }), unchangedReads }),
            DEFAULT_POLL_POLICY,
            () => r,
          );
          const plain = nextPollDelay(
            state({ snapshot: snapshot({ etaSeconds }), unchangedReads }),
            noJitter,
            () => r,
          );
          expect(wait).toBeGreaterThanOrEqual(DEFAULT_POLL_POLICY.minIntervalMs);
          expect(wait).toBeLessThanOrEqual(DEFAULT_POLL_POLICY.maxIntervalMs);
          expect(Math.abs(wait - plain)).toBeLessThanOrEqual(
            plain * DEFAULT_POLL_POLICY.jitter + 1,
          );
        },
      ),
    );
  });
});

describe('pollTask on a simulated clock', () => {
  it('backs off when a task stalls, forgetting the progress rate it had', async () => {
    vi.useFakeTimers();
    const start = Date.now();
    const readAt: number[] = [];
    const stalling: TaskReader = {
      getTaskResult: async (taskId) => {
        readAt.push(Date.now() - start);
        const progress = Math.min(66, Math.floor((Date.now() - start) / 100));
        return {
          taskId,
          status: 'PROCESSING',
          progressPercent: progress,
          etaSeconds: null,
          failureReason: null,
          videos: [],
          seed: null,
        };
      },
    };
    const run = collect(pollTask(stalling, 't', { jitter: 0, deadline: start + 120_000 })).catch(
      (e: unknown) => e,
    );
    await vi.runAllTimersAsync();
    expect(isPollDeadlineError(await run)).toBe(true);
    const gaps = readAt.slice(1).map((at, i) => at - (readAt[i] ?? 0));
    // Once stuck at 66%, the waits grow to the 10 s ceiling instead of staying near 1 s.
    expect(gaps.slice(-4, -1)).toEqual([10_000, 10_000, 10_000]);
    expect(readAt.length).toBeLessThan(25);
  });

  /** An upstream task of `seconds` with an honest eta, read through the TaskReader seam. */
  function simulatedTask(seconds: number, startedAt: number) {
    let reads = 0;
    const upstream: TaskReader = {
      getTaskResult: async (taskId) => {
        reads++;
        const elapsed = (Date.now() - startedAt) / 1000;
        const done = elapsed >= seconds;
        return {
          taskId,
          status: done ? 'SUCCEEDED' : elapsed < 0.5 ? 'QUEUED' : 'PROCESSING',
          progressPercent: done ? 100 : Math.floor((elapsed / seconds) * 100),
          etaSeconds: done ? null : Math.max(1, Math.ceil(seconds - elapsed)),
          failureReason: null,
          videos: [],
          seed: 1,
        };
      },
    };
    return { upstream, reads: () => reads };
  }

  it('reads at most ceil(T / 3 s) + 3 times and sees the end within 2 s', async () => {
    vi.useFakeTimers();
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 900 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        async (seconds, r) => {
          const startedAt = Date.now();
          const task = simulatedTask(seconds, startedAt);
          const run = collect(pollTask(task.upstream, 't', { random: () => r }));
          await vi.runAllTimersAsync();
          const { final } = await run;
          expect(final.status).toBe('SUCCEEDED');
          const lag = (Date.now() - startedAt) / 1000 - seconds;
          expect(lag).toBeLessThanOrEqual(2);
          expect(task.reads()).toBeLessThanOrEqual(Math.ceil(seconds / 3) + 3);
        },
      ),
      { numRuns: 60 },
    );
  });
});
