/**
 * Benchmarks of `@wan-video/emulator` on this machine:
 *
 * 1. Render time: each of the four frame sizes at 30 steps, 5 renders each, every one with a
 *    new seed (the renderer reuses a file for the same parameters), one render at a time.
 * 2. `GET /v3/async/task-result` under load: autocannon at 1, 16 and 64 connections against an
 *    emulator in a child process, reading one finished task.
 *
 * Prints markdown tables and writes them to `bench/RESULTS-emulator.md`. Run it with
 * `pnpm bench` from the repo root: turbo builds the packages first, and they are imported
 * through their package names (their `dist/`), as a user would.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import {
  CREATE_TASK_PATH,
  LIMITS,
  MODEL_NAME,
  parseCreateTaskRequest,
  STATUS_TO_UPSTREAM,
  TASK_RESULT_PATH,
  type TaskResultResponse,
  VIDEO_SIZES,
} from '@wan-video/core';
import { FPS, FRAME_COUNT, Renderer, type RenderParams } from '@wan-video/emulator';
import autocannon from 'autocannon';
import { startEmulatorProcess } from './common.js';

const RENDERS_PER_SIZE = 5;
const CONNECTIONS = [1, 16, 64] as const;
const LOAD_SECONDS = 5;
const WARMUP_SECONDS = 1;
const API_KEY = 'bench';
const PROMPT = 'a lighthouse at dusk, waves breaking on the rocks';
const STEPS = LIMITS.steps.default;

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const resultsFile = join(benchDir, 'RESULTS-emulator.md');

// The packages must come from their builds (what users run), never from their sources, which
// the `@wan-video/source` condition would pick.
for (const name of ['@wan-video/emulator', '@wan-video/core']) {
  const resolved = fileURLToPath(import.meta.resolve(name));
  if (!resolved.includes('/dist/')) {
    throw new Error(`${name} resolved to ${resolved}, not to its dist/: run it with pnpm bench`);
  }
}

// --- helpers ---------------------------------------------------------------------------------

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  const lower = sorted[middle - 1] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : (lower + upper) / 2;
}

/** The nearest-rank percentile `p` (0 to 100) of `sorted`, which is sorted ascending. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

const seconds = (ms: number): string => (ms / 1000).toFixed(2);
const kib = (bytes: number): string => (bytes / 1024).toFixed(0);
const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

/** A markdown table with padded columns; numeric columns (all but the first) right-aligned. */
function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) =>
    Math.max(3, header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join(' | ')} |`;
  const rule = `| ${widths.map((width, i) => (i === 0 ? '-'.repeat(width) : `${'-'.repeat(width - 1)}:`)).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

function gitCommit(): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: benchDir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  try {
    const commit = git('rev-parse', '--short', 'HEAD');
    const dirty = git('status', '--porcelain', '--', '../packages') !== '';
    return dirty ? `${commit} (with uncommitted changes under packages/)` : commit;
  } catch {
    return 'unknown';
  }
}

// --- 1. render time --------------------------------------------------------------------------

interface RenderRow {
  readonly size: string;
  readonly times: readonly number[];
  readonly bytes: readonly number[];
}

async function benchRenders(storageDir: string): Promise<RenderRow[]> {
  const renderer = new Renderer({ storageDir, maxConcurrentRenders: 1 });
  const params = (width: number, height: number, seed: number): RenderParams => ({
    width,
    height,
    seed,
    prompt: PROMPT,
    steps: STEPS,
    guidanceScale: LIMITS.guidanceScale.default,
    flowShift: LIMITS.flowShift.default,
  });
  try {
    // One untimed render first: ffmpeg's binary and the page cache are cold on a first run.
    await renderer.render(params(832, 480, 1));
    const rows: RenderRow[] = [];
    let seed = 1000;
    for (const { width, height } of VIDEO_SIZES) {
      const times: number[] = [];
      const bytes: number[] = [];
      for (let i = 0; i < RENDERS_PER_SIZE; i++) {
        seed += 1;
        const started = performance.now();
        const file = await renderer.render(params(width, height, seed));
        times.push(performance.now() - started);
        bytes.push((await stat(file)).size);
      }
      rows.push({ size: `${width}×${height}`, times, bytes });
      console.error(`rendered ${width}×${height}: ${times.map(seconds).join(' s, ')} s`);
    }
    return rows;
  } finally {
    renderer.close();
  }
}

// --- 2. task-result under load ---------------------------------------------------------------

interface LoadRow {
  readonly connections: number;
  readonly result: autocannon.Result;
  /** The latency of every 2xx response, in ms, ascending. */
  readonly latencies: readonly number[];
}

/**
 * One autocannon run. Latencies are taken from each response's own timing (hrtime, in ms):
 * autocannon's histogram keeps whole milliseconds, and on loopback most answers take less.
 */
function load(options: autocannon.Options): Promise<Omit<LoadRow, 'connections'>> {
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (error, result) => {
      if (error) reject(error);
      else resolve({ result, latencies: latencies.sort((a, b) => a - b) });
    });
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

const headers = { authorization: `Bearer ${API_KEY}` };

/** Creates a small task and waits until its task-result says TASK_STATUS_SUCCEED. */
async function createFinishedTask(baseUrl: string): Promise<string> {
  const body = parseCreateTaskRequest({
    model_name: MODEL_NAME,
    width: 832,
    height: 480,
    seed: 7,
    prompt: PROMPT,
    steps: 4,
  });
  const created = await fetch(`${baseUrl}${CREATE_TASK_PATH}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!created.ok) throw new Error(`create answered ${created.status}: ${await created.text()}`);
  const { task_id: taskId } = (await created.json()) as { task_id: string };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const read = await fetch(`${baseUrl}${TASK_RESULT_PATH}?task_id=${taskId}`, { headers });
    if (!read.ok) throw new Error(`task-result answered ${read.status}: ${await read.text()}`);
    const { task } = (await read.json()) as TaskResultResponse;
    if (task.status === STATUS_TO_UPSTREAM.SUCCEEDED) return taskId;
    if (task.status === STATUS_TO_UPSTREAM.FAILED) throw new Error(`task failed: ${task.reason}`);
    if (Date.now() > deadline) throw new Error(`task still ${task.status} after 30 s`);
    await sleep(100);
  }
}

async function benchTaskResult(storageDir: string): Promise<LoadRow[]> {
  const emulator = await startEmulatorProcess({ timeScale: 1000, storageDir });
  try {
    const taskId = await createFinishedTask(emulator.url);
    const url = `${emulator.url}${TASK_RESULT_PATH}?task_id=${taskId}`;
    const clearLog = () => fetch(`${emulator.url}/__emulator/requests`, { method: 'DELETE' });
    // Untimed: lets the server's JIT warm up before the first measured run.
    await load({ url, headers, connections: 16, duration: WARMUP_SECONDS });
    const rows: LoadRow[] = [];
    for (const connections of CONNECTIONS) {
      // The emulator keeps a log of every request; empty it so each run starts alike.
      await clearLog();
      const { result, latencies } = await load({
        url,
        headers,
        connections,
        duration: LOAD_SECONDS,
      });
      rows.push({ connections, result, latencies });
      console.error(
        `task-result, ${connections} connections: ${thousands(result.requests.mean)} req/s`,
      );
    }
    return rows;
  } finally {
    await emulator.close();
  }
}

// --- main ------------------------------------------------------------------------------------

const started = performance.now();
// Other work on the machine skews every number below: the report says how busy it was.
const loadAtStart = os.loadavg()[0] ?? Number.NaN;
const tmp = await mkdtemp(join(os.tmpdir(), 'wan-video-bench-'));
let renders: RenderRow[];
let loads: LoadRow[];
try {
  await mkdir(join(tmp, 'renders'));
  renders = await benchRenders(join(tmp, 'renders'));
  loads = await benchTaskResult(join(tmp, 'emulator'));
} finally {
  await rm(tmp, { recursive: true, force: true });
}

const renderTable = table(
  ['size', 'median s', 'min s', 'max s', 'MP4 KiB (median)'],
  renders.map(({ size, times, bytes }) => [
    size,
    seconds(median(times)),
    seconds(Math.min(...times)),
    seconds(Math.max(...times)),
    kib(median(bytes)),
  ]),
);

const loadTable = table(
  ['connections', 'req/s (mean)', 'p50 ms', 'p99 ms', 'requests', 'non-2xx', 'errors'],
  loads.map(({ connections, result, latencies }) => [
    String(connections),
    thousands(result.requests.mean),
    percentile(latencies, 50).toFixed(2),
    percentile(latencies, 99).toFixed(2),
    thousands(result.requests.total),
    String(result.non2xx),
    String(result.errors),
  ]),
);

const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
const memory = `${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB`;
const report = `# Emulator benchmarks

- Machine: ${cpu}, ${os.cpus().length} cores, ${memory} of memory
- Date: ${new Date().toISOString()}
- Node: ${process.version}
- Commit: ${gitCommit()}
- Load average (1 min) at start: ${loadAtStart.toFixed(2)}
- Total run time: ${seconds(performance.now() - started)} s

## Render time

Wall time of \`Renderer.render\` (one ffmpeg child, H.264, ${FRAME_COUNT} frames at ${FPS} fps) for each frame size at ${STEPS} steps: ${RENDERS_PER_SIZE} renders per size, each with a new seed, one at a time, after one untimed warm-up render.

${renderTable}

## \`GET ${TASK_RESULT_PATH}\` under load

Requests per second and latency of reading one finished task, from autocannon (${LOAD_SECONDS} s per row, after a ${WARMUP_SECONDS} s warm-up) against an emulator (\`timeScale: 1000\`) in a child process on loopback.

${loadTable}
`;

await writeFile(resultsFile, report);
console.log(report);
console.error(`wrote ${resultsFile}`);
