/**
 * Several replicas lose nothing: real gateway processes (src/bin.ts) on one Postgres database and
 * one Redis prefix (each run its own), in front of an in-test emulator. A mutation on one replica,
 * a subscriber on another and the webhook on a third; SIGKILLs mid-flight; a rolling restart under
 * graphql-ws clients with their default settings behind a round-robin TCP proxy; Redis killed and
 * restarted; idempotency keys and per-client limits raced across replicas. Every check is made on
 * what is observable from outside: the emulator's request log, the rows in Postgres, the events
 * subscribers received and the JSON log lines of every process.
 */
import { type Emulator, type RequestLogEntry, startEmulator } from '@wan-video/emulator';
import { type Client, createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import WebSocket from 'ws';
import { type GatewayProcess, stopAllGatewayProcesses } from './support/a-process.js';
import { prepareReplicas, type Replicas, type ReplicasOptions } from './support/replicas.js';
import { type OwnRedis, startRedis } from './support/services.js';
import {
  type Collected,
  creates,
  GENERATE,
  QUERY_TASK,
  readsOf,
  smallInput,
  watch,
} from './support/stack.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

const FINAL = new Set(['SUCCEEDED', 'FAILED']);
/** For tests that make many tasks as one client. */
const UNLIMITED = { MAX_IN_FLIGHT_TASKS: '10000', MUTATIONS_PER_MINUTE: '100000' };

/** Settles as `promise` does, or fails after `ms` saying what was awaited. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `check` until it returns something other than `undefined`, or fails after `ms`. */
async function until<T>(
  check: () => Promise<T | undefined> | T | undefined,
  ms: number,
  what: string,
  interval = 50,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= end) {
      throw new Error(`${what}: not within ${ms} ms${last ? ` (last: ${String(last)})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `work(0)` … `work(count - 1)`, at most `limit` at once, results in order. */
async function mapLimit<T>(
  count: number,
  limit: number,
  work: (index: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await work(index);
      }
    }),
  );
  return results;
}

/** Creates a task on `gateway`; throws with the GraphQL errors if it was refused. */
async function generate(
  gateway: GatewayProcess,
  input: Record<string, unknown>,
  headers: Record<string, string> = {},
  key?: string,
): Promise<string> {
  const { status, body } = await gateway.gql(GENERATE, { input, ...(key ? { key } : {}) }, headers);
  if (body.errors || !body.data) {
    const logged = gateway
      .logs()
      .filter((record) => record.level === 'error')
      .slice(-3)
      .map((record) => JSON.stringify(record).slice(0, 600));
    throw new Error(
      `generateVideo answered ${status}: ${JSON.stringify(body.errors)}; the replica logged: ${JSON.stringify(logged)}`,
    );
  }
  return body.data.generateVideo.id as string;
}

interface Row {
  id: string;
  status: string;
  upstream_task_id: string | null;
  version: number;
  idempotency_key: string | null;
  owner: string;
}

const rows = (replicas: Replicas, ids?: readonly string[]) =>
  ids
    ? replicas.sql<Row>(
        'SELECT id, status, upstream_task_id, version, idempotency_key, owner FROM wan_video_tasks WHERE id = ANY($1)',
        [ids],
      )
    : replicas.sql<Row>(
        'SELECT id, status, upstream_task_id, version, idempotency_key, owner FROM wan_video_tasks',
      );

/** How many `task finished` lines each task has, over every process that ever ran. */
function finishedLines(replicas: Replicas): Map<string, number> {
  const counts = new Map<string, number>();
  for (const record of replicas.logs()) {
    if (record.msg === 'task finished') {
      counts.set(record.taskId, (counts.get(record.taskId) ?? 0) + 1);
    }
  }
  return counts;
}

/** The error log lines of every replica, for a failure's message. */
const errorLines = (replicas: Replicas) =>
  JSON.stringify(
    replicas
      .logs()
      .filter((record) => record.level === 'error' || record.level === 'fatal')
      .slice(-5)
      .map((record) => ({ replica: record.replica, msg: record.msg, err: record.err?.message })),
  );

/** A subscription's error, in a line: a GraphQL error, a close event or a socket error. */
function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (typeof error === 'object' && error !== null) {
    const { code, reason, message, extensions } = error as Record<string, any>;
    if (typeof code === 'number') return `close ${code} ${reason ?? ''}`.trim();
    if (extensions?.code) return `${extensions.code}: ${message}`;
    if (typeof message === 'string') return `error event: ${message}`;
  }
  return String(error);
}

const countBy = (values: readonly string[]) =>
  values.reduce<Record<string, number>>((counts, value) => {
    counts[value] = (counts[value] ?? 0) + 1;
    return counts;
  }, {});

/** The final states among a subscriber's events. */
const finals = (collected: Collected) =>
  collected.events.filter((event) => FINAL.has(event.status));

/**
 * When each upstream request ended, sampled from the emulator's request log (an entry gets its
 * status when its answer is sent): with the arrival time, each read is an interval, and two
 * reads of one task whose intervals overlap were concurrent. The end is seen at most a few
 * milliseconds late; reads of one task are a poll interval (a second at least) apart.
 */
function readTimer(emulator: Emulator) {
  const ends = new Map<RequestLogEntry, number>();
  const sample = () => {
    const now = Date.now();
    for (const entry of emulator.requests()) {
      if (entry.status !== null && !ends.has(entry)) ends.set(entry, now);
    }
  };
  const timer = setInterval(sample, 5);
  return {
    stop() {
      clearInterval(timer);
      sample();
    },
    /** The most reads of one task in flight at once, over `upstreamIds`; unanswered ones apart. */
    maxConcurrent(upstreamIds: readonly string[]): { max: number; unanswered: number } {
      const log = [...emulator.requests()];
      let max = 0;
      let unanswered = 0;
      for (const upstreamId of upstreamIds) {
        const points: [number, number][] = [];
        for (const entry of readsOf(log, upstreamId)) {
          const end = ends.get(entry);
          if (end === undefined) {
            unanswered++;
            continue;
          }
          points.push([Date.parse(entry.time), 1], [Math.max(end, Date.parse(entry.time)), -1]);
        }
        // Ends before starts at the same instant: touching intervals are not concurrent.
        points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        let open = 0;
        for (const [, delta] of points) {
          open += delta;
          max = Math.max(max, open);
        }
      }
      return { max, unanswered };
    },
  };
}

/** GET /readyz: status and checks. */
async function readiness(gateway: GatewayProcess) {
  const response = await fetch(`${gateway.url}/readyz`);
  const body = (await response.json()) as { status: string; checks: Record<string, string> };
  return { status: response.status, checks: body.checks };
}

/** What `useCluster` made, once its hooks ran. */
interface Cluster {
  readonly emulator: Emulator;
  readonly replicas: Replicas;
}

/**
 * Registers a describe block's hooks: an emulator and `count` replicas on a database and Redis
 * prefix of their own, each replica started in a hook of its own (a start takes 5 to 10 s on a
 * busy machine), and all of it closed afterwards.
 */
function useCluster(
  options: {
    readonly timeScale: number;
    readonly count: number;
    readonly env?: Record<string, string>;
    readonly envOf?: ReplicasOptions['envOf'];
    /** Another Redis than the shared one (read when the hooks run). */
    readonly redisUrl?: () => string;
  },
  made: (cluster: Cluster) => void,
): void {
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    const emulator = await startEmulator({ timeScale: options.timeScale });
    try {
      const replicas = await prepareReplicas({
        count: options.count,
        upstreamUrl: emulator.url,
        ...(options.redisUrl ? { redisUrl: options.redisUrl() } : {}),
        ...(options.env ? { env: options.env } : {}),
        ...(options.envOf ? { envOf: options.envOf } : {}),
      });
      cluster = { emulator, replicas };
    } catch (error) {
      await emulator.close();
      throw error;
    }
    made(cluster);
  });
  for (let index = 0; index < options.count; index++) {
    beforeAll(async () => {
      await cluster?.replicas.start(index);
    });
  }
  afterAll(async () => {
    await cluster?.replicas.close();
    await cluster?.emulator.close();
  });
}

// A start still pending when its hook timed out leaves a process no cluster knows of.
afterAll(() => stopAllGatewayProcesses());

// ---------------------------------------------------------------------------------------------

describe('three replicas, webhook mode', () => {
  let emulator: Emulator;
  let replicas: Replicas;

  useCluster(
    {
      // A task of about 3 s: B subscribes while it is still QUEUED, even on a busy machine.
      timeScale: 4,
      count: 3,
      // A gives the upstream C's address for the webhook.
      envOf: (index, ports) => (index === 0 ? { PUBLIC_URL: `http://127.0.0.1:${ports[2]}` } : {}),
    },
    (made) => ({ emulator, replicas } = made),
  );

  it('mutation on A, subscriber on B, webhook on C: B sees the snapshot then every change to SUCCEEDED, and the task was created once', async () => {
    const [a, b, c] = [replicas.at(0), replicas.at(1), replicas.at(2)];

    const id = await generate(a, smallInput({ steps: 20 }));
    const [created] = await rows(replicas, [id]);
    expect(created?.upstream_task_id).toBeTruthy();
    const upstreamTaskId = created?.upstream_task_id as string;
    const onB = watch(b.ws(), id);
    // The same task watched on A and C too: every replica delivers the same changes.
    const onA = watch(a.ws(), id);
    const onC = watch(c.ws(), id);
    await within(
      Promise.all([onB.done, onA.done, onC.done]),
      15_000,
      'the subscriptions to complete',
    );

    expect(onB.errors).toEqual([]);
    const statuses = onB.events.map((event) => event.status);
    expect(statuses[0]).toBe('QUEUED');
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(finals(onB)).toHaveLength(1);
    // Every change: one event per version from the snapshot's to the last (nothing skipped).
    const [done] = await rows(replicas, [id]);
    expect(done?.status).toBe('SUCCEEDED');
    expect(onB.events).toHaveLength((done?.version as number) - (created?.version as number) + 1);
    expect(onB.events.at(-1)?.videos).toHaveLength(1);
    // Video links are on the origin each client reached; the rest is the same on every replica.
    const sameOrigin = (events: any[]) =>
      JSON.stringify(events).replace(/http:\/\/127\.0\.0\.1:\d+\/videos\//g, '/videos/');
    expect(sameOrigin(onA.events)).toEqual(sameOrigin(onB.events));
    expect(sameOrigin(onC.events)).toEqual(sameOrigin(onB.events));
    expect(onB.events.at(-1)?.videos[0].url).toBe(`${b.url}/videos/${id}/0.mp4`);

    // The webhook went to C, which took it; one create upstream.
    const hooks = emulator.webhooks().filter((hook) => hook.taskId === upstreamTaskId);
    expect(hooks.map((hook) => [hook.url.startsWith(c.url), hook.status])).toContainEqual([
      true,
      202,
    ]);
    expect(
      c
        .logs()
        .some((line) => line.msg === 'webhook received' && line.taskId === id && line.accepted),
    ).toBe(true);
    expect(creates([...emulator.requests()])).toHaveLength(1);
    expect(finishedLines(replicas).get(id)).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------

describe('30 tasks over three replicas, one SIGKILLed at a random moment', () => {
  /** 832x480 at 30 steps: 20 s at time scale 1, 2 s here; the gateway reads a second apart. */
  const TIME_SCALE = 10;
  const TASKS = 30;
  let emulator: Emulator;
  let replicas: Replicas;

  useCluster(
    { timeScale: TIME_SCALE, count: 3, env: UNLIMITED },
    (made) => ({ emulator, replicas } = made),
  );

  it('first, a burst of 90 concurrent mutations from one client over the three: each is answered with its task, and every upstream create is recorded', async () => {
    const BURST = 90;
    const before = creates([...emulator.requests()]).length;
    const answers = await Promise.all(
      Array.from({ length: BURST }, (_, task) =>
        replicas.at(task % 3).gql(GENERATE, { input: smallInput({ steps: 3 }) }),
      ),
    );
    const refused = answers
      .filter((answer) => !answer.body.data?.generateVideo)
      .map((answer) => answer.body.errors?.[0]?.extensions?.code ?? answer.status);
    const made = creates([...emulator.requests()])
      .slice(before)
      .map((entry) => entry.taskId as string);
    const recorded = await replicas.sql<{ upstream_task_id: string; status: string }>(
      'SELECT upstream_task_id, status FROM wan_video_tasks WHERE upstream_task_id = ANY($1)',
      [made],
    );
    const creating = await replicas.sql<{ n: string }>(
      "SELECT count(*) AS n FROM wan_video_tasks WHERE status = 'CREATING'",
    );
    console.log(
      `scale-out burst: ${BURST} mutations, ${BURST - refused.length} answered with a task, refused: ${JSON.stringify(refused)}, upstream creates ${made.length}, recorded ${recorded.length}, left CREATING ${creating[0]?.n}; logged: ${errorLines(replicas)}`,
    );
    expect(refused).toEqual([]);
    expect(recorded).toHaveLength(made.length);
    expect(creating[0]?.n).toBe('0');
  });

  it("a slow database (one client's insert lock held for 8 s) under its creates: a task created upstream is always recorded, and no answer is an internal error", async () => {
    // Creates answered by the upstream after 2 s, and the owner's insert lock held by this test
    // for 8 s: the replica's pool fills with inserts waiting on it, so the first creates, back
    // from the upstream, must get a connection to record their upstream id (a slow or locked
    // database, made on purpose).
    const a = replicas.at(0);
    const before = creates([...emulator.requests()]).length;
    emulator.setFaults({ latencyMs: 2000 });
    const locker = new pg.Client({ connectionString: replicas.databaseUrl });
    locker.on('error', () => {}); // terminated by the database's drop, at worst
    await locker.connect();
    onTestFinished(async () => {
      emulator.setFaults({});
      await locker.end().catch(() => {});
    });
    const send = (): Promise<{ status: number; body: { data?: any; errors?: any[] } }> =>
      a.gql(GENERATE, { input: smallInput({ steps: 3 }) }).catch((error: unknown) => ({
        status: 0,
        body: { errors: [{ message: String(error), extensions: { code: 'NO_ANSWER' } }] },
      }));
    const first = Array.from({ length: 5 }, send);
    await until(
      () => (creates([...emulator.requests()]).length - before >= 5 ? true : undefined),
      10_000,
      'the first five creates to reach the upstream',
    );
    await locker.query("SELECT pg_advisory_lock(hashtextextended('anonymous', 0))");
    const flood = Array.from({ length: 20 }, send);
    await sleep(8000);
    await locker.query("SELECT pg_advisory_unlock(hashtextextended('anonymous', 0))");
    emulator.setFaults({});
    const answers = await Promise.all([...first, ...flood]);

    const codes = answers.map((answer) =>
      answer.body.data?.generateVideo
        ? 'task'
        : (answer.body.errors?.[0]?.extensions?.code ?? answer.status),
    );
    const made = creates([...emulator.requests()])
      .slice(before)
      .map((entry) => entry.taskId as string);
    const recorded = await replicas.sql<{ n: string }>(
      'SELECT count(*) AS n FROM wan_video_tasks WHERE upstream_task_id = ANY($1)',
      [made],
    );
    const creating = await replicas.sql<{ n: string }>(
      "SELECT count(*) AS n FROM wan_video_tasks WHERE status = 'CREATING'",
    );
    console.log(
      `scale-out slow database: answers ${JSON.stringify(countBy(codes.map(String)))}, upstream creates ${made.length}, recorded ${recorded[0]?.n}, left CREATING ${creating[0]?.n}; logged: ${errorLines(replicas)}`,
    );
    expect(Number(recorded[0]?.n)).toBe(made.length);
    expect(creating[0]?.n).toBe('0');
    expect(codes.filter((code) => code === 'INTERNAL_SERVER_ERROR')).toEqual([]);
  });

  for (const round of [1, 2, 3, 4, 5]) {
    if (round > 1) {
      it(`before round ${round}: the replica killed in round ${round - 1} starts again`, async () => {
        const down = [0, 1, 2].filter((index) => !replicas.running(index));
        expect(down).toHaveLength(1);
        await replicas.start(down[0] as number);
      });
    }
    it(`round ${round}: every task ends once, was created once, never read twice at once, and every subscriber on a survivor gets its final state`, async () => {
      const started = Date.now();
      const steps: string[] = [];
      const step = (what: string) => steps.push(`${what} at ${Date.now() - started} ms`);
      expect([0, 1, 2].map((index) => replicas.running(index))).toEqual([true, true, true]);
      const timer = readTimer(emulator);
      onTestFinished(() => timer.stop());

      const ids = await Promise.all(
        Array.from({ length: TASKS }, (_, task) =>
          generate(replicas.at(task % 3), smallInput({ steps: 30 })),
        ),
      );
      // Every task watched on every replica.
      const watched = [0, 1, 2].map((index) => {
        const client = replicas.at(index).ws();
        return ids.map((id) => watch(client, id));
      });
      step(`${TASKS} created`);
      const victim = Math.floor(Math.random() * 3);
      const delay = Math.floor(Math.random() * 1500);
      await sleep(delay);
      const killedAt = Date.now();
      const exit = await replicas.kill(victim, 'SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      step(`replica ${'ABC'[victim]} killed`);
      const survivors = [0, 1, 2].filter((index) => index !== victim);

      const subscribers = survivors.flatMap((index) => watched[index] as Collected[]);
      // The one bound that matters: every subscriber on a survivor hears the end.
      const allDone = await within(
        Promise.all(subscribers.map((each) => each.done)),
        Math.max(1000, 26_000 - (Date.now() - started)),
        'every subscriber on a survivor to complete',
      ).then(
        () => true,
        () => false,
      );
      step(allDone ? 'all finals' : 'gave up waiting');
      timer.stop();

      const stored = await rows(replicas, ids);
      const log = [...emulator.requests()];
      const upstreamIds = stored.map((row) => row.upstream_task_id as string);
      const createsPerTask = upstreamIds.map(
        (upstreamId) => creates(log).filter((entry) => entry.taskId === upstreamId).length,
      );
      const finishedCount = finishedLines(replicas);
      const { max, unanswered } = timer.maxConcurrent(upstreamIds);
      const withFinal = subscribers.filter(
        (each) => each.events.at(-1)?.status === 'SUCCEEDED' && finals(each).length === 1,
      ).length;
      const unfinished = stored
        .filter((row) => !FINAL.has(row.status))
        .map((row) => ({
          id: row.id,
          status: row.status,
          reads: readsOf(log, row.upstream_task_id as string).map(
            (entry) => `${entry.time.slice(11, 23)}:${entry.status}`,
          ),
        }));
      console.log(
        `scale-out SIGKILL round ${round}: killed replica ${'ABC'[victim]} ${delay} ms after the creates (${steps.join(', ')}); tasks ${TASKS}, finals ${stored.filter((row) => FINAL.has(row.status)).length} (task finished lines ${ids.reduce((sum, id) => sum + (finishedCount.get(id) ?? 0), 0)}), creates ${createsPerTask.reduce((sum, count) => sum + count, 0)}, max concurrent reads per task ${max} (reads never answered ${unanswered}), subscribers on survivors with final ${withFinal}/${subscribers.length}${unfinished.length > 0 ? `; unfinished after ${Date.now() - killedAt} ms since the kill at ${new Date(killedAt).toISOString().slice(11, 23)}: ${JSON.stringify(unfinished)}` : ''}`,
      );

      expect(unfinished).toEqual([]);
      expect(allDone).toBe(true);
      expect(stored).toHaveLength(TASKS);
      expect(stored.map((row) => row.status)).toEqual(Array(TASKS).fill('SUCCEEDED'));
      expect(ids.map((id) => finishedCount.get(id) ?? 0)).toEqual(Array(TASKS).fill(1));
      expect(createsPerTask).toEqual(Array(TASKS).fill(1));
      expect(max).toBe(1);
      for (const each of subscribers) {
        expect(each.errors).toEqual([]);
        expect(finals(each)).toHaveLength(1);
        expect(each.events.at(-1)?.status).toBe('SUCCEEDED');
      }
      // And the query on a survivor says so too.
      const survivor = replicas.at(survivors[0] as number);
      const answers = await Promise.all(ids.map((id) => survivor.gql(QUERY_TASK, { id })));
      expect(answers.map((answer) => answer.body.data?.videoTask?.status)).toEqual(
        Array(TASKS).fill('SUCCEEDED'),
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe('a rolling restart behind a round-robin proxy, under 100 graphql-ws clients with default settings', () => {
  const SUBSCRIBERS = 100;
  /** Four subscribers (four clients) per task: creates are slow on a busy machine. */
  const TASKS = 25;
  /**
   * Ten kinds of task, 2 s to 37 s long at time scale 1 (832x480 at 3 to 38 steps, 1280x720 at
   * 18 and 24), so that tasks end before, during and after the restarts (a stop and start takes
   * 5 to 25 s on a busy machine), and the last within the closing test's wait.
   */
  const TIME_SCALE = 1;
  const inputOf = (task: number) =>
    task % 10 < 8
      ? smallInput({ steps: 3 + (task % 10) * 5 })
      : smallInput({ width: 1280, height: 720, steps: task % 10 === 8 ? 18 : 24 });
  let emulator: Emulator;
  let replicas: Replicas;
  let proxy: TcpProxy;
  let ids: string[] = [];
  let subscribers: Collected[] = [];
  const clients: Client[] = [];
  /** How long each stop and start took, and how many subscribers had their final state. */
  const progress: string[] = [];
  /** The close codes the clients saw, counted. */
  const closes = new Map<number, number>();

  useCluster(
    { timeScale: TIME_SCALE, count: 3, env: UNLIMITED },
    (made) => ({ emulator, replicas } = made),
  );
  beforeAll(async () => {
    proxy = await startTcpProxy(replicas.ports);
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await proxy?.close();
  });

  it(`${TASKS} tasks created through the proxy`, async () => {
    // Five at a time: a burst of one client's creates is another test's subject.
    ids = await mapLimit(TASKS, 5, async (task) => {
      const response = await fetch(`${proxy.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: GENERATE, variables: { input: inputOf(task) } }),
      });
      const body = (await response.json()) as { data?: any; errors?: any[] };
      if (!body.data) {
        throw new Error(`${JSON.stringify(body.errors)}; errors logged: ${errorLines(replicas)}`);
      }
      return body.data.generateVideo.id as string;
    });
    expect(new Set(ids).size).toBe(TASKS);
  });

  it(`${SUBSCRIBERS} graphql-ws clients with default settings subscribed through the proxy`, async () => {
    expect(ids).toHaveLength(TASKS);
    subscribers = Array.from({ length: SUBSCRIBERS }, (_, subscriber) => {
      // graphql-ws's defaults: lazy, five retries with its randomised exponential backoff.
      const client = createClient({
        url: `ws://127.0.0.1:${proxy.port}/graphql`,
        webSocketImpl: WebSocket,
      });
      client.on('closed', (event) => {
        const { code } = event as { code?: number };
        closes.set(code ?? -1, (closes.get(code ?? -1) ?? 0) + 1);
      });
      clients.push(client);
      return watch(client, ids[subscriber % TASKS] as string);
    });
    await until(
      () => (subscribers.every((each) => each.events.length > 0) ? true : undefined),
      20_000,
      'every subscriber to get its snapshot',
    );
    // Spread over the three replicas by the proxy.
    expect(new Set(proxy.routed)).toEqual(new Set([0, 1, 2]));
  });

  for (const index of [0, 1, 2]) {
    it(`replica ${'ABC'[index]}: SIGTERM, exits 0`, async () => {
      expect(subscribers).toHaveLength(SUBSCRIBERS);
      const before = Date.now();
      const exit = await replicas.kill(index, 'SIGTERM');
      expect(exit).toEqual({ code: 0, signal: null });
      progress.push(`${'ABC'[index]} stopped in ${Date.now() - before} ms`);
    });
    it(`replica ${'ABC'[index]}: started again on its port`, async () => {
      const before = Date.now();
      await replicas.start(index);
      progress.push(
        `${'ABC'[index]} back in ${Date.now() - before} ms with ${subscribers.filter((each) => finals(each).length > 0).length} final`,
      );
    });
  }

  it('every subscriber ends with SUCCEEDED, exactly once', { timeout: 90_000 }, async () => {
    expect(subscribers).toHaveLength(SUBSCRIBERS);
    // The longest tasks run 37 s; when the restarts were quick (a quiet machine), they are still
    // running now. Wait for them in Postgres first (bounded by their length), then give the
    // subscribers a fixed time to hear of it.
    await until(
      async () =>
        (await rows(replicas, ids)).every((row) => FINAL.has(row.status)) ? true : undefined,
      60_000,
      'every task to end in Postgres',
      250,
    );
    await within(
      Promise.all(subscribers.map((each) => each.done)),
      20_000,
      'every subscriber to complete once its task ended',
    ).catch((error: unknown) => {
      const open = subscribers.filter(
        (each) => !each.events.some((event) => FINAL.has(event.status)),
      );
      throw new Error(
        `${String(error)}: ${open.length} without a final state, e.g. ${JSON.stringify(open.slice(0, 3).map((each) => ({ events: each.events.map((event) => event.status), errors: each.errors.map(describeError) })))}`,
      );
    });
    console.log(
      `scale-out rolling restart: ${SUBSCRIBERS} subscribers on ${TASKS} tasks (${progress.join('; ')}), ${subscribers.filter((each) => each.events.at(-1)?.status === 'SUCCEEDED').length} ended SUCCEEDED, ${subscribers.filter((each) => finals(each).length > 1).length} with a duplicate final state, ${subscribers.filter((each) => each.errors.length > 0).length} ended with an error ${JSON.stringify(countBy(subscribers.flatMap((each) => each.errors.map(describeError))))}; close codes seen ${JSON.stringify(Object.fromEntries(closes))}; the proxy routed ${proxy.routed.length} connections`,
    );
    for (const each of subscribers) {
      expect(each.errors).toEqual([]);
      expect(each.events.at(-1)?.status).toBe('SUCCEEDED');
      expect(finals(each)).toHaveLength(1);
    }
    const stored = await rows(replicas, ids);
    expect(stored.map((row) => row.status)).toEqual(Array(TASKS).fill('SUCCEEDED'));
    expect(creates([...emulator.requests()])).toHaveLength(TASKS);
  });
});

// ---------------------------------------------------------------------------------------------

describe('Redis killed and restarted mid-run', () => {
  /** 832x480 at 30 steps: 5 s at time scale 4, longer than the outage. */
  const TIME_SCALE = 4;
  const TASKS = 4;
  let redis: OwnRedis;
  let emulator: Emulator;
  let replicas: Replicas;
  let ids: string[] = [];
  let stayed: Collected[] = [];
  let killedAt = 0;

  beforeAll(async () => {
    redis = await startRedis();
  });
  // Hooks after this one run first: the replicas are gone before their Redis is.
  afterAll(async () => {
    await redis?.stop();
  });
  useCluster(
    { timeScale: TIME_SCALE, count: 2, env: UNLIMITED, redisUrl: () => redis.url },
    (made) => ({ emulator, replicas } = made),
  );

  /** Creates tasks on A and B and subscribes to them on B (subscribers that stay connected). */
  async function tasksInFlight(): Promise<{ ids: string[]; stayed: Collected[] }> {
    const [a, b] = [replicas.at(0), replicas.at(1)];
    const made = await Promise.all(
      Array.from({ length: TASKS }, (_, task) =>
        generate(task % 2 === 0 ? a : b, smallInput({ steps: 30 })),
      ),
    );
    const client = b.ws();
    const watching = made.map((id) => watch(client, id));
    await until(
      () => (watching.every((each) => each.events.length > 0) ? true : undefined),
      5000,
      'the snapshots',
    );
    return { ids: made, stayed: watching };
  }

  /** Waits until both replicas' /readyz answers 200 again. */
  async function readyAgain() {
    for (const gateway of [replicas.at(0), replicas.at(1)]) {
      await until(
        async () => ((await readiness(gateway)).status === 200 ? true : undefined),
        10_000,
        `${gateway.url}/readyz to turn 200`,
      );
    }
  }

  /**
   * Waits (at most `ms`) for `tasks` to end in Postgres; on time out, says where each task's
   * BullMQ job is and what the replicas logged since `since`.
   */
  async function finishes(tasks: readonly string[], since: number, ms: number) {
    const ended = await until(
      async () =>
        (await rows(replicas, tasks)).every((row) => FINAL.has(row.status)) ? true : undefined,
      ms,
      'the tasks in flight to finish after Redis came back',
      100,
    ).then(
      () => true,
      () => false,
    );
    const stored = await rows(replicas, tasks);
    const log = [...emulator.requests()];
    const upstreamIds = stored.map((row) => row.upstream_task_id as string);
    let diagnosis = '';
    if (!ended) {
      const client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      const queue = `${replicas.redisPrefix}:track`;
      const jobs = await Promise.all(
        tasks.map(async (id) => ({
          job: (await client.exists(`${queue}:${id}`)) === 1,
          delayed: (await client.zscore(`${queue}:delayed`, id)) !== null,
          waiting: (await client.lpos(`${queue}:wait`, id)) !== null,
          active: (await client.lpos(`${queue}:active`, id)) !== null,
        })),
      );
      const keys = await client.keys(`${replicas.redisPrefix}*`);
      client.disconnect();
      const said = replicas
        .logs()
        .filter((record) => record.level !== 'debug' && Date.parse(record.time) >= since)
        .map(
          (record) =>
            `${record.time.slice(11, 23)} ${'AB'[record.replica]} ${record.level} ${record.msg}${record.err ? ` (${record.err.message})` : ''}`,
        );
      diagnosis = `not finished ${ms} ms after Redis came back; Postgres: ${JSON.stringify(stored.map((row) => row.status))}; upstream reads of each: ${JSON.stringify(upstreamIds.map((upstreamId) => readsOf(log, upstreamId).map((entry) => entry.time.slice(11, 23))))}; BullMQ jobs: ${JSON.stringify(jobs)}; keys under the prefix: ${JSON.stringify(keys)}; replicas said: ${JSON.stringify([...new Set(said)].slice(-30))}`;
    }
    return { ended, stored, log, upstreamIds, diagnosis };
  }

  it('while Redis is down: /readyz answers 503 naming Redis for events and tracking, and a new subscription is refused with an error', async () => {
    ({ ids, stayed } = await tasksInFlight());
    const [a, b] = [replicas.at(0), replicas.at(1)];
    killedAt = Date.now();
    await redis.kill();
    for (const gateway of [a, b]) {
      const ready = await until(
        async () => {
          const answer = await readiness(gateway);
          return answer.status === 503 &&
            /redis/i.test(answer.checks.events ?? '') &&
            /redis/i.test(answer.checks.tracking ?? '')
            ? answer
            : undefined;
        },
        5000,
        `${gateway.url}/readyz to turn 503 naming Redis`,
      );
      expect(ready.checks.store).toBe('ok');
    }

    const refused = watch(a.ws(), ids[0] as string);
    await within(refused.done, 5000, 'the refused subscription to end');
    expect(refused.events).toEqual([]);
    expect(refused.errors.length).toBeGreaterThan(0);
    expect(JSON.stringify(refused.errors)).toMatch(/UPSTREAM_UNAVAILABLE|unavailable/i);
    // An outage of a few seconds in all.
    await sleep(Math.max(0, 3000 - (Date.now() - killedAt)));
  });

  it('once Redis is back (empty) after that outage: /readyz answers 200 again and the tasks in flight still finish', async () => {
    expect(ids).toHaveLength(TASKS);
    await redis.restart();
    await readyAgain();
    const outcome = await finishes(ids, killedAt, 15_000);
    if (!outcome.ended) console.log(`scale-out Redis outage: ${outcome.diagnosis}`);
    expect(outcome.stored.map((row) => row.status)).toEqual(Array(TASKS).fill('SUCCEEDED'));
    // A subscription made now is served again, and says so.
    const fresh = watch(replicas.at(0).ws(), ids[0] as string);
    await within(fresh.done, 5000, 'a fresh subscription to complete');
    expect(fresh.events.map((event) => event.status)).toEqual(['SUCCEEDED']);
    // Those that stayed connected through the outage hear the end too.
    await within(
      Promise.all(stayed.map((each) => each.done)),
      5000,
      'the subscribers that stayed to complete',
    );
    for (const each of stayed) {
      expect(each.errors).toEqual([]);
      expect(each.events.at(-1)?.status).toBe('SUCCEEDED');
    }
    expect(
      outcome.upstreamIds.map(
        (upstreamId) => creates(outcome.log).filter((entry) => entry.taskId === upstreamId).length,
      ),
    ).toEqual(Array(TASKS).fill(1));
  });

  it('a blip: Redis killed and at once restarted empty: the tasks in flight still finish', async () => {
    const blip = await tasksInFlight();
    const since = Date.now();
    await redis.kill();
    await redis.restart();
    const outage = Date.now() - since;
    await readyAgain();
    const outcome = await finishes(blip.ids, since, 20_000);
    console.log(
      `scale-out Redis blip: down ${outage} ms; ${outcome.stored.filter((row) => row.status === 'SUCCEEDED').length}/${TASKS} tasks finished${outcome.ended ? '' : `; ${outcome.diagnosis}`}`,
    );
    expect(outcome.stored.map((row) => row.status)).toEqual(Array(TASKS).fill('SUCCEEDED'));
    await within(
      Promise.all(blip.stayed.map((each) => each.done)),
      5000,
      'the subscribers that stayed to complete',
    );
    for (const each of blip.stayed) expect(each.events.at(-1)?.status).toBe('SUCCEEDED');
  });
});

// ---------------------------------------------------------------------------------------------

describe('idempotency keys and per-client limits across replicas', () => {
  const PER_MINUTE = 5;
  const IN_FLIGHT = 3;
  const PAIRS = 6;
  const key = (name: string) => `${name}-client-key-0123456789`;
  const auth = (name: string) => ({ authorization: `Bearer ${key(name)}` });
  const names = [...Array.from({ length: PAIRS }, (_, pair) => `idem${pair}`), 'rate', 'inflight'];
  let emulator: Emulator;
  let replicas: Replicas;

  useCluster(
    {
      timeScale: 20,
      count: 3,
      env: {
        GATEWAY_API_KEYS: names.map(key).join(','),
        MUTATIONS_PER_MINUTE: String(PER_MINUTE),
        MAX_IN_FLIGHT_TASKS: String(IN_FLIGHT),
      },
    },
    (made) => ({ emulator, replicas } = made),
  );

  it('one idempotency key sent to A and B at once, in several concurrent pairs: one task and one upstream create per key', async () => {
    const [a, b] = [replicas.at(0), replicas.at(1)];
    const createsBefore = creates([...emulator.requests()]).length;
    const pairs = await Promise.all(
      Array.from({ length: PAIRS }, async (_, pair) => {
        const input = smallInput({ steps: 20 });
        const idempotencyKey = `same-key-${pair}`;
        return Promise.all([
          generate(a, input, auth(`idem${pair}`), idempotencyKey),
          generate(b, input, auth(`idem${pair}`), idempotencyKey),
        ]);
      }),
    );
    for (const [onA, onB] of pairs) expect(onA).toBe(onB);
    const stored = await rows(replicas);
    const keyed = stored.filter((row) => row.idempotency_key?.startsWith('same-key-'));
    expect(keyed).toHaveLength(PAIRS);
    expect(new Set(keyed.map((row) => row.id))).toEqual(new Set(pairs.map(([id]) => id)));
    const log = [...emulator.requests()];
    expect(creates(log).length - createsBefore).toBe(PAIRS);
    for (const row of keyed) {
      expect(creates(log).filter((entry) => entry.taskId === row.upstream_task_id)).toHaveLength(1);
    }
  });

  it(`MUTATIONS_PER_MINUTE=${PER_MINUTE}: the 6th mutation, spread across replicas, is RATE_LIMITED`, async () => {
    const gateways = [replicas.at(0), replicas.at(1), replicas.at(2)];
    const quick = () => smallInput({ steps: 2 });
    const first = await Promise.all(
      [0, 1, 2].map((n) => generate(gateways[n] as GatewayProcess, quick(), auth('rate'))),
    );
    // At most IN_FLIGHT (3) at once: the next two wait for these to end.
    await until(
      async () => {
        const stored = await rows(replicas, first);
        return stored.every((row) => FINAL.has(row.status)) ? true : undefined;
      },
      10_000,
      'the first three to end',
    );
    await generate(gateways[0] as GatewayProcess, quick(), auth('rate'));
    await generate(gateways[1] as GatewayProcess, quick(), auth('rate'));
    for (const gateway of [gateways[2], gateways[0]] as GatewayProcess[]) {
      const { body } = await gateway.gql(GENERATE, { input: quick() }, auth('rate'));
      expect(body.data?.generateVideo ?? null).toBeNull();
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'rate' });
    }
  });

  it(`MAX_IN_FLIGHT_TASKS=${IN_FLIGHT}: the 4th task in flight, spread across replicas, is RATE_LIMITED`, async () => {
    const gateways = [replicas.at(0), replicas.at(1), replicas.at(2)];
    // 1280x720 at 40 steps: 3 s here, in flight through the whole check.
    const long = () => smallInput({ width: 1280, height: 720, steps: 40 });
    const accepted = await Promise.all(
      [0, 1, 2].map((n) => generate(gateways[n] as GatewayProcess, long(), auth('inflight'))),
    );
    // Two more (the 4th and 5th mutations: within the per-minute budget), on C and on A.
    for (const gateway of [gateways[2], gateways[0]] as GatewayProcess[]) {
      const { body } = await gateway.gql(GENERATE, { input: long() }, auth('inflight'));
      expect(body.data?.generateVideo ?? null).toBeNull();
      expect(body.errors?.[0]?.extensions).toMatchObject({
        code: 'RATE_LIMITED',
        limit: 'in_flight',
      });
    }
    // The refused ones left no task behind: this client has exactly its three.
    const stored = await rows(replicas);
    const owner = stored.find((row) => row.id === accepted[0])?.owner;
    expect(
      stored
        .filter((row) => row.owner === owner)
        .map((row) => row.id)
        .sort(),
    ).toEqual([...accepted].sort());
  });
});
