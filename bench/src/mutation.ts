/**
 * Mutation overhead: what the gateway adds to creating a task. `generateVideo` through the
 * gateway against a direct `POST /v3/async/wan-t2v` to the emulator, with autocannon at 1, 16
 * and 64 connections (8 s each, after a 1 s warm-up at the same concurrency).
 *
 * Three processes: autocannon here, the gateway in one child, the emulator (time scale 1000, so
 * tasks end within a second) in another. Every measured run gets a fresh emulator and, for the
 * gateway, a fresh gateway with a new database, so that neither carries the tasks of an earlier
 * run. The gateway runs with MUTATIONS_PER_MINUTE and MAX_IN_FLIGHT_TASKS at their largest and
 * LOG_LEVEL=error, and no custom poll policy.
 *
 * `run()` returns the section; run directly, it prints its markdown:
 * `node --import tsx src/mutation.ts` (add `--conditions=@wan-video/source` to run the sources).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
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
import {
  type EmulatorProcess,
  type LoadOptions,
  type LoadResult,
  load,
  percentile,
  printSection,
  type Section,
  startEmulatorProcess,
  startGatewayProcess,
  type Target,
  table,
  thousands,
} from './common.js';

const CONNECTIONS = [1, 16, 64] as const;
const LOAD_SECONDS = 8;
const WARMUP_SECONDS = 1;
const TIME_SCALE = 1000;
const API_KEY = 'bench-upstream-key';

/** The targets: added latency at p50 and p99 (ms), and the share of direct throughput kept. */
const MAX_ADDED_P50_MS = 1;
const MAX_ADDED_P99_MS = 5;
const MIN_THROUGHPUT_RATIO = 0.7;

/** One input for every request (autocannon's body is static); validation and create still run. */
const INPUT = {
  prompt: 'a lighthouse at dusk, waves breaking on the rocks',
  width: 832,
  height: 480,
  seed: 7,
  steps: 4,
} as const;

const MUTATION =
  'mutation Generate($input: GenerateVideoInput!) { generateVideo(input: $input) { id status } }';

/** The body the gateway itself sends upstream for INPUT: the direct runs send the same. */
const DIRECT_BODY = JSON.stringify(toCreateTaskRequest(parseVideoInput(INPUT)));
const GATEWAY_BODY = JSON.stringify({ query: MUTATION, variables: { input: INPUT } });

interface Measured extends LoadResult {
  /** Good responses per second over the run. */
  readonly throughput: number;
  /** Upstream requests the emulator logged during the run: creates and task reads. */
  readonly upstreamCreates: number;
  readonly upstreamReads: number;
}

interface Row {
  readonly connections: number;
  readonly direct: Measured;
  readonly gateway: Measured;
  /** The gateway with its database in memory (tmpfs): what the disk's fsyncs cost. */
  readonly gatewayTmpfs: Measured | undefined;
}

/** Where a database costs no disk writes, for the diagnostic rows (Linux only). */
const TMPFS = '/dev/shm';

/**
 * Creates INPUT's task once and waits for it to succeed, so that its video is rendered into
 * `storageDir` before any measured run (the emulator then reuses that file for every task).
 */
async function renderOnce(emulatorUrl: string): Promise<void> {
  const headers = { authorization: `Bearer ${API_KEY}` };
  const created = await fetch(`${emulatorUrl}${CREATE_TASK_PATH}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: DIRECT_BODY,
  });
  if (!created.ok) throw new Error(`create answered ${created.status}: ${await created.text()}`);
  const { task_id: taskId } = (await created.json()) as { task_id: string };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const read = await fetch(`${emulatorUrl}${TASK_RESULT_PATH}?task_id=${taskId}`, { headers });
    const { task } = (await read.json()) as TaskResultResponse;
    if (task.status === STATUS_TO_UPSTREAM.SUCCEEDED) return;
    if (task.status === STATUS_TO_UPSTREAM.FAILED) throw new Error(`task failed: ${task.reason}`);
    if (Date.now() > deadline) throw new Error(`task still ${task.status} after 30 s`);
    await sleep(50);
  }
}

/** A warm-up, then the measured run, with the emulator's log counted over the measured run. */
async function measure(
  emulator: EmulatorProcess,
  options: Omit<LoadOptions, 'seconds'>,
): Promise<Measured> {
  // Untimed: lets both servers' JIT warm up (and the gateway's pools fill) first.
  await load({ ...options, seconds: WARMUP_SECONDS });
  await sleep(200);
  await emulator.clearLog();
  const measured = await load({ ...options, seconds: LOAD_SECONDS });
  const { requests } = await emulator.log();
  return {
    ...measured,
    throughput: measured.latencies.length / measured.result.duration,
    upstreamCreates: requests.filter((entry) => entry.path === CREATE_TASK_PATH).length,
    upstreamReads: requests.filter((entry) => entry.path === TASK_RESULT_PATH).length,
  };
}

async function measureDirect(storageDir: string, connections: number): Promise<Measured> {
  const emulator = await startEmulatorProcess({ timeScale: TIME_SCALE, storageDir });
  try {
    return await measure(emulator, {
      url: `${emulator.url}${CREATE_TASK_PATH}`,
      connections,
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: DIRECT_BODY,
      isGood: (body) => body.includes('"task_id"'),
    });
  } finally {
    await emulator.close();
  }
}

async function measureGateway(
  storageDir: string,
  databasePath: string,
  connections: number,
): Promise<Measured> {
  const emulator = await startEmulatorProcess({ timeScale: TIME_SCALE, storageDir });
  try {
    const gateway = await startGatewayProcess({
      PORT: '0',
      NOVITA_API_KEY: API_KEY,
      NOVITA_BASE_URL: emulator.url,
      DATABASE_PATH: databasePath,
      MUTATIONS_PER_MINUTE: '100000',
      MAX_IN_FLIGHT_TASKS: '10000',
      LOG_LEVEL: 'error',
    });
    try {
      return await measure(emulator, {
        url: `${gateway.url}/graphql`,
        connections,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: GATEWAY_BODY,
        isGood: (body) => body.includes('"generateVideo":{"id"') && !body.includes('"errors"'),
      });
    } finally {
      await gateway.close();
    }
  } finally {
    await emulator.close();
  }
}

const ms = (value: number) => value.toFixed(2);
const signedMs = (value: number) => `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}`;
const pct = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;

export async function run(): Promise<Section> {
  const started = performance.now();
  const loadAtStart = os.loadavg()[0] ?? Number.NaN;
  const tmp = await mkdtemp(join(os.tmpdir(), 'wan-video-bench-mutation-'));
  const storageDir = join(tmp, 'videos');
  const rows: Row[] = [];
  const shm =
    os.platform() === 'linux' && existsSync(TMPFS)
      ? await mkdtemp(join(TMPFS, 'wan-video-bench-mutation-'))
      : undefined;
  try {
    const first = await startEmulatorProcess({ timeScale: TIME_SCALE, storageDir });
    try {
      await renderOnce(first.url);
    } finally {
      await first.close();
    }
    for (const connections of CONNECTIONS) {
      const direct = await measureDirect(storageDir, connections);
      console.error(
        `mutation: direct, ${connections} connections: ${thousands(direct.throughput)} req/s`,
      );
      const gateway = await measureGateway(
        storageDir,
        join(tmp, `gateway-${connections}.db`),
        connections,
      );
      console.error(
        `mutation: gateway, ${connections} connections: ${thousands(gateway.throughput)} req/s`,
      );
      const gatewayTmpfs = shm
        ? await measureGateway(storageDir, join(shm, `gateway-${connections}.db`), connections)
        : undefined;
      if (gatewayTmpfs) {
        console.error(
          `mutation: gateway (database on tmpfs), ${connections} connections: ${thousands(gatewayTmpfs.throughput)} req/s`,
        );
      }
      rows.push({ connections, direct, gateway, gatewayTmpfs });
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
    if (shm) await rm(shm, { recursive: true, force: true });
  }

  const p = (m: Measured, q: number) => percentile(m.latencies, q);
  const loadTable = table(
    [
      'connections',
      'path',
      'req/s',
      'p50 ms',
      'p99 ms',
      'good answers',
      'non-2xx',
      'GraphQL errors',
      'conn. errors',
      'upstream creates',
      'upstream reads',
    ],
    rows.flatMap(({ connections, direct, gateway, gatewayTmpfs }) =>
      (
        [
          ['direct', direct],
          ['gateway', gateway],
          ...(gatewayTmpfs ? [['gateway, DB on tmpfs', gatewayTmpfs] as const] : []),
        ] as const
      ).map(([path, m]) => [
        String(connections),
        path,
        thousands(m.throughput),
        ms(p(m, 50)),
        ms(p(m, 99)),
        thousands(m.latencies.length),
        String(m.result.non2xx),
        path === 'direct' ? '–' : String(m.badBodies),
        String(m.result.errors + m.result.timeouts),
        thousands(m.upstreamCreates),
        thousands(m.upstreamReads),
      ]),
    ),
    2,
  );

  const overhead = rows.map(({ connections, direct, gateway }) => ({
    connections,
    p50: p(gateway, 50) - p(direct, 50),
    p99: p(gateway, 99) - p(direct, 99),
    ratio: gateway.throughput / direct.throughput,
  }));
  const overheadTable = table(
    ['connections', 'added p50 ms', 'added p99 ms', 'gateway / direct req/s'],
    overhead.map((o) => [String(o.connections), signedMs(o.p50), signedMs(o.p99), pct(o.ratio)]),
  );

  const perLevel = (format: (o: (typeof overhead)[number]) => string) =>
    overhead.map((o) => `${format(o)} (c=${o.connections})`).join(', ');
  const targets: Target[] = [
    {
      name: 'added latency, p50 (every concurrency)',
      target: `≤ ${MAX_ADDED_P50_MS} ms`,
      measured: perLevel((o) => `${signedMs(o.p50)} ms`),
      met: overhead.every((o) => o.p50 <= MAX_ADDED_P50_MS),
    },
    {
      name: 'added latency, p99 (every concurrency)',
      target: `≤ ${MAX_ADDED_P99_MS} ms`,
      measured: perLevel((o) => `${signedMs(o.p99)} ms`),
      met: overhead.every((o) => o.p99 <= MAX_ADDED_P99_MS),
    },
    {
      name: 'throughput vs direct (every concurrency)',
      target: `≥ ${pct(MIN_THROUGHPUT_RATIO)}`,
      measured: perLevel((o) => pct(o.ratio)),
      met: overhead.every((o) => o.ratio >= MIN_THROUGHPUT_RATIO),
    },
  ];
  const failures = rows.flatMap(({ connections, direct, gateway, gatewayTmpfs }) =>
    (
      [
        ['direct', direct],
        ['gateway', gateway],
        ...(gatewayTmpfs ? [['gateway, DB on tmpfs', gatewayTmpfs] as const] : []),
      ] as const
    )
      .filter(([, m]) => m.result.non2xx + m.badBodies + m.result.errors + m.result.timeouts > 0)
      .map(
        ([path, m]) =>
          `${path} at ${connections} connections: ${m.result.non2xx} non-2xx, ${m.badBodies} answers with errors${m.badSample ? ` (first: \`${m.badSample.replace(/`/g, "'")}\`)` : ''}, ${m.result.errors + m.result.timeouts} connection errors or timeouts`,
      ),
  );

  const markdown = `How much the gateway adds to creating a task: the GraphQL mutation \`generateVideo\` through the gateway, against the same create sent straight to the upstream (\`POST ${CREATE_TASK_PATH}\` with the body the gateway itself sends). autocannon (${LOAD_SECONDS} s per row, after a ${WARMUP_SECONDS} s warm-up at the same concurrency) in this process; the gateway and the emulator (\`timeScale: ${TIME_SCALE}\`) each in a child process, all on loopback on the same ${os.cpus().length} cores. Each row has a fresh emulator, and each gateway row a fresh gateway with a new SQLite database (\`MUTATIONS_PER_MINUTE=100000\`, \`MAX_IN_FLIGHT_TASKS=10000\`, \`LOG_LEVEL=error\`, the default poll policy).

Every request has the same input (autocannon's body is static): ${INPUT.width}×${INPUT.height}, ${INPUT.steps} steps, seed ${INPUT.seed}. The gateway still validates it, stores a task, creates it upstream and records the upstream id each time; its tracker then reads each task until it ends (the "upstream reads" column: work the gateway does beside the mutations, on the same cores). Latencies are autocannon's per-response timings (nearest-rank percentiles), over good answers only: a gateway answer counts when it is HTTP 2xx with a task and no GraphQL \`errors\`.

${loadTable}
${rows.some((row) => row.gatewayTmpfs) ? `\nThe "gateway, DB on tmpfs" rows are a diagnostic, not part of the targets: the same gateway with its database in \`${TMPFS}\` (memory), so that SQLite's commits (WAL, \`synchronous = NORMAL\`, on the event loop) cost no disk time. The difference from the "gateway" row is what the disk costs.\n` : ''}
Overhead (targets measured on the "gateway" rows): the gateway's figure minus the direct one at the same concurrency (latency), and the gateway's requests per second as a share of the direct ones.

${overheadTable}
${targets.some((target) => !target.met) ? `\n${mutationAnalysis()}\n` : ''}${failures.length > 0 ? `\n**Not every answer was good:** ${failures.join('; ')}.\n` : ''}
Load average (1 min) at the start: ${loadAtStart.toFixed(2)}. Run time: ${((performance.now() - started) / 1000).toFixed(0)} s.
`;
  return { title: 'Mutation overhead', markdown, targets };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printSection(await run());
}

/** Why the targets miss, from the profile taken while building this benchmark (see RESULTS.md). */
export function mutationAnalysis(): string {
  return "**Why the mutation targets miss.** The direct path is the emulator answering a create from memory in 0.06 ms; the gateway's mutation does real work on the same two cores: GraphQL parsing, validation and execution (yoga, envelop, graphql-armor's rules), core's zod validation, two SQLite writes (the CREATING row, then the upstream id; an idempotency key and the ownership are recorded before anything is paid for), an HTTP round trip to the upstream through undici, and, beside the mutations, its tracker reading every task it created until the end (the \"upstream reads\" column: about two reads a task here). A CPU profile of the gateway at 16 connections (taken while building this benchmark, with `synchronous = FULL`) put about 30% of its time in SQLite, 20% in the upstream fetch, 7% in yoga and envelop and the rest in HTTP and garbage collection, with the gateway process near one full core at about 400 mutations/s; moving SQLite to `synchronous = NORMAL` and preparing each statement once took the single-connection p50 from +2.2 ms to +1.2 ms and throughput from about 360 to 560 mutations/s. At 16 and 64 connections the latency is queueing: one process handles about 650 mutations/s, so 64 concurrent requests wait for each other. A target of 70% of an in-memory create is out of reach for any gateway that persists the task and calls the upstream; a per-mutation budget (the +1.2 ms p50 at one connection) or an absolute rate would be a target this product can be held to. Next steps, in order of yield: batch the tracker's SQLite writes, cache the parsed and validated mutation document, and move the tracker's reads to a worker.";
}
