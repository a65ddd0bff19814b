/**
 * Scale-out: the gateway as 1 and 3 replicas on one Postgres database and one Redis prefix
 * (`DATABASE_URL`, `REDIS_URL`, `REDIS_PREFIX`), against one gateway in the default SQLite mode,
 * all measured in one run:
 *
 * - mutations/s and latency: a fixed number of `generateVideo` mutations at a fixed
 *   concurrency, spread round-robin over the replicas; the SQLite gateway is the baseline, and
 *   "Redis-mode overhead per mutation" is the p50 of one Redis-mode replica minus the SQLite p50;
 * - burst push: watchers (graphql-ws, spread over the replicas) of one task, from the moment
 *   each change was recorded (`updatedAt`) to each watcher receiving it, with `fanout.ts`'s load
 *   generator (`lib-b-loadgen-process.ts`);
 * - upstream reads per task: tasks (the watched one among them) run to completion, each
 *   task-result read of its upstream id counted in the emulator's request log; with 3 replicas
 *   it must be the 1-replica figure.
 *
 * The SQLite gateway runs both phases first, then one Redis-mode replica, then 2 more join it.
 *
 * Processes: this one (the mutation load and the report), the emulator, each gateway replica
 * (`lib-a-gateway-process.ts`) and the watchers' load generator. Postgres and Redis are the ones
 * this machine runs (`BENCH_POSTGRES_URL`, default postgres://postgres@127.0.0.1:5432/postgres,
 * used only to create and drop a database of the run's own; `BENCH_REDIS_URL`, default
 * redis://127.0.0.1:6379, under a key prefix of the run's own, deleted at the end).
 *
 * `run()` returns the section; run directly, it prints its markdown:
 * `node --import tsx src/scale-out.ts` (add `--conditions=@wan-video/source` to run the sources;
 * `--mutations=N --watchers=N --tasks=N` for a smaller run).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import {
  CREATE_TASK_PATH,
  parseVideoInput,
  TASK_RESULT_PATH,
  toCreateTaskRequest,
} from '@wan-video/core';
import { taskDurationMs } from '@wan-video/emulator';
import {
  ascending,
  type EmulatorProcess,
  type GatewayProcess,
  percentile,
  printSection,
  type Section,
  startEmulatorProcess,
  startGatewayProcess,
  type Target,
  table,
  thousands,
} from './common.js';
import { type ChildHandle, forkChild } from './lib-b-ipc.js';

// --- sizes and settings ----------------------------------------------------------------------

export interface ScaleOutSizes {
  /** Measured mutations per setup (after `warmup` untimed ones). */
  readonly mutations: number;
  readonly warmup: number;
  /** Mutations in flight at once. */
  readonly concurrency: number;
  /** Watchers of the burst task, spread over the replicas. */
  readonly watchers: number;
  /** Tasks run to completion for the upstream reads (the first is the burst task). */
  readonly tasks: number;
}

const SIZES: ScaleOutSizes = {
  mutations: 1500,
  warmup: 200,
  concurrency: 16,
  watchers: 1000,
  tasks: 20,
};

const REPLICAS = [1, 3] as const;
/**
 * The emulator's time scale: the mutations' tasks (832×480, 4 steps) end in 0.27 s, before their
 * first read, and the tracked tasks (1280×720, 40 steps) run about 6 s, long enough for a few reads
 * and changes each under core's default poll policy (half the eta, 1 to 10 s).
 */
const TIME_SCALE = 10;
const API_KEY = 'bench-upstream-key';
const SUBS_PER_SOCKET = 50;
/** After the burst task ended, how long its last pushes may still take to arrive. */
const GRACE_MS = 1500;
/** The longest any one wait may take (a phase that hangs fails the section, and it cleans up). */
const WAIT_MS = 30_000;
/** The longest a gateway may take to start (seconds on a quiet machine; far more on a busy one). */
const START_MS = 90_000;
/** The longest the whole section may take before it gives up (then it cleans up). */
const SECTION_TIMEOUT_MS = 300_000;
/** The target: the 3-replica mean of upstream reads per task within this share above 1 replica's. */
const READS_TOLERANCE = 0.1;

const POSTGRES_URL =
  process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

const PROMPT = 'a lighthouse at dusk, waves breaking on the rocks';
/** The mutations' input (mutation.ts's): its task ends before the tracker's first read. */
const SHORT = { prompt: PROMPT, width: 832, height: 480, seed: 7, steps: 4 } as const;
/** The tracked tasks' input (burst and upstream reads). */
const LONG = { prompt: PROMPT, width: 1280, height: 720, seed: 7, steps: 40 } as const;

const GENERATE =
  'mutation Generate($input: GenerateVideoInput!) { generateVideo(input: $input) { id status } }';
const SHORT_BODY = JSON.stringify({ query: GENERATE, variables: { input: SHORT } });

const loaded = performance.now();
/** Progress on stderr, with the seconds since this module loaded (where the time goes). */
const log = (message: string) =>
  console.error(`scale-out [${((performance.now() - loaded) / 1000).toFixed(1)} s]: ${message}`);

// --- Postgres and Redis: a database and a key prefix of the run's own ------------------------

interface Scratch {
  readonly databaseUrl: string;
  readonly redisPrefix: string;
  /** Drops the database and deletes every key under the prefix. */
  drop(): Promise<void>;
}

/** A new database on `POSTGRES_URL`'s server and a new Redis key prefix; `drop` removes both. */
async function createScratch(): Promise<Scratch> {
  const { default: pg } = await import('pg');
  const { Redis } = await import('ioredis');
  const suffix = randomBytes(5).toString('hex');
  const name = `wan_video_bench_${suffix}`;
  const redisPrefix = `wan-video-bench-${suffix}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  try {
    await admin(`CREATE DATABASE ${name}`);
  } catch (error) {
    throw new Error(
      `cannot create a database on ${POSTGRES_URL} (set BENCH_POSTGRES_URL): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const dropRedis = async () => {
    const redis = new Redis(REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
    });
    redis.on('error', () => {}); // the commands below fail with it
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.unlink(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  };
  // Fail now, before anything is started, if Redis is not there.
  try {
    await dropRedis();
  } catch (error) {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    throw new Error(
      `cannot reach Redis at ${REDIS_URL} (set BENCH_REDIS_URL): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return {
    databaseUrl: url.toString(),
    redisPrefix,
    async drop() {
      const problems: unknown[] = [];
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((e) => problems.push(e));
      await dropRedis().catch((e) => problems.push(e));
      if (problems.length > 0) log(`cleaning up ${name} / ${redisPrefix}: ${problems.join('; ')}`);
    },
  };
}

// --- small helpers ---------------------------------------------------------------------------

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no end after ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` every 100 ms until it gives true; throws after `WAIT_MS`. */
async function waitUntil(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS / 1000} s`);
    await sleep(100);
  }
}

async function graphql<T>(url: string, query: string, variables: object = {}): Promise<T> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length || !body.data) {
    throw new Error(`GraphQL: ${body.errors?.map((e) => e.message).join('; ') ?? response.status}`);
  }
  return body.data;
}

const createTask = async (url: string, input: object): Promise<string> =>
  (await graphql<{ generateVideo: { id: string } }>(url, GENERATE, { input })).generateVideo.id;

/** The gateway's /metrics, as `name{labels}` → value. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (
    await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(WAIT_MS) })
  ).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** Tasks not finished yet (CREATING, QUEUED, PROCESSING) in the store `url`'s gateway uses. */
async function unfinished(url: string): Promise<number> {
  const metrics = await scrape(url);
  return ['CREATING', 'QUEUED', 'PROCESSING'].reduce(
    (sum, status) => sum + (metrics.get(`wan_tasks{status="${status}"}`) ?? 0),
    0,
  );
}

/**
 * Renders SHORT's and LONG's videos into `storageDir` with a fast emulator of its own, so that
 * the measured emulator (same folder) reuses them: no render holds a task at 99% past its time.
 */
async function renderFirst(storageDir: string): Promise<void> {
  const emulator = await startEmulatorProcess({ timeScale: 1000, storageDir });
  try {
    for (const input of [SHORT, LONG]) {
      const created = await fetch(`${emulator.url}${CREATE_TASK_PATH}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify(toCreateTaskRequest(parseVideoInput(input))),
      });
      if (!created.ok) throw new Error(`create answered ${created.status}`);
      await created.body?.cancel();
    }
    await waitUntil('pre-rendering two videos', async () => {
      const files = await readdir(storageDir).catch(() => [] as string[]);
      return files.filter((file) => file.endsWith('.mp4')).length >= 2;
    });
  } finally {
    await emulator.close();
  }
}

// --- mutations -------------------------------------------------------------------------------

interface MutationRun {
  readonly replicas: number;
  readonly setup: string;
  /** Latencies of good answers, ms, ascending. */
  readonly latencies: readonly number[];
  readonly seconds: number;
  readonly errors: number;
  readonly firstError: string | undefined;
}

/** One POST; resolves with the status and the body. */
function post(agent: Agent, url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        timeout: WAIT_MS,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer in time')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * `total` `generateVideo` mutations, `concurrency` at a time, the i-th to replica i mod n
 * (keep-alive connections, node:http in this process). Each latency is the time from sending
 * the request to the end of its answer.
 */
async function mutate(
  urls: readonly string[],
  total: number,
  concurrency: number,
): Promise<Omit<MutationRun, 'replicas' | 'setup'>> {
  const targets = urls.map((url) => ({
    url: new URL('/graphql', url),
    agent: new Agent({ keepAlive: true, maxSockets: concurrency }),
  }));
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          const target = targets[next++ % targets.length];
          if (!target) break;
          const t0 = performance.now();
          try {
            const { status, text } = await post(target.agent, target.url, SHORT_BODY);
            const elapsed = performance.now() - t0;
            if (
              status === 200 &&
              text.includes('"generateVideo":{"id"') &&
              !text.includes('"errors"')
            )
              latencies.push(elapsed);
            else {
              errors++;
              firstError ??= `${status} ${text.slice(0, 200)}`;
            }
          } catch (error) {
            errors++;
            firstError ??= error instanceof Error ? error.message : String(error);
          }
        }
      }),
    );
  } finally {
    for (const target of targets) target.agent.destroy();
  }
  return {
    latencies: ascending(latencies),
    seconds: (performance.now() - started) / 1000,
    errors,
    firstError,
  };
}

async function measureMutations(
  setup: string,
  gateways: readonly GatewayProcess[],
  sizes: ScaleOutSizes,
): Promise<MutationRun> {
  const urls = gateways.map((gateway) => gateway.url);
  // Untimed: JIT, connection pools, prepared statements.
  await within(mutate(urls, sizes.warmup, sizes.concurrency), WAIT_MS * 2, `${setup}: warm-up`);
  await sleep(200);
  const measured = await within(
    mutate(urls, sizes.mutations, sizes.concurrency),
    WAIT_MS * 4,
    `${setup}: ${sizes.mutations} mutations`,
  );
  // The next phase starts with nothing left to track.
  await waitUntil(`${setup}: tasks finished`, async () => (await unfinished(urls[0] ?? '')) === 0);
  const run = { replicas: gateways.length, setup, ...measured };
  log(
    `${setup}, ${gateways.length} replica(s): ${(run.latencies.length / run.seconds).toFixed(0)} mutations/s, p50 ${percentile(run.latencies, 50).toFixed(2)} ms, ${run.errors} errors`,
  );
  return run;
}

// --- tracked tasks: burst push and upstream reads --------------------------------------------

interface Recording {
  readonly latencies: Float64Array;
  readonly events: readonly { task: string; at: number; count: number }[];
  readonly frames: number;
  readonly outside: number;
  readonly other: number;
  readonly problems: readonly string[];
}

interface BurstRun {
  readonly setup: string;
  readonly replicas: number;
  readonly watchers: number;
  readonly sockets: number;
  /** Changes of the watched task recorded in the window, and how many reached every watcher. */
  readonly changes: number;
  readonly complete: number;
  /** Latencies of every push of those changes, ms, ascending. */
  readonly latencies: readonly number[];
  readonly problems: readonly string[];
}

interface ReadsRun {
  readonly setup: string;
  readonly replicas: number;
  /** Task-result reads of each task's upstream id, ascending. */
  readonly reads: readonly number[];
}

/**
 * `sizes.tasks` tasks of LONG's input, the i-th created on replica i mod n, all run to their end.
 * The first has `sizes.watchers` graphql-ws watchers, in sockets of `SUBS_PER_SOCKET`, socket i
 * on replica i mod n: every change of it from the moment all are subscribed until every task
 * ended (plus a grace) is timed at every watcher (`lib-b-loadgen-process.ts`: receipt time minus
 * the change's `updatedAt`). Then the emulator's log gives the task-result reads of each task's
 * upstream id.
 */
async function measureTracked(
  setup: string,
  emulator: EmulatorProcess,
  load: ChildHandle<null>,
  gateways: readonly GatewayProcess[],
  sizes: ScaleOutSizes,
): Promise<{ burst: BurstRun; reads: ReadsRun }> {
  const n = gateways.length;
  const url = (i: number) => gateways[i % n]?.url ?? '';
  const { watchers, tasks } = sizes;
  const sockets = Math.ceil(watchers / SUBS_PER_SOCKET);
  /** Each replica's group of sockets, with the sockets' indexes. */
  const groups: { group: number; sockets: number[] }[] = [];
  try {
    for (let r = 0; r < n; r++) {
      const mine = Array.from({ length: sockets }, (_, i) => i).filter((i) => i % n === r);
      if (mine.length === 0) continue;
      const group = await load.request<number>('open', {
        url: `${url(r).replace(/^http/, 'ws')}/graphql`,
        sockets: mine.length,
        kind: 'graphql',
      });
      groups.push({ group, sockets: mine });
    }
    await emulator.clearLog();
    const watched = await createTask(url(0), LONG);
    const size = (i: number) => Math.min(SUBS_PER_SOCKET, watchers - i * SUBS_PER_SOCKET);
    await within(
      Promise.all([
        ...groups.map(({ group, sockets: mine }) =>
          load.request('subscribe', {
            group,
            plan: mine.map((i) => Array.from({ length: size(i) }, () => watched)),
          }),
        ),
        ...Array.from({ length: tasks - 1 }, (_, i) => createTask(url(i + 1), LONG)),
      ]),
      WAIT_MS,
      `${setup}: subscribing ${watchers} watchers, creating ${tasks} tasks`,
    );
    // Every group records from the latest start on, so a change counts for all or for none.
    const froms: number[] = [];
    for (const { group } of groups) froms.push(await load.request<number>('record', { group }));
    const from = Math.max(...froms);
    await waitUntil(
      `${setup}: ${tasks} tasks finished`,
      async () => (await unfinished(url(0))) === 0,
    );
    const to = Date.now();
    await sleep(GRACE_MS);
    const recordings: Recording[] = [];
    for (const { group } of groups) {
      recordings.push(await load.request<Recording>('stop', { group, from, to }));
    }
    // Each change of the watched task, and how many watchers over all replicas received it.
    const counts = new Map<number, number>();
    for (const recording of recordings) {
      for (const event of recording.events) {
        counts.set(event.at, (counts.get(event.at) ?? 0) + event.count);
      }
    }
    const latencies = ascending(recordings.flatMap((recording) => Array.from(recording.latencies)));
    const burst: BurstRun = {
      setup,
      replicas: n,
      watchers,
      sockets,
      changes: counts.size,
      complete: [...counts.values()].filter((count) => count === watchers).length,
      latencies,
      // The subscriptions complete when the task ends: those frames are expected.
      problems: recordings
        .flatMap((recording) => recording.problems)
        .filter((problem) => !problem.includes('"type":"complete"')),
    };

    const { requests } = await emulator.log();
    const counted = new Map<string, number>();
    for (const entry of requests) {
      if (entry.path === CREATE_TASK_PATH && entry.taskId) counted.set(entry.taskId, 0);
    }
    for (const entry of requests) {
      const count = entry.taskId ? counted.get(entry.taskId) : undefined;
      if (entry.path === TASK_RESULT_PATH && count !== undefined && entry.taskId) {
        counted.set(entry.taskId, count + 1);
      }
    }
    if (counted.size !== tasks) {
      throw new Error(`${setup}: ${counted.size} creates upstream, not ${tasks}`);
    }
    const reads: ReadsRun = { setup, replicas: n, reads: ascending([...counted.values()]) };
    log(
      `${setup}, ${n} replica(s): burst of ${watchers}: ${burst.changes} changes (${burst.complete} to every watcher), p99 ${percentile(latencies, 99).toFixed(1)} ms; upstream reads per task ${reads.reads.join(' ')}`,
    );
    return { burst, reads };
  } finally {
    for (const { group } of groups) await load.request('closeGroup', { group }).catch(() => {});
  }
}

// --- the section -----------------------------------------------------------------------------

const ms = (value: number) => value.toFixed(2);
const signedMs = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}`;
const pct = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;
const mean = (values: readonly number[]) =>
  values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;

export async function run(overrides: Partial<ScaleOutSizes> = {}): Promise<Section> {
  const sizes: ScaleOutSizes = { ...SIZES, ...overrides };
  const started = performance.now();
  const loadAtStart = os.loadavg()[0] ?? Number.NaN;
  const closers: (() => Promise<void>)[] = [];
  let cleaned = false;
  const cleanUp = async () => {
    cleaned = true;
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
  };
  /** Keeps `close` for the clean-up, or, once it has run (a timeout), closes at once. */
  const own = (close: () => Promise<void>) => {
    if (cleaned) void close().catch(() => {});
    else closers.push(close);
  };
  /**
   * A child process being started: closed by the clean-up even if it comes up only after a
   * timeout gave up waiting for it.
   */
  const child = <T extends { close(): Promise<void> }>(starting: Promise<T>): Promise<T> => {
    starting.then(
      (started) => own(() => started.close()),
      () => {},
    );
    return starting;
  };
  // Ctrl-C or a kill: close the processes, drop the database and the keys, then go.
  const onSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await within(measureAll(sizes), SECTION_TIMEOUT_MS, 'the scale-out section');
  } finally {
    await cleanUp();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    log(
      `done in ${((performance.now() - started) / 1000).toFixed(1)} s (load at start ${loadAtStart.toFixed(2)})`,
    );
  }

  async function measureAll(sizes: ScaleOutSizes): Promise<Section> {
    const tmp = await mkdtemp(join(os.tmpdir(), 'wan-video-bench-scale-out-'));
    own(() => rm(tmp, { recursive: true, force: true }));
    const storageDir = join(tmp, 'videos');
    const scratch = await createScratch();
    own(() => scratch.drop());
    await renderFirst(storageDir);
    const emulator = await child(startEmulatorProcess({ timeScale: TIME_SCALE, storageDir }));
    const load = await child(forkChild<null>('./lib-b-loadgen-process.ts', null));

    const baseEnv = {
      PORT: '0',
      HOST: '127.0.0.1',
      NOVITA_API_KEY: API_KEY,
      NOVITA_BASE_URL: emulator.url,
      MUTATIONS_PER_MINUTE: '100000',
      MAX_IN_FLIGHT_TASKS: '10000',
      LOG_LEVEL: 'warn',
    };
    const startGateway = (env: Record<string, string>) =>
      within(child(startGatewayProcess({ ...baseEnv, ...env })), START_MS, 'starting a gateway');

    // The baseline: one gateway in SQLite mode, the product's default.
    log('SQLite mode, 1 replica');
    const sqlite = await startGateway({ DATABASE_PATH: join(tmp, 'gateway.db') });
    log('SQLite gateway started');
    const sqliteMutations = await measureMutations('SQLite', [sqlite], sizes);
    const sqliteTracked = await measureTracked('SQLite', emulator, load, [sqlite], sizes);
    await sqlite.close();

    const redisEnv = {
      DATABASE_URL: scratch.databaseUrl,
      REDIS_URL,
      REDIS_PREFIX: scratch.redisPrefix,
    };
    const replicas: GatewayProcess[] = [];
    const mutations: MutationRun[] = [];
    const bursts: BurstRun[] = [];
    const reads: ReadsRun[] = [];
    for (const count of REPLICAS) {
      // One after another: replicas starting together on 2 cores only slow each other down.
      while (replicas.length < count) replicas.push(await startGateway(redisEnv));
      log(`${count} Redis-mode replica(s) started`);
      log(`Redis mode, ${count} replica(s)`);
      mutations.push(await measureMutations('Redis mode', replicas, sizes));
      const tracked = await measureTracked('Redis mode', emulator, load, replicas, sizes);
      bursts.push(tracked.burst);
      reads.push(tracked.reads);
    }
    return report({
      sizes,
      sqliteMutations,
      mutations,
      sqliteBurst: sqliteTracked.burst,
      bursts,
      sqliteReads: sqliteTracked.reads,
      reads,
      loadAtStart,
      seconds: (performance.now() - started) / 1000,
    });
  }
}

function report(r: {
  sizes: ScaleOutSizes;
  sqliteMutations: MutationRun;
  mutations: readonly MutationRun[];
  sqliteBurst: BurstRun;
  bursts: readonly BurstRun[];
  sqliteReads: ReadsRun;
  reads: readonly ReadsRun[];
  loadAtStart: number;
  seconds: number;
}): Section {
  const { sizes } = r;
  const setupName = (x: { setup: string }, what: string) =>
    x.setup === 'SQLite' ? 'SQLite (baseline)' : what;
  const replicasName = (x: { setup: string; replicas: number }) =>
    x.setup === 'SQLite' ? 'SQLite' : `${x.replicas} replica${x.replicas > 1 ? 's' : ''}`;

  // Mutations.
  const rate = (m: MutationRun) => m.latencies.length / m.seconds;
  const p = (m: MutationRun, q: number) => percentile(m.latencies, q);
  const allMutations = [r.sqliteMutations, ...r.mutations];
  const mutationTable = table(
    ['setup', 'replicas', 'mutations/s', 'p50 ms', 'p99 ms', 'good answers', 'errors'],
    allMutations.map((m) => [
      setupName(m, 'Postgres + Redis'),
      String(m.replicas),
      thousands(rate(m)),
      ms(p(m, 50)),
      ms(p(m, 99)),
      thousands(m.latencies.length),
      String(m.errors),
    ]),
  );
  const one = r.mutations.find((m) => m.replicas === 1);
  const three = r.mutations.find((m) => m.replicas === 3);
  const overheadText = one
    ? `Redis-mode overhead per mutation (1 Postgres + Redis replica against SQLite): p50 ${signedMs(p(one, 50) - p(r.sqliteMutations, 50))} ms, p99 ${signedMs(p(one, 99) - p(r.sqliteMutations, 99))} ms; throughput ${pct(rate(one) / rate(r.sqliteMutations))} of SQLite's.${three ? ` 3 replicas against 1: ${pct(rate(three) / rate(one))} of the throughput, p50 ${signedMs(p(three, 50) - p(one, 50))} ms.` : ''}`
    : '';

  // Burst push.
  const allBursts = [r.sqliteBurst, ...r.bursts];
  const burstTable = table(
    [
      'setup',
      'replicas',
      'watchers',
      'sockets',
      'changes',
      'pushes received',
      'p50 ms',
      'p99 ms',
      'max ms',
    ],
    allBursts.map((b) => [
      setupName(b, 'Postgres + Redis'),
      String(b.replicas),
      thousands(b.watchers),
      b.replicas > 1
        ? `${b.sockets} (≤ ${Math.ceil(b.sockets / b.replicas)} per replica)`
        : String(b.sockets),
      `${b.complete} / ${b.changes}`,
      `${thousands(b.latencies.length)} / ${thousands(b.changes * b.watchers)}`,
      ms(percentile(b.latencies, 50)),
      ms(percentile(b.latencies, 99)),
      ms(b.latencies.at(-1) ?? Number.NaN),
    ]),
    2,
  );

  // Upstream reads.
  const allReads = [r.sqliteReads, ...r.reads];
  const readsTable = table(
    ['setup', 'replicas', 'tasks', 'reads per task, mean', 'min', 'max'],
    allReads.map((x) => [
      setupName(x, 'Postgres + Redis (BullMQ)'),
      String(x.replicas),
      String(x.reads.length),
      mean(x.reads).toFixed(2),
      String(x.reads[0] ?? '–'),
      String(x.reads.at(-1) ?? '–'),
    ]),
    2,
  );
  const reads1 = r.reads.find((x) => x.replicas === 1);
  const reads3 = r.reads.find((x) => x.replicas === 3);
  const mean1 = mean(reads1?.reads ?? []);
  const mean3 = mean(reads3?.reads ?? []);

  const targets: Target[] = [
    {
      name: 'upstream reads per task, 3 replicas',
      target: `mean ≤ 1 replica's + ${pct(READS_TOLERANCE)}`,
      measured: `${mean3.toFixed(2)} vs ${mean1.toFixed(2)} (max ${reads3?.reads.at(-1) ?? '–'} vs ${reads1?.reads.at(-1) ?? '–'})`,
      met: mean3 <= mean1 * (1 + READS_TOLERANCE),
    },
    {
      name: 'burst: every change reaches every watcher on every replica',
      target: `${thousands(sizes.watchers)} pushes per change`,
      measured: allBursts
        .map((b) => `${b.complete} of ${b.changes} changes (${replicasName(b)})`)
        .join(', '),
      met: allBursts.every((b) => b.changes > 0 && b.complete === b.changes),
    },
    {
      name: 'every mutation answered with a task',
      target: '0 errors',
      measured: allMutations.map((m) => `${m.errors} (${replicasName(m)})`).join(', '),
      met: allMutations.every((m) => m.errors === 0),
    },
  ];
  const errors = allMutations
    .filter((m) => m.firstError)
    .map((m) => `${replicasName(m)}: \`${(m.firstError ?? '').replace(/`/g, "'")}\``);
  const problems = allBursts.flatMap((b) => b.problems).slice(0, 5);
  const longSeconds = (taskDurationMs(LONG, TIME_SCALE) / 1000).toFixed(1);

  const markdown = `The gateway as several replicas (\`DATABASE_URL\`: tasks in Postgres; \`REDIS_URL\` + \`REDIS_PREFIX\`: events over Redis pub/sub, tracking as BullMQ jobs, limits in Redis) against one gateway in the default mode (SQLite, everything in its process), the baseline. Every gateway is a child process (\`lib-a-gateway-process.ts\`: \`NOVITA_API_KEY\`/\`NOVITA_BASE_URL\` to the emulator, \`MUTATIONS_PER_MINUTE=100000\`, \`MAX_IN_FLIGHT_TASKS=10000\`, \`LOG_LEVEL=warn\`, no \`GATEWAY_API_KEYS\`, core's default poll policy); the replicas share one new Postgres database and one new Redis key prefix, both removed at the end. The SQLite gateway runs first, then one Redis-mode replica, then 2 more join it (same database and prefix) for the 3-replica rows. The emulator (\`timeScale: ${TIME_SCALE}\`) and the watchers' load generator (\`lib-b-loadgen-process.ts\`) are two more processes, all on the same ${os.cpus().length} cores as Postgres and Redis: 3 replicas share the cores 1 replica had, so this measures what the cluster costs and that it stays correct, not how it scales out over machines.

### Mutations

${thousands(sizes.mutations)} \`generateVideo\` mutations per row (after ${thousands(sizes.warmup)} untimed), ${sizes.concurrency} in flight at once, the i-th sent to replica i mod n (node:http with keep-alive, in this process); latency from sending to the end of the answer, over good answers (HTTP 200 with a task, no \`errors\`), nearest-rank percentiles. Input: ${SHORT.width}×${SHORT.height}, ${SHORT.steps} steps; its upstream task ends in ${(taskDurationMs(SHORT, TIME_SCALE) / 1000).toFixed(2)} s, so the tracker's first read finds it done (one read per task, on the same cores, as in "Mutation overhead").

${mutationTable}

${overheadText}

### Burst push and upstream reads per task

${sizes.tasks} tasks (${LONG.width}×${LONG.height}, ${LONG.steps} steps: ${longSeconds} s upstream), the i-th created on replica i mod n, each run to its end. The first has ${thousands(sizes.watchers)} graphql-ws watchers, ${SUBS_PER_SOCKET} per WebSocket, socket i on replica i mod n; the others are tracked at the same time.

**Burst push.** Every change of the watched task from the moment all watchers are subscribed until every task ended (plus ${GRACE_MS / 1000} s for the last pushes), timed at every watcher as in "Subscription fan-out": from the change's \`updatedAt\` (set by whichever replica read the upstream, just before it stores and publishes the change) to the load generator's socket receiving the frame. In Redis mode each change goes through Redis pub/sub to every replica, the one that recorded it included. "changes": changes that reached every watcher / changes seen.

${burstTable}

**Upstream reads per task.** Every \`GET ${TASK_RESULT_PATH}\` of each task's upstream id in the emulator's request log. Reads are paced by core's poll policy (half the eta, 1 to 10 s, ±10% jitter), so one task's count may differ by a read from run to run. The target's rule: the 3-replica mean at most ${pct(READS_TOLERANCE)} above the 1-replica mean (both BullMQ tracking); replicas each polling every task, or reading one task at once, would show as 2 or 3 times as many. The SQLite row (tracking in its process) is for comparison.

${readsTable}
${errors.length > 0 ? `\n**Not every mutation was answered with a task:** ${errors.join('; ')}.\n` : ''}${problems.length > 0 ? `\nProblems seen by the watchers: ${problems.join('; ')}\n` : ''}
Load average (1 min) at the start: ${r.loadAtStart.toFixed(2)}. Run time: ${r.seconds.toFixed(0)} s.
`;
  return { title: 'Scale-out', markdown, targets };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // `--mutations=200 --watchers=100 --tasks=4` and the like: a smaller run.
  const overrides: Record<string, number> = {};
  for (const arg of process.argv.slice(2)) {
    const match = /^--(mutations|warmup|concurrency|watchers|tasks)=(\d+)$/.exec(arg);
    if (!match?.[1] || !match[2]) throw new Error(`unknown argument ${arg}`);
    overrides[match[1]] = Number(match[2]);
  }
  printSection(await run(overrides));
}
