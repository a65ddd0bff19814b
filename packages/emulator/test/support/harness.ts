import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NovitaClient, pollTask, type TaskSnapshot } from '@wan-video/core';
import { type Emulator, type EmulatorOptions, startEmulator } from '../../src/index.js';

export const KEY = 'contract-test-key';
export const AUTH = { authorization: `Bearer ${KEY}` } as const;

/** A small valid create body: 832×480, few steps, so the task is quick. */
export const wire = (patch: Record<string, unknown> = {}) => ({
  model_name: 'wan2.1-t2v',
  width: 832,
  height: 480,
  seed: 1,
  prompt: 'a lighthouse at dusk, waves',
  steps: 4,
  ...patch,
});

/** Emulators started by a test file, each with its own storage, closed by `stopAll`. */
export function emulators() {
  const started: { emulator: Emulator; dir: string }[] = [];
  return {
    async start(options: EmulatorOptions = {}): Promise<Emulator> {
      const dir = await mkdtemp(join(tmpdir(), 'wan-emulator-test-'));
      const emulator = await startEmulator({ timeScale: 20, storageDir: dir, ...options });
      started.push({ emulator, dir });
      return emulator;
    },
    async stopAll() {
      for (const { emulator, dir } of started.splice(0)) {
        await emulator.close();
        await rm(dir, { recursive: true, force: true });
      }
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
 * (the emulator's time is scaled). Returns every snapshot and the final one.
 */
export async function follow(base: string, taskId: string, timeoutMs = 60_000) {
  const client = new NovitaClient({ apiKey: KEY, baseUrl: base });
  const seen: TaskSnapshot[] = [];
  const iterator = pollTask(client, taskId, {
    minIntervalMs: 10,
    maxIntervalMs: 50,
    idleIntervalMs: 10,
    etaFraction: 0.05,
    deadline: Date.now() + timeoutMs,
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
