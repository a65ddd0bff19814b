/**
 * Helpers shared by `mutation.ts` and `economy.ts`: the report types, markdown tables,
 * percentiles, autocannon with per-request timings, and the child processes (an emulator, a
 * gateway, the mutation benchmark's stack floor) that keep each server off the load generator's
 * event loop.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { EmulatorOptions, RequestLogEntry, WebhookLogEntry } from '@wan-video/emulator';
import autocannon from 'autocannon';
import type { FloorOptions } from './lib-a-floor-process.js';

/** One line of the summary of targets (the shape `all.ts` collects). */
export interface Target {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  readonly met: boolean;
}

/** What each benchmark's `run()` returns (the shape `all.ts` collects). */
export interface Section {
  readonly title: string;
  readonly markdown: string;
  readonly targets: readonly Target[];
}

// --- numbers and tables ----------------------------------------------------------------------

/** The nearest-rank percentile `p` (0 to 100) of `sorted`, which is sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? Number.NaN;
  const lower = sorted[middle - 1] ?? Number.NaN;
  return sorted.length % 2 === 1 ? upper : (lower + upper) / 2;
}

export const ascending = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);

export const thousands = (value: number): string => Math.round(value).toLocaleString('en-US');

/** A markdown table with padded columns; the first `left` columns left-aligned, the rest right. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  left = 1,
): string {
  const widths = headers.map((header, i) =>
    Math.max(3, header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells
      .map((cell, i) => (i < left ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join(' | ')} |`;
  const rule = `| ${widths.map((width, i) => (i < left ? '-'.repeat(width) : `${'-'.repeat(width - 1)}:`)).join(' | ')} |`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** Prints a section, then its targets, as a benchmark run on its own does. */
export function printSection(section: Section): void {
  console.log(`## ${section.title}\n\n${section.markdown}`);
  console.log(
    table(
      ['target', 'goal', 'measured', 'met'],
      section.targets.map((t) => [t.name, t.target, t.measured, t.met ? 'met' : '**missed**']),
      4,
    ),
  );
}

// --- autocannon ------------------------------------------------------------------------------

export interface LoadResult {
  readonly result: autocannon.Result;
  /** The latency of every good response, in ms, ascending (autocannon's hrtime per response). */
  readonly latencies: readonly number[];
  /** Responses that were 2xx but whose body `isGood` refused. */
  readonly badBodies: number;
  /** The first refused body, for the report. */
  readonly badSample: string | undefined;
}

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  readonly body?: string;
  /** Whether a 2xx body is a real success (a GraphQL 200 may carry `errors`). */
  readonly isGood: (body: string) => boolean;
}

/**
 * One autocannon run. Latencies come from each response's own timing (hrtime, in ms): the
 * histogram of autocannon keeps whole milliseconds, and on loopback most answers take less.
 * A response counts as good when it is 2xx and `isGood` accepts its body.
 */
export function load(options: LoadOptions): Promise<LoadResult> {
  // For each response autocannon calls the request's `onResponse` (with the body) and then
  // emits `response` (with the timing), one right after the other: the verdict on the body is
  // kept aside for the timing that follows.
  let lastBodyGood = false;
  let lastBody = '';
  let badBodies = 0;
  let badSample: string | undefined;
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        requests: [
          {
            method: options.method,
            headers: options.headers,
            ...(options.body === undefined ? {} : { body: options.body }),
            onResponse: (_status: number, body: string) => {
              lastBodyGood = options.isGood(body);
              lastBody = body;
            },
          },
        ],
      },
      (error, result) => {
        if (error) reject(error);
        else resolve({ result, latencies: ascending(latencies), badBodies, badSample });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return;
      if (lastBodyGood) latencies.push(responseTime);
      else {
        badBodies++;
        badSample ??= lastBody.slice(0, 300);
      }
    });
  });
}

// --- child processes -------------------------------------------------------------------------

export interface ChildServer {
  readonly url: string;
  close(): Promise<void>;
}

/** What a server child (gateway or floor) measured over a window: see `MeasuredServer`. */
export interface ServerStats {
  /** Event-loop delay (`monitorEventLoopDelay`, 10 ms resolution, less the 10 ms), in ms. */
  readonly loopDelayP50Ms: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** The process's CPU time (user + system), in ms. */
  readonly cpuMs: number;
  /** The window, in µs of the child's `process.hrtime` (the clock of its `--cpu-prof` samples). */
  readonly startedUs: number;
  readonly endedUs: number;
}

/** A server child that measures its own event loop and CPU time over a window. */
export interface MeasuredServer extends ChildServer {
  /** Starts a window: the child resets its event-loop histogram and CPU baseline. */
  resetStats(): Promise<void>;
  /** The window so far. */
  stats(): Promise<ServerStats>;
}

export interface ForkOptions {
  /** Node options for the child; by default this process's (`--import tsx`, conditions). */
  readonly execArgv?: readonly string[];
}

/**
 * Forks `file` (with this process's `--import tsx` and conditions), passes `arg` as argv[2],
 * and waits for the `{ url }` it sends over IPC. `'close'` over IPC stops it.
 */
async function forkServer(
  file: string,
  arg: string,
  onStdout?: (chunk: string) => void,
  options: ForkOptions = {},
): Promise<MeasuredServer> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [arg], {
    stdio: ['ignore', onStdout ? 'pipe' : 'inherit', 'inherit', 'ipc'],
    ...(options.execArgv ? { execArgv: [...options.execArgv] } : {}),
  });
  if (onStdout && child.stdout) {
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', onStdout);
  }
  const exited = once(child, 'exit');
  const [message] = (await Promise.race([
    once(child, 'message'),
    exited.then(([code]) => {
      throw new Error(`${file} exited (${String(code)}) before it listened`);
    }),
  ])) as [{ url: string }];
  /** Sends `question` and waits for the first message that has `key`. */
  const ask = <T>(question: string, key: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (answer: unknown) => {
        if (typeof answer !== 'object' || answer === null || !(key in answer)) return;
        child.off('exit', onExit);
        child.off('message', onMessage);
        resolve((answer as Record<string, T>)[key] as T);
      };
      const onExit = () => {
        child.off('message', onMessage);
        reject(new Error(`${file} exited before it answered ${question}`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send(question);
    });
  return {
    url: message.url,
    async resetStats() {
      await ask<true>('stats:reset', 'statsReset');
    },
    stats: () => ask<ServerStats>('stats:read', 'stats'),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send('close');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface EmulatorProcess extends ChildServer {
  /** The emulator's request and webhook logs (its admin route). */
  log(): Promise<{ requests: RequestLogEntry[]; webhooks: WebhookLogEntry[] }>;
  /** Empties both logs. */
  clearLog(): Promise<void>;
}

/** An emulator in a child process (`emulator-process.ts`, the one the emulator bench uses). */
export async function startEmulatorProcess(
  options: EmulatorOptions,
  onStdout?: (chunk: string) => void,
): Promise<EmulatorProcess> {
  const server = await forkServer('./emulator-process.ts', JSON.stringify(options), onStdout);
  const admin = `${server.url}/__emulator/requests`;
  return {
    url: server.url,
    close: server.close,
    async log() {
      const response = await fetch(admin);
      if (!response.ok) throw new Error(`the emulator's log answered ${response.status}`);
      return (await response.json()) as {
        requests: RequestLogEntry[];
        webhooks: WebhookLogEntry[];
      };
    },
    async clearLog() {
      const response = await fetch(admin, { method: 'DELETE' });
      await response.body?.cancel();
    },
  };
}

export interface GatewayProcess extends MeasuredServer {
  /** Every line the gateway wrote to stdout (its JSON log), so far. */
  readonly logLines: string[];
}

/**
 * A gateway in a child process (`lib-a-gateway-process.ts`), configured by `env` alone (the
 * variables `readConfig` reads), with no custom poll policy: the product as shipped.
 */
export async function startGatewayProcess(
  env: Record<string, string>,
  options: ForkOptions = {},
): Promise<GatewayProcess> {
  const logLines: string[] = [];
  let partial = '';
  const server = await forkServer(
    './lib-a-gateway-process.ts',
    JSON.stringify(env),
    (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      logLines.push(...lines.filter(Boolean));
    },
    options,
  );
  return { ...server, logLines };
}

/**
 * The mutation benchmark's stack floor in a child process (`lib-a-floor-process.ts`): a bare
 * graphql-yoga server whose `generateVideo` only creates upstream and inserts one SQLite row.
 */
export function startFloorProcess(
  options: FloorOptions,
  fork: ForkOptions = {},
): Promise<MeasuredServer> {
  return forkServer('./lib-a-floor-process.ts', JSON.stringify(options), undefined, fork);
}

/** A free TCP port on loopback (for a server that must know its own URL before it starts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
