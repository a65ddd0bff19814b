/**
 * Upstream economy: how many requests the upstream gets for one task when 1, 10 or 100 clients
 * watch it through the gateway (graphql-ws subscriptions), in polling mode and in webhook mode,
 * against N clients polling the upstream's REST task-result themselves every 2 s and every
 * 0.5 s (run for real, in the same run). Also: how long after the upstream finished a task the
 * final state reached the gateway's subscribers.
 *
 * The emulator (time scale 2: an 832×480, 30-step task takes 10 s) and each gateway run in
 * child processes; the watchers and the REST clients run here. Requests are counted from the
 * emulator's request log: for a task, its create plus every task-result read of its upstream id.
 * The gateway runs as shipped: no custom poll policy, the default log level (info).
 *
 * `run()` returns the section; run directly, it prints its markdown:
 * `node --import tsx src/economy.ts` (add `--conditions=@wan-video/source` to run the sources).
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import {
  CREATE_TASK_PATH,
  parseVideoInput,
  STATUS_TO_UPSTREAM,
  TASK_RESULT_PATH,
  type TaskResultResponse,
  toCreateTaskRequest,
} from '@wan-video/core';
import { type RequestLogEntry, taskDurationMs } from '@wan-video/emulator';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ascending,
  type EmulatorProcess,
  freePort,
  median,
  percentile,
  printSection,
  type Section,
  startEmulatorProcess,
  startGatewayProcess,
  type Target,
  table,
} from './common.js';

const TIME_SCALE = 2;
const API_KEY = 'bench-upstream-key';
const READINESS_PROBE = 'wan-video-readiness-probe';
const INPUT = {
  prompt: 'a lighthouse at dusk, waves breaking on the rocks',
  width: 832,
  height: 480,
  steps: 30,
  seed: 4242,
} as const;
/** How long the emulator takes over the task: 10 s at time scale 2. */
const T_MS = taskDurationMs(INPUT, TIME_SCALE);

/** Watchers per task, and how many tasks of each (more 1-watcher tasks: they set the baseline). */
const WATCHER_LEVELS = [
  { watchers: 1, tasks: 10 },
  { watchers: 10, tasks: 5 },
  { watchers: 100, tasks: 3 },
] as const;
/** The gap between two creates: spreads the tasks' ends over a few seconds. */
const CREATE_GAP_MS = 150;
/** The REST baselines: N clients each reading the task every `interval` until it is final. */
const REST_INTERVALS_MS = [2000, 500] as const;

/** The targets. */
const WEBHOOK_REQUESTS = 2;
const POLL_PERIOD_S = 3;
const POLL_EXTRA_READS = 3;
const MAX_PUSH_P95_MS = 2000;

const CREATE_BODY = JSON.stringify(toCreateTaskRequest(parseVideoInput(INPUT)));
const upstreamHeaders = { authorization: `Bearer ${API_KEY}` };

const GENERATE =
  'mutation Generate($input: GenerateVideoInput!) { generateVideo(input: $input) { id status } }';
const WATCH =
  'subscription Watch($id: ID!) { videoTask(id: $id) { id status progressPercent failureReason } }';

// --- the upstream ----------------------------------------------------------------------------

async function createDirect(emulatorUrl: string): Promise<string> {
  const created = await fetch(`${emulatorUrl}${CREATE_TASK_PATH}`, {
    method: 'POST',
    headers: { ...upstreamHeaders, 'content-type': 'application/json' },
    body: CREATE_BODY,
  });
  if (!created.ok) throw new Error(`create answered ${created.status}: ${await created.text()}`);
  return ((await created.json()) as { task_id: string }).task_id;
}

async function readDirect(emulatorUrl: string, taskId: string): Promise<TaskResultResponse> {
  const read = await fetch(`${emulatorUrl}${TASK_RESULT_PATH}?task_id=${taskId}`, {
    headers: upstreamHeaders,
  });
  if (!read.ok) throw new Error(`task-result answered ${read.status}: ${await read.text()}`);
  return (await read.json()) as TaskResultResponse;
}

/**
 * Renders INPUT's video once before anything is measured: every task has the same input, so the
 * emulator reuses that file, and each task ends exactly `T_MS` after its create (no render can
 * hold it at 99% past its time).
 */
async function renderFirst(emulatorUrl: string, storageDir: string): Promise<void> {
  await createDirect(emulatorUrl);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const files = await readdir(storageDir).catch(() => [] as string[]);
    if (files.some((file) => file.endsWith('.mp4'))) return;
    if (Date.now() > deadline) throw new Error('the video was not rendered within 30 s');
    await sleep(50);
  }
}

/** Requests the emulator logged about one upstream task: its create and its reads. */
function countFor(log: readonly RequestLogEntry[], upstreamId: string) {
  const entries = log.filter(
    (entry) => entry.taskId === upstreamId && entry.taskId !== READINESS_PROBE,
  );
  const creates = entries.filter((entry) => entry.path === CREATE_TASK_PATH);
  const reads = entries.filter((entry) => entry.path === TASK_RESULT_PATH);
  return {
    creates: creates.length,
    reads: reads.length,
    total: creates.length + reads.length,
    readTimes: reads.map((entry) => Date.parse(entry.time)),
    other: entries.length - creates.length - reads.length,
  };
}

/** When the upstream task was submitted, and when the emulator first reported it final. */
async function upstreamTimes(emulatorUrl: string, upstreamId: string) {
  const body = await readDirect(emulatorUrl, upstreamId);
  const debug = body.extra.debug_info;
  const submitted = Number(debug?.submit_time_ms);
  const completed = Number(debug?.complete_time_ms);
  if (!(submitted > 0 && completed > 0)) {
    throw new Error(`upstream task ${upstreamId} has no submit or complete time`);
  }
  if (body.task.status !== STATUS_TO_UPSTREAM.SUCCEEDED) {
    throw new Error(`upstream task ${upstreamId} is ${body.task.status}, not SUCCEEDED`);
  }
  return { submitted, finished: submitted + T_MS, firstReported: completed };
}

// --- REST baselines --------------------------------------------------------------------------

interface BaselineRow {
  readonly interval: number;
  readonly clients: number;
  readonly requests: number;
  readonly readsPerClient: number[];
  /** For each client: when it saw the final state, minus when the upstream finished (ms). */
  readonly lags: number[];
}

/**
 * One client: from `phase` ms after the create, reads the task every `interval` ms (on a fixed
 * schedule) until it is final.
 */
async function restClient(emulatorUrl: string, taskId: string, interval: number, phase: number) {
  const start = performance.now() + phase;
  await sleep(phase);
  for (let reads = 1; ; reads++) {
    const { task } = await readDirect(emulatorUrl, taskId);
    if (task.status === STATUS_TO_UPSTREAM.SUCCEEDED || task.status === STATUS_TO_UPSTREAM.FAILED) {
      return { reads, seenAt: Date.now(), status: task.status };
    }
    await sleep(Math.max(0, start + reads * interval - performance.now()));
  }
}

async function runBaselines(emulator: EmulatorProcess): Promise<BaselineRow[]> {
  await emulator.clearLog();
  const plans = REST_INTERVALS_MS.flatMap((interval) =>
    WATCHER_LEVELS.map(({ watchers }) => ({ interval, clients: watchers })),
  );
  const runs = await Promise.all(
    plans.map(async (plan, i) => {
      await sleep(i * CREATE_GAP_MS);
      const taskId = await createDirect(emulator.url);
      const seen = await Promise.all(
        // Clients start watching at moments spread evenly over the first interval: in step with
        // the create, every one would read exactly at the end of a task of whole seconds.
        Array.from({ length: plan.clients }, (_, k) =>
          restClient(
            emulator.url,
            taskId,
            plan.interval,
            ((k + 0.5) / plan.clients) * plan.interval,
          ),
        ),
      );
      return { ...plan, taskId, seen };
    }),
  );
  await sleep(500);
  const { requests } = await emulator.log();
  const rows: BaselineRow[] = [];
  for (const { interval, clients, taskId, seen } of runs) {
    const { finished } = await upstreamTimes(emulator.url, taskId);
    rows.push({
      interval,
      clients,
      requests: countFor(requests, taskId).total,
      readsPerClient: seen.map((client) => client.reads),
      lags: ascending(seen.map((client) => client.seenAt - finished)),
    });
  }
  return rows;
}

// --- the gateway -----------------------------------------------------------------------------

interface Watcher {
  /** Every status pushed, with when it arrived (epoch ms). */
  readonly events: { status: string; at: number }[];
  readonly errors: unknown[];
  readonly done: Promise<void>;
}

function watch(client: Client, id: string): Watcher {
  const events: { status: string; at: number }[] = [];
  const errors: unknown[] = [];
  const done = new Promise<void>((resolve) => {
    client.subscribe(
      { query: WATCH, variables: { id } },
      {
        next: (message) => {
          const at = Date.now();
          if (message.errors) errors.push(...message.errors);
          const task = (message.data as { videoTask?: { status: string } } | undefined)?.videoTask;
          if (task) events.push({ status: task.status, at });
        },
        error: (error) => {
          errors.push(error);
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return { events, errors, done };
}

interface GatewayTask {
  readonly watchers: number;
  readonly id: string;
  readonly upstreamId: string;
  readonly creates: number;
  readonly reads: number;
  readonly total: number;
  /** Reads of this task, in seconds after its create. */
  readonly readOffsets: number[];
  /** For each watcher: when the final state arrived, minus when the upstream finished (ms). */
  readonly lags: number[];
  /** The same, minus when the emulator first reported it final (the gateway's read or webhook). */
  readonly lagsFromReport: number[];
  /** Statuses each watcher received (including the first, current one). */
  readonly eventsPerWatcher: number[];
  /** Watchers that did not end on SUCCEEDED, or saw errors. */
  readonly badWatchers: number;
  /** When the emulator first reported the task final, after its submit (ms). */
  readonly reportedAfter: number;
}

interface ModeResult {
  readonly mode: 'polling' | 'webhook';
  readonly tasks: GatewayTask[];
  readonly webhookDeliveries: number;
  readonly webhookFailures: number;
}

async function runMode(
  emulator: EmulatorProcess,
  mode: 'polling' | 'webhook',
  databasePath: string,
): Promise<ModeResult> {
  const port = await freePort();
  const gateway = await startGatewayProcess({
    PORT: String(port),
    HOST: '127.0.0.1',
    NOVITA_API_KEY: API_KEY,
    NOVITA_BASE_URL: emulator.url,
    DATABASE_PATH: databasePath,
    // The guard rails, above this run's 18 tasks at once (the default in-flight cap is 10).
    MAX_IN_FLIGHT_TASKS: '100',
    MUTATIONS_PER_MINUTE: '1000',
    ...(mode === 'webhook' ? { PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
  });
  const clients: Client[] = [];
  try {
    await emulator.clearLog();
    const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/graphql`;
    // Interleaved, so that each level's tasks are spread over the whole run.
    const levels = WATCHER_LEVELS.flatMap(({ watchers, tasks }) =>
      Array.from({ length: tasks }, (_, i) => ({ watchers, i })),
    )
      .sort((a, b) => a.i - b.i || a.watchers - b.watchers)
      .map(({ watchers }) => watchers);
    const started = await Promise.all(
      levels.map(async (watchers, i) => {
        await sleep(i * CREATE_GAP_MS);
        const response = await fetch(`${gateway.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: GENERATE, variables: { input: INPUT } }),
        });
        const body = (await response.json()) as {
          data?: { generateVideo: { id: string } };
          errors?: unknown[];
        };
        const id = body.data?.generateVideo.id;
        if (!id) throw new Error(`generateVideo failed: ${JSON.stringify(body.errors)}`);
        const subscribers = Array.from({ length: watchers }, () => {
          const client = createClient({
            url: wsUrl,
            webSocketImpl: WebSocket,
            retryAttempts: 0,
            lazy: true,
          });
          clients.push(client);
          return watch(client, id);
        });
        return { watchers, id, subscribers };
      }),
    );
    const all = started.flatMap((task) => task.subscribers.map((watcher) => watcher.done));
    const limit = new AbortController();
    const timeout = sleep(T_MS + 30_000, undefined, { signal: limit.signal }).then(() => {
      throw new Error(`${mode} mode: the subscriptions did not all end within ${T_MS + 30_000} ms`);
    });
    timeout.catch(() => {}); // aborted once every subscription has ended
    try {
      await Promise.race([Promise.all(all), timeout]);
    } finally {
      limit.abort();
    }
    // Any read the gateway would still make after the final state would show up here.
    await sleep(1500);

    const { requests, webhooks } = await emulator.log();
    const upstreamIds = new Map<string, string>();
    for (const line of gateway.logLines) {
      try {
        const entry = JSON.parse(line) as {
          msg?: string;
          taskId?: string;
          upstreamTaskId?: string;
        };
        if (entry.msg === 'task created' && entry.taskId && entry.upstreamTaskId) {
          upstreamIds.set(entry.taskId, entry.upstreamTaskId);
        }
      } catch {
        // not a log line
      }
    }
    const tasks: GatewayTask[] = [];
    for (const { watchers, id, subscribers } of started) {
      const upstreamId = upstreamIds.get(id);
      if (!upstreamId) throw new Error(`no "task created" log line for ${id}`);
      const counted = countFor(requests, upstreamId);
      const times = await upstreamTimes(emulator.url, upstreamId);
      const finals = subscribers.map((watcher) => watcher.events.at(-1));
      const ok = (final: { status: string } | undefined) => final?.status === 'SUCCEEDED';
      const arrived = finals.filter(ok).map((final) => (final as { at: number }).at);
      tasks.push({
        watchers,
        id,
        upstreamId,
        creates: counted.creates,
        reads: counted.reads,
        total: counted.total,
        readOffsets: counted.readTimes.map((at) => (at - times.submitted) / 1000),
        lags: ascending(arrived.map((at) => at - times.finished)),
        lagsFromReport: ascending(arrived.map((at) => at - times.firstReported)),
        eventsPerWatcher: subscribers.map((watcher) => watcher.events.length),
        badWatchers: subscribers.filter((watcher, i) => !ok(finals[i]) || watcher.errors.length > 0)
          .length,
        reportedAfter: times.firstReported - times.submitted,
      });
    }
    return {
      mode,
      tasks,
      webhookDeliveries: webhooks.filter((hook) => hook.status !== null && hook.status < 300)
        .length,
      webhookFailures: webhooks.filter((hook) => hook.status === null || hook.status >= 300).length,
    };
  } finally {
    await Promise.all(clients.map((client) => client.dispose()));
    await gateway.close();
  }
}

// --- the report ------------------------------------------------------------------------------

const s = (ms: number) => (ms / 1000).toFixed(2);
/** "6" when all equal, else "6 (5–7)": the median and the range. */
function spread(values: readonly number[]): string {
  const min = Math.min(...values);
  const max = Math.max(...values);
  return min === max ? String(min) : `${median(values)} (${min}–${max})`;
}

export async function run(): Promise<Section> {
  const started = performance.now();
  const loadAtStart = os.loadavg()[0] ?? Number.NaN;
  const tmp = await mkdtemp(join(os.tmpdir(), 'wan-video-bench-economy-'));
  const storageDir = join(tmp, 'videos');
  let baselines: BaselineRow[];
  let polling: ModeResult;
  let webhook: ModeResult;
  try {
    const emulator = await startEmulatorProcess({ timeScale: TIME_SCALE, storageDir });
    try {
      await renderFirst(emulator.url, storageDir);
      baselines = await runBaselines(emulator);
      console.error('economy: REST baselines done');
      polling = await runMode(emulator, 'polling', join(tmp, 'polling.db'));
      console.error('economy: polling mode done');
      webhook = await runMode(emulator, 'webhook', join(tmp, 'webhook.db'));
      console.error('economy: webhook mode done');
    } finally {
      await emulator.close();
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }

  const tOfLevel = (mode: ModeResult, watchers: number) =>
    mode.tasks.filter((task) => task.watchers === watchers);
  // T as the emulator reported it: submit to the webhook's send (at the task's end), median.
  const measuredT = median(webhook.tasks.map((task) => task.reportedAfter));
  const pollingReadLimit = Math.ceil(measuredT / 1000 / POLL_PERIOD_S) + POLL_EXTRA_READS;

  const economyTable = table(
    [
      'watchers',
      'gateway, polling',
      'gateway, webhook',
      'REST every 2 s',
      'REST every 0.5 s',
      'gateway tasks',
    ],
    WATCHER_LEVELS.map(({ watchers, tasks }) => {
      const rest = (interval: number) =>
        String(
          baselines.find((row) => row.interval === interval && row.clients === watchers)
            ?.requests ?? '–',
        );
      return [
        String(watchers),
        spread(tOfLevel(polling, watchers).map((task) => task.total)),
        spread(tOfLevel(webhook, watchers).map((task) => task.total)),
        rest(2000),
        rest(500),
        String(tasks),
      ];
    }),
  );

  const allLags = (mode: ModeResult) => ascending(mode.tasks.flatMap((task) => task.lags));
  const taskWorst = (mode: ModeResult) =>
    ascending(mode.tasks.map((task) => task.lags.at(-1) ?? Number.NaN));
  const lagRow = (label: string, lags: readonly number[], tasks: string) => [
    label,
    String(lags.length),
    tasks,
    s(percentile(lags, 50)),
    s(percentile(lags, 95)),
    s(lags.at(-1) ?? Number.NaN),
  ];
  const restLags = (interval: number) =>
    ascending(baselines.filter((row) => row.interval === interval).flatMap((row) => row.lags));
  const lagTable = table(
    ['who', 'watchers', 'tasks', 'p50 s', 'p95 s', 'max s'],
    [
      lagRow('gateway subscribers, polling mode', allLags(polling), String(polling.tasks.length)),
      lagRow(
        'gateway, polling mode: last subscriber of each task',
        taskWorst(polling),
        String(polling.tasks.length),
      ),
      lagRow('gateway subscribers, webhook mode', allLags(webhook), String(webhook.tasks.length)),
      lagRow('REST clients every 2 s', restLags(2000), String(WATCHER_LEVELS.length)),
      lagRow('REST clients every 0.5 s', restLags(500), String(WATCHER_LEVELS.length)),
    ],
  );
  const fromReport = (mode: ModeResult) =>
    ascending(mode.tasks.flatMap((task) => task.lagsFromReport));

  const detailTable = table(
    ['mode', 'watchers', 'tasks', 'creates', 'reads', 'statuses pushed per watcher'],
    [polling, webhook].flatMap((mode) =>
      WATCHER_LEVELS.map(({ watchers }) => {
        const tasks = tOfLevel(mode, watchers);
        return [
          mode.mode,
          String(watchers),
          String(tasks.length),
          spread(tasks.map((task) => task.creates)),
          spread(tasks.map((task) => task.reads)),
          spread(tasks.flatMap((task) => task.eventsPerWatcher)),
        ];
      }),
    ),
  );
  const sampleTask = tOfLevel(polling, 1)[0];
  const sampleReads = sampleTask
    ? sampleTask.readOffsets.map((offset) => offset.toFixed(2)).join(', ')
    : '–';
  const restReads = (interval: number) =>
    spread(
      baselines.filter((row) => row.interval === interval).flatMap((row) => row.readsPerClient),
    );

  // --- targets ---
  const grows = (mode: ModeResult) => {
    const most = (watchers: number) => Math.max(...tOfLevel(mode, watchers).map((t) => t.total));
    return {
      ok: most(10) <= most(1) && most(100) <= most(1),
      text: `${mode.mode}: at most ${most(1)} / ${most(10)} / ${most(100)} for 1 / 10 / 100 watchers`,
    };
  };
  const pollingGrowth = grows(polling);
  const webhookGrowth = grows(webhook);
  const webhookCounts = webhook.tasks.map((task) => task.total);
  const pollingReads = polling.tasks.map((task) => task.reads);
  const pushLags = allLags(polling);
  const pushP95 = percentile(pushLags, 95);
  const badWatchers = [...polling.tasks, ...webhook.tasks].reduce(
    (sum, task) => sum + task.badWatchers,
    0,
  );
  const watcherCount = [...polling.tasks, ...webhook.tasks].reduce(
    (sum, task) => sum + task.watchers,
    0,
  );
  const targets: Target[] = [
    {
      name: 'upstream requests per task do not grow with watchers (both modes)',
      target: 'the most for 10 and for 100 watchers ≤ the most for 1',
      measured: `${pollingGrowth.text}; ${webhookGrowth.text}`,
      met: pollingGrowth.ok && webhookGrowth.ok,
    },
    {
      name: 'webhook mode: upstream requests per task',
      target: `exactly ${WEBHOOK_REQUESTS} (create + one confirming read)`,
      measured: `${spread(webhookCounts)} over ${webhookCounts.length} tasks`,
      met: webhookCounts.every((count) => count === WEBHOOK_REQUESTS),
    },
    {
      name: `polling mode: upstream reads per task (T = ${s(measuredT)} s)`,
      target: `≤ ceil(T / ${POLL_PERIOD_S} s) + ${POLL_EXTRA_READS} = ${pollingReadLimit}`,
      measured: `${spread(pollingReads)} over ${pollingReads.length} tasks`,
      met: pollingReads.every((reads) => reads <= pollingReadLimit),
    },
    {
      name: 'polling mode: final state pushed after the upstream finished, p95',
      target: `≤ ${s(MAX_PUSH_P95_MS)} s`,
      measured: `${s(pushP95)} s (${pushLags.length} subscribers of ${polling.tasks.length} tasks; max ${s(pushLags.at(-1) ?? Number.NaN)} s)`,
      met: pushP95 <= MAX_PUSH_P95_MS && polling.tasks.every((task) => task.badWatchers === 0),
    },
  ];

  const markdown = `Upstream requests for one task of T = ${s(T_MS)} s (${INPUT.width}×${INPUT.height}, ${INPUT.steps} steps, emulator \`timeScale: ${TIME_SCALE}\`; measured: ${s(measuredT)} s from create to the webhook's send, median), when 1, 10 or 100 clients watch it. Through the gateway, each watcher is a graphql-ws client of its own (one WebSocket, one \`videoTask\` subscription) opened right after \`generateVideo\` returned; in polling mode the gateway reads the task itself (core's default poll policy: half the eta, 1 s to 10 s, ±10% jitter), in webhook mode \`PUBLIC_URL\` is the gateway's own URL and it waits for the webhook. Baselines: N clients each reading \`GET ${TASK_RESULT_PATH}\` of the upstream themselves until the task is final, every 2 s and every 0.5 s (run for real, N = 1, 10 and 100, not computed). Every count is one task's create plus every read of its upstream id in the emulator's request log.

The emulator, each gateway (a fresh one per mode, default log level, \`MAX_IN_FLIGHT_TASKS=100\` since ${polling.tasks.length} tasks run at once) and the watchers are separate processes on loopback. Every task has the same input, and its video is rendered before the first one, so each task ends exactly T after its create. Creates are ${CREATE_GAP_MS} ms apart; the watcher counts are interleaved.

Upstream requests per task (create included); several tasks: median (min–max):

${economyTable}

REST clients read ${restReads(2000)} times each at 2 s and ${restReads(500)} times at 0.5 s: client k of N starts (k + ½) / N of an interval after the create, then reads every interval until the task is final (about T / interval + 1 reads).

Per mode and number of watchers:

${detailTable}

One polling-mode task's reads, in seconds after its create: ${sampleReads}. Webhooks delivered: ${webhook.webhookDeliveries} (${webhook.webhookFailures} failed tries).

How long after the upstream finished (create + T: the first moment a read returns SUCCEEDED) the final state reached each watcher:

${lagTable}

Measured from the emulator's first report of the final state instead (the gateway's first read that returned SUCCEEDED, or the webhook's send), p95: ${s(percentile(fromReport(polling), 95))} s in polling mode, ${s(percentile(fromReport(webhook), 95))} s in webhook mode.
${badWatchers > 0 ? `\n**${badWatchers} of ${watcherCount} watchers did not end on SUCCEEDED or saw errors.**\n` : ''}
Load average (1 min) at the start: ${loadAtStart.toFixed(2)}. Run time: ${((performance.now() - started) / 1000).toFixed(0)} s.
`;
  return { title: 'Upstream economy', markdown, targets };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printSection(await run());
}
