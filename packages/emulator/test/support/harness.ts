import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NovitaClient, pollTask, type TaskSnapshot } from '@wan-video/core';
import { inject, onTestFinished } from 'vitest';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../src/index.js';
import { AUTH, KEY, wire } from './wire.js';

export { AUTH, KEY, wire } from './wire.js';

/**
 * Emulators started by a test file, closed by `stopAll`. They keep their videos in the run's
 * shared video directory (test/support/video-dir.ts), so a video the suites already rendered is
 * reused, unless they are given a `storageDir` of their own (see `freshDir`).
 */
export function emulators() {
  const started: Emulator[] = [];
  const dirs: string[] = [];
  return {
    async start(options: EmulatorOptions = {}): Promise<Emulator> {
      const emulator = await startEmulator({
        timeScale: 20,
        storageDir: inject('videoDir'),
        ...options,
      });
      started.push(emulator);
      return emulator;
    },
    /** An empty directory, removed by `stopAll`: for an emulator that must render by itself. */
    async freshDir(): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), 'wan-emulator-test-'));
      dirs.push(dir);
      return dir;
    },
    async stopAll() {
      for (const emulator of started.splice(0)) await emulator.close();
      for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function post(base: string, body: unknown, headers: Record<string, string> = AUTH) {
  const response = await fetch(`${base}/v3/async/wan-t2v`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    headers: response.headers,
    json: (await response.json()) as Record<string, any>,
  };
}

export async function result(base: string, taskId: string, headers: Record<string, string> = AUTH) {
  const response = await fetch(
    `${base}/v3/async/task-result?task_id=${encodeURIComponent(taskId)}`,
    { headers },
  );
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

export async function create(base: string, patch: Record<string, unknown> = {}): Promise<string> {
  const created = await post(base, wire(patch));
  if (created.status !== 200)
    throw new Error(`create answered ${created.status}: ${JSON.stringify(created.json)}`);
  return created.json.task_id as string;
}

/**
 * Follows a task over HTTP with our own client and poller, as the gateway will, reading often
 * (the emulator's time is scaled). Returns every snapshot and the final one. The deadline is
 * under the test timeout, so a task that never ends fails with its last snapshot; and the
 * reads stop when the test ends, so a test that failed leaves none behind for the next one.
 */
export async function follow(base: string, taskId: string, timeoutMs = 25_000) {
  const stop = new AbortController();
  onTestFinished(() => stop.abort());
  const client = new NovitaClient({ apiKey: KEY, baseUrl: base });
  const seen: TaskSnapshot[] = [];
  const iterator = pollTask(client, taskId, {
    minIntervalMs: 10,
    maxIntervalMs: 50,
    idleIntervalMs: 10,
    etaFraction: 0.05,
    deadline: Date.now() + timeoutMs,
    signal: stop.signal,
  });
  for (;;) {
    const step = await iterator.next();
    if (step.done) return { seen, final: step.value };
    seen.push(step.value);
  }
}

/** Resolves with the Nth request a test server receives. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export interface Received {
  readonly body: string;
  readonly headers: IncomingMessage['headers'];
}

/**
 * A webhook receiver on 127.0.0.1: answers with `statuses` in turn (then 200), and lets a test
 * wait for its Nth request.
 */
export async function webhookReceiver(statuses: number[] = []) {
  const received: Received[] = [];
  const waiters = new Map<number, (value: Received[]) => void>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      const status = statuses[received.length - 1] ?? 200;
      res.writeHead(status).end();
      waiters.get(received.length)?.([...received]);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook?secret=abc`,
    received,
    /** Resolves once `count` requests arrived. */
    waitFor(count: number): Promise<Received[]> {
      if (received.length >= count) return Promise.resolve([...received]);
      return new Promise((resolve) => waiters.set(count, resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
