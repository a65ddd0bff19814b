/**
 * BullMQ tracking against real parts: the emulator (time scale 20) as the upstream, the machine's
 * Redis under a key prefix of each test's own, and one SQLite file shared by two stores standing
 * for two replicas (each with its own events, writer and tracking). A replica that dies is a
 * child process, SIGKILLed in the middle of a read.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type CallOptions,
  NovitaClient,
  parseVideoInput,
  TASK_RESULT_PATH,
  type TaskReader,
  type TaskSnapshot,
  toCreateTaskRequest,
} from '@wan-video/core';
import { type Emulator, startEmulator } from '@wan-video/emulator';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalTaskEvents } from '../src/events/local.js';
import { SqliteTaskStore } from '../src/store/sqlite.js';
import type { TaskRecord } from '../src/store/types.js';
import { deadlineReason, isDone } from '../src/task.js';
import { TaskWriter } from '../src/task-writer.js';
import { BullMqTracking, type BullMqTrackingOptions } from '../src/tracking/bullmq.js';
import { freePort } from './support/a-process.js';
import { createRedisPrefix, REDIS_URL } from './support/services.js';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const TIME_SCALE = 20;
/** Reads close together, so that the tests are quick and replicas contend for jobs. */
const FAST_POLL = { minIntervalMs: 50, maxIntervalMs: 250, idleIntervalMs: 100 } as const;
const logger = pino({ level: 'silent' });
const TASK_INPUT = { prompt: 'a lighthouse at dusk, waves', seed: 7 } as const;

/** 1280x720 at 40 steps: about 3 s at this time scale. */
const LONG_TASK = { width: 1280, height: 720, steps: 40 } as const;

let emulator: Emulator;
let client: NovitaClient;
/**
 * The LONG_TASK video rendered once beforehand (the emulator keeps it by its inputs): a render
 * slower than the task, on a busy machine, would keep the task at 99% and add reads.
 */
let warmVideo: Promise<unknown>;
let dir: string;
/** Run after each test, last added first. */
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wan-tracking-bullmq-'));
  emulator = await startEmulator({
    timeScale: TIME_SCALE,
    storageDir: join(dir, 'videos'),
    maxConcurrentRenders: 4,
  });
  client = new NovitaClient({ apiKey: 'test-key', baseUrl: emulator.url });
  warmVideo = (async () => {
    const input = parseVideoInput({ ...TASK_INPUT, ...LONG_TASK });
    const upstreamId = await client.createTask(toCreateTaskRequest(input));
    await vi.waitFor(
      async () => {
        // Short reads: a latency fault set by another test must not hold this one up.
        const result = await client.getTaskResult(upstreamId, {
          signal: AbortSignal.timeout(1000),
        });
        expect(result.status).toBe('SUCCEEDED');
      },
      { timeout: 60_000, interval: 250 },
    );
  })();
  // Awaited by the test that needs it; a failure shows there.
  warmVideo.catch(() => {});
});

afterEach(async () => {
  emulator.setFaults({});
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Read {
  readonly replica: string;
  readonly upstreamId: string;
  readonly startedAt: number;
  endedAt?: number;
}

/** Every upstream read of every replica in this process: when, and how many at once per task. */
class ReadLog {
  readonly reads: Read[] = [];
  readonly #inFlight = new Map<string, number>();
  /** The most reads of one task in flight at the same moment, per upstream id. */
  readonly maxInFlight = new Map<string, number>();
  /** Called as a read starts (after it is counted). */
  onRead: ((read: Read) => void) | undefined;

  reader(replica: string): TaskReader {
    return {
      getTaskResult: async (upstreamId: string, options?: CallOptions): Promise<TaskSnapshot> => {
        const read: Read = { replica, upstreamId, startedAt: Date.now() };
        const now = (this.#inFlight.get(upstreamId) ?? 0) + 1;
        this.#inFlight.set(upstreamId, now);
        this.maxInFlight.set(upstreamId, Math.max(now, this.maxInFlight.get(upstreamId) ?? 0));
        this.reads.push(read);
        this.onRead?.(read);
        try {
          return await client.getTaskResult(upstreamId, options);
        } finally {
          read.endedAt = Date.now();
          this.#inFlight.set(upstreamId, (this.#inFlight.get(upstreamId) ?? 1) - 1);
        }
      },
    };
  }

  inFlight(upstreamId: string): number {
    return this.#inFlight.get(upstreamId) ?? 0;
  }

  of(upstreamId: string): Read[] {
    return this.reads.filter((read) => read.upstreamId === upstreamId);
  }
}

interface Replica {
  readonly name: string;
  readonly store: SqliteTaskStore;
  readonly events: LocalTaskEvents;
  readonly writer: TaskWriter;
  readonly tracking: BullMqTracking;
}

type TrackingTuning = Partial<
  Pick<
    BullMqTrackingOptions,
    'pollPolicy' | 'webhookFallbackMs' | 'lockDurationMs' | 'stalledIntervalMs' | 'stopTimeoutMs'
  >
>;

/** Two replicas on one database file and one Redis prefix (neither started). */
function cluster(tuning: TrackingTuning = {}) {
  const redisPrefix = createRedisPrefix();
  cleanups.push(() => redisPrefix.drop());
  const databasePath = join(dir, `${randomUUID()}.sqlite`);
  const log = new ReadLog();
  const replica = (name: string): Replica => {
    const store = new SqliteTaskStore(databasePath);
    const events = new LocalTaskEvents();
    const writer = new TaskWriter({ store, events, logger });
    const tracking = new BullMqTracking({
      redis: { url: REDIS_URL, prefix: redisPrefix.prefix },
      store,
      writer,
      reader: log.reader(name),
      logger,
      lockDurationMs: 2000,
      stalledIntervalMs: 1000,
      ...tuning,
    });
    cleanups.push(async () => {
      await tracking.stop();
      await events.close();
      await store.close();
    });
    return { name, store, events, writer, tracking };
  };
  const inspectorRedis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const inspector = new Queue('track', { connection: inspectorRedis, prefix: redisPrefix.prefix });
  cleanups.push(async () => {
    await inspector.close();
    inspectorRedis.disconnect();
  });
  return {
    a: replica('a'),
    b: replica('b'),
    log,
    prefix: redisPrefix.prefix,
    databasePath,
    inspector,
  };
}

interface NewTaskOptions {
  readonly width?: number;
  readonly height?: number;
  readonly steps?: number;
  /** Webhook mode: where the emulator posts the result (`{id}` is replaced by the task id). */
  readonly webhookUrl?: string;
  readonly deadlineMs?: number;
}

/** A task as the service makes one: a CREATING row, the paid create, then QUEUED. */
async function createTask(replica: Replica, options: NewTaskOptions = {}): Promise<TaskRecord> {
  const id = randomUUID();
  const input = parseVideoInput({
    ...TASK_INPUT,
    width: options.width ?? 832,
    height: options.height ?? 480,
    steps: options.steps ?? 20,
  });
  const createdAt = Date.now();
  const inserted = await replica.store.insert(
    {
      id,
      owner: 'tests',
      idempotencyKey: null,
      inputHash: 'test',
      input,
      webhookSecretHash: options.webhookUrl ? 'a-hash-of-the-secret' : null,
      createdAt,
      deadlineAt: createdAt + (options.deadlineMs ?? 60_000),
    },
    { maxInFlight: 1000 },
  );
  expect(inserted.outcome).toBe('created');
  const webhookUrl = options.webhookUrl?.replace('{id}', id);
  const upstreamId = await client.createTask(
    toCreateTaskRequest(input, webhookUrl ? { webhookUrl } : {}),
  );
  return replica.writer.markCreated(id, upstreamId);
}

async function waitUntilDone(replica: Replica, id: string, timeout = 20_000): Promise<TaskRecord> {
  return vi.waitFor(
    async () => {
      const record = await replica.store.get(id);
      if (!record || !isDone(record)) throw new Error(`task ${id} is ${record?.status}`);
      return record;
    },
    { timeout, interval: 25 },
  );
}

const upstreamReads = (upstreamId: string) =>
  emulator
    .requests()
    .filter((entry) => entry.path === TASK_RESULT_PATH && entry.taskId === upstreamId);

interface WorkerProcess {
  /** The JSON lines it wrote so far. */
  readonly lines: Record<string, unknown>[];
  /** Resolves with the first line (from now on, or already written) of that event. */
  next(event: string): Promise<Record<string, unknown>>;
  /** SIGKILL, and the exit. */
  kill(): Promise<void>;
}

/** `test/support/bullmq-worker-process.ts` as a child process: one more replica, killable. */
function startWorkerProcess(env: Record<string, string>): WorkerProcess {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=@wan-video/source', '--import', 'tsx', 'test/support/bullmq-worker-process.ts'],
    { cwd: PACKAGE_DIR, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffer += chunk;
    const complete = buffer.split('\n');
    buffer = complete.pop() ?? '';
    for (const line of complete) if (line.trim()) lines.push(JSON.parse(line));
    for (const wake of waiters.splice(0)) wake();
  });
  let dead = false;
  const kill = async () => {
    if (!dead && child.exitCode === null) child.kill('SIGKILL');
    dead = true;
    await exited;
  };
  cleanups.push(kill);
  return {
    lines,
    kill,
    async next(event) {
      for (;;) {
        const found = lines.find((line) => line.event === event);
        if (found) return found;
        if (child.exitCode !== null)
          throw new Error(`the worker process exited (${child.exitCode})`);
        await Promise.race([new Promise<void>((resolve) => waiters.push(resolve)), exited]);
      }
    },
  };
}

/** A webhook receiver: `POST /hook/<task id>` answers 200, then calls `onHook`. */
async function listen(onHook: (taskId: string) => Promise<void>): Promise<{ url: string }> {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200).end();
      const taskId = req.url?.split('/').at(-1);
      if (taskId) void onHook(taskId);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return { url: `http://127.0.0.1:${address.port}` };
}

describe('BullMqTracking', () => {
  it('two replicas: each of 10 tasks ends once, never with two reads of it in flight', async () => {
    const { a, b, log } = cluster({ pollPolicy: FAST_POLL });
    // Reads take a moment, so that overlapping reads would show.
    emulator.setFaults({ latencyMs: 40 });
    const tasks = await Promise.all(
      Array.from({ length: 10 }, (_, index) => createTask(index % 2 === 0 ? a : b, { steps: 15 })),
    );
    const finals = new Map<string, number>();
    for (const replica of [a, b]) {
      for (const task of tasks) {
        const stream = replica.events.subscribe(task.id);
        void (async () => {
          for await (const event of stream) {
            if (isDone(event.record)) finals.set(task.id, (finals.get(task.id) ?? 0) + 1);
          }
        })();
      }
    }
    // Webhooks landing on both replicas while a read of the task is in flight, on its 2nd read.
    const pokes: Promise<void>[] = [];
    log.onRead = (read) => {
      if (log.of(read.upstreamId).length !== 2) return;
      const task = tasks.find((item) => item.upstreamTaskId === read.upstreamId) as TaskRecord;
      pokes.push(a.tracking.poke(task), b.tracking.poke(task));
    };
    await Promise.all([a.tracking.start(), b.tracking.start()]);
    // Both replicas are asked to follow every task: one job each all the same.
    await Promise.all(tasks.flatMap((task) => [a.tracking.track(task), b.tracking.track(task)]));

    for (const task of tasks) expect((await waitUntilDone(a, task.id)).status).toBe('SUCCEEDED');
    await Promise.all(pokes);
    await vi.waitFor(() => expect(finals.size).toBe(tasks.length));
    for (const task of tasks) {
      expect(finals.get(task.id)).toBe(1);
      expect(log.maxInFlight.get(task.upstreamTaskId as string)).toBe(1);
    }
    expect(pokes.length).toBeGreaterThan(0);
    // Both replicas did the work.
    expect(log.reads.some((read) => read.replica === 'a')).toBe(true);
    expect(log.reads.some((read) => read.replica === 'b')).toBe(true);
  });

  it('a replica killed mid-read: another takes the task over and finishes it', async () => {
    const lock = { lockDurationMs: 1000, stalledIntervalMs: 500 };
    const { a, log, prefix, databasePath } = cluster({ pollPolicy: FAST_POLL, ...lock });
    const record = await createTask(a, { steps: 30 });
    const upstreamId = record.upstreamTaskId as string;

    const child = startWorkerProcess({
      TRACKING_DATABASE_PATH: databasePath,
      TRACKING_UPSTREAM_URL: emulator.url,
      TRACKING_REDIS_URL: REDIS_URL,
      TRACKING_REDIS_PREFIX: prefix,
      TRACKING_POLL_POLICY: JSON.stringify(FAST_POLL),
      TRACKING_LOCK_MS: String(lock.lockDurationMs),
      TRACKING_STALLED_MS: String(lock.stalledIntervalMs),
    });
    await child.next('started');
    // The child's read hangs upstream; then it dies holding the job.
    emulator.setFaults({ latencyMs: 20_000 });
    await a.tracking.track(record);
    await child.next('reading');
    await a.tracking.start();
    await child.kill();
    const killedAt = Date.now();
    emulator.setFaults({});

    const done = await waitUntilDone(a, record.id);
    expect(done.status).toBe('SUCCEEDED');
    expect(child.lines.filter((line) => line.event === 'reading')).toHaveLength(1);
    const survivorReads = log.of(upstreamId);
    expect(survivorReads.length).toBeGreaterThan(0);
    expect(survivorReads.every((read) => read.replica === 'a')).toBe(true);
    expect(survivorReads[0]?.startedAt).toBeGreaterThanOrEqual(killedAt);
  });

  it('an end a dead replica stored but never published: the replica that runs the job next tells the subscribers', async () => {
    const { a, b, inspector } = cluster({ pollPolicy: FAST_POLL });
    const record = await createTask(a);
    await a.tracking.track(record);
    // As a replica killed between its store write and its publish leaves it: the task ended in
    // the store, no event sent, the job still in Redis.
    const ended = await a.store.fail(record.id, 'ended by a replica that died', Date.now());
    expect(await (await inspector.getJob(record.id))?.getState()).toBe('delayed');
    const stream = b.events.subscribe(record.id);
    cleanups.push(async () => stream.close());
    const heard = stream.next();

    await b.tracking.start();
    const event = await Promise.race([
      heard,
      new Promise<'nothing'>((resolve) => setTimeout(resolve, 10_000, 'nothing')),
    ]);
    expect(event).not.toBe('nothing');
    expect((event as IteratorResult<{ record: TaskRecord }>).value?.record).toMatchObject({
      id: record.id,
      status: 'FAILED',
      version: ended.version,
    });
    await vi.waitFor(async () => expect(await inspector.getJob(record.id)).toBeUndefined());
    // Nothing more was written.
    expect((await b.store.get(record.id))?.version).toBe(ended.version);
  });

  it('webhook mode: a webhook on another replica gets the task read at once', async () => {
    const { a, b } = cluster({ pollPolicy: FAST_POLL, webhookFallbackMs: 60_000 });
    const webhooks: number[] = [];
    const receiver = await listen(async (taskId) => {
      webhooks.push(Date.now());
      const record = await b.store.get(taskId);
      if (record) await b.tracking.poke(record);
    });
    await Promise.all([a.tracking.start(), b.tracking.start()]);
    const record = await createTask(a, { steps: 20, webhookUrl: `${receiver.url}/hook/{id}` });
    await a.tracking.track(record);

    const done = await waitUntilDone(a, record.id, 15_000);
    expect(done.status).toBe('SUCCEEDED');
    expect(Date.now() - record.createdAt).toBeLessThan(15_000);
    const reads = upstreamReads(record.upstreamTaskId as string);
    expect(reads.length).toBeGreaterThanOrEqual(1);
    expect(reads.length).toBeLessThanOrEqual(2);
    // Nothing was read before the webhook came: it is what made the read happen.
    for (const read of reads) {
      expect(Date.parse(read.time)).toBeGreaterThanOrEqual((webhooks[0] as number) - 1);
    }
  });

  it('webhook mode: a poke during a read makes another read follow at once', async () => {
    const { a, b, log, inspector } = cluster({ pollPolicy: FAST_POLL, webhookFallbackMs: 60_000 });
    emulator.setFaults({ stallTasks: {} });
    const record = await createTask(a, { webhookUrl: 'http://127.0.0.1:9/hook/{id}' });
    const upstreamId = record.upstreamTaskId as string;
    emulator.setFaults({ latencyMs: 400 });
    await a.tracking.start();
    await a.tracking.track(record);
    expect(await (await inspector.getJob(record.id))?.getState()).toBe('delayed');

    await b.tracking.poke(record);
    await vi.waitFor(() => expect(log.inFlight(upstreamId)).toBe(1));
    await b.tracking.poke(record); // the job is active on a: a flag it finds after its read
    await vi.waitFor(() => expect(log.of(upstreamId)).toHaveLength(2), { timeout: 5000 });
    const [first, second] = log.of(upstreamId) as [Read, Read];
    expect(second.startedAt - (first.endedAt as number)).toBeLessThan(300);
    // Then back to waiting for a webhook (the fallback is a minute away).
    await vi.waitFor(async () =>
      expect(await (await inspector.getJob(record.id))?.getState()).toBe('delayed'),
    );
    expect(log.maxInFlight.get(upstreamId)).toBe(1);
  });

  it('a task whose deadline passes ends FAILED with the deadline reason', async () => {
    const { a } = cluster({ pollPolicy: FAST_POLL });
    emulator.setFaults({ stallTasks: { progress: 42 } });
    const record = await createTask(a, { deadlineMs: 1500 });
    await a.tracking.start();
    await a.tracking.track(record);

    const done = await waitUntilDone(a, record.id);
    expect(done.status).toBe('FAILED');
    expect(done.failureReason).toBe(deadlineReason(record));
    expect(done.completedAt).toBeGreaterThanOrEqual(record.deadlineAt);
  });

  it('stop leaves the jobs in Redis; resume re-adds lost ones, once', async () => {
    const { a, b, inspector } = cluster({ pollPolicy: FAST_POLL, webhookFallbackMs: 60_000 });
    await a.tracking.start();
    const waiting = await createTask(a, { webhookUrl: 'http://127.0.0.1:9/hook/{id}' });
    await a.tracking.track(waiting);
    await a.tracking.stop();
    expect(await (await inspector.getJob(waiting.id))?.getState()).toBe('delayed');
    expect(await a.tracking.ready()).toBe('tracking is stopped');

    // Redis lost its data: the jobs are gone, the tasks are still in the store.
    await inspector.obliterate({ force: true });
    const polled = await createTask(b, { steps: 15 });
    const unfinished = await b.store.unfinished();
    expect(unfinished.map((task) => task.id).sort()).toEqual([waiting.id, polled.id].sort());
    await b.tracking.resume(unfinished);
    await b.tracking.resume(unfinished);
    const counts = await inspector.getJobCounts('delayed', 'waiting', 'active');
    expect((counts.delayed ?? 0) + (counts.waiting ?? 0) + (counts.active ?? 0)).toBe(2);

    await b.tracking.start();
    expect((await waitUntilDone(b, polled.id)).status).toBe('SUCCEEDED');
    expect(await (await inspector.getJob(waiting.id))?.getState()).toBe('delayed');
  });

  it('stop is bounded: a slow read is aborted and its job handed back untouched', async () => {
    const { a, b, log, inspector } = cluster({ pollPolicy: FAST_POLL, stopTimeoutMs: 300 });
    const record = await createTask(a, { steps: 15 });
    const upstreamId = record.upstreamTaskId as string;
    emulator.setFaults({ latencyMs: 20_000 });
    await a.tracking.start();
    await a.tracking.track(record);
    await vi.waitFor(() => expect(log.inFlight(upstreamId)).toBe(1));
    expect(a.tracking.size).toBe(1);

    const stopping = Date.now();
    await a.tracking.stop();
    expect(Date.now() - stopping).toBeLessThan(3000);
    expect(log.inFlight(upstreamId)).toBe(0);
    expect(['waiting', 'delayed']).toContain(await (await inspector.getJob(record.id))?.getState());
    expect((await a.store.get(record.id))?.version).toBe(record.version);

    emulator.setFaults({});
    await b.tracking.start();
    expect((await waitUntilDone(b, record.id)).status).toBe('SUCCEEDED');
  });

  it('follows a polled task to SUCCEEDED with few reads, the first one interval after the create', async () => {
    const { a, prefix } = cluster();
    await a.tracking.start();
    // About 3 s here. Core's default pacing: ETA-based, 1-10 s apart.
    await warmVideo;
    const record = await createTask(a, LONG_TASK);
    const trackedAt = Date.now();
    await a.tracking.track(record);
    await a.tracking.track(record); // the job id dedupes

    const done = await waitUntilDone(a, record.id);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.videos).toHaveLength(1);
    const reads = upstreamReads(record.upstreamTaskId as string);
    const seconds = ((done.completedAt as number) - done.createdAt) / 1000;
    expect(reads.length).toBeGreaterThan(0);
    expect(reads.length).toBeLessThanOrEqual(Math.ceil(seconds / 3) + 3);
    // The create just said QUEUED: the first read waits the idle interval (2 s, jitter 10%).
    expect(Date.parse(reads[0]?.time as string) - trackedAt).toBeGreaterThanOrEqual(1700);
    // A finished job is removed: nothing can block the id.
    const redis = new Redis(REDIS_URL);
    try {
      expect(await redis.exists(`${prefix}:track:${record.id}`)).toBe(0);
    } finally {
      redis.disconnect();
    }
    expect(a.tracking.size).toBe(0);
    expect(await a.tracking.ready()).toBe(true);
  });

  it('ready() says why when Redis is unreachable, without its password', async () => {
    const port = await freePort();
    const store = new SqliteTaskStore(':memory:');
    const tracking = new BullMqTracking({
      redis: { url: `redis://tracker:s3cret-pass@127.0.0.1:${port}`, prefix: 'unused' },
      store,
      writer: new TaskWriter({ store, events: new LocalTaskEvents(), logger }),
      reader: client,
      logger,
    });
    cleanups.push(async () => {
      await tracking.stop();
      await store.close();
    });
    await tracking.start();
    const reason = await tracking.ready();
    expect(reason).toMatch(new RegExp(`^Redis at 127\\.0\\.0\\.1:${port} is unreachable`));
    expect(reason).not.toContain('s3cret');
    expect(tracking.size).toBe(0);
  });
});
