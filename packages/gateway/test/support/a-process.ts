/**
 * The gateway as a real child process (`src/bin.ts` under tsx), for crash and restart tests:
 * SIGKILL is only a SIGKILL when there is a process to kill. Its stdout (JSON log lines) is kept.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Client, createClient } from 'graphql-ws';
import { vi } from 'vitest';
import WebSocket from 'ws';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** A port that was free a moment ago (the OS picks it; it is closed again at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface GatewayProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly graphqlUrl: string;
  readonly wsUrl: string;
  /** Every line the process wrote to stdout. */
  readonly stdout: string[];
  readonly stderr: string[];
  /** The stdout lines that are JSON log records, parsed. */
  logs(): Record<string, any>[];
  /** Resolves when the process has exited and its output is all read. */
  readonly exited: Promise<Exit>;
  /** Sends a signal and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<Exit>;
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: { data?: T; errors?: any[] } }>;
  /** A graphql-ws client that does not reconnect (disposed by `kill` and `stopAll`). */
  ws(): Client;
}

const live = new Set<GatewayProcess>();

/**
 * How a child gateway runs: the bundle the global setup made (one file, quick to load on a busy
 * machine), or `src/bin.ts` through tsx when a test file runs without it.
 */
const gatewayArgs = process.env.WAN_GATEWAY_TEST_BIN
  ? ['--enable-source-maps', process.env.WAN_GATEWAY_TEST_BIN]
  : ['--conditions=@wan-video/source', '--import', 'tsx', 'src/bin.ts'];

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  return { ...inherited, ...env };
}

/** Runs the gateway binary expecting it to exit by itself (a bad configuration, say). */
export async function runGatewayToExit(
  env: Record<string, string>,
): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawn(process.execPath, gatewayArgs, {
    cwd: PACKAGE_DIR,
    env: childEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exit = await new Promise<Exit>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { ...exit, stdout, stderr };
}

/**
 * Starts `node --conditions=@wan-video/source --import tsx src/bin.ts` with `env` on `port`,
 * and waits for `GET /healthz` to answer 200 (or for the process to die, which rejects).
 * `options.healthyWithinMs` bounds that wait (20 s by default).
 */
export async function startGatewayProcess(
  port: number,
  env: Record<string, string>,
  options: { readonly healthyWithinMs?: number } = {},
): Promise<GatewayProcess> {
  const child = spawn(process.execPath, gatewayArgs, {
    cwd: PACKAGE_DIR,
    env: childEnv({ ...env, PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null, into: string[]) => {
    let buffer = '';
    const keep = (lines: string[]) => into.push(...lines.filter((line) => line.trim() !== ''));
    stream?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      keep(lines);
    });
    stream?.on('end', () => keep([buffer]));
  };
  collect(child.stdout, stdout);
  collect(child.stderr, stderr);
  let exitedWith: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      exitedWith = { code, signal };
      resolve(exitedWith);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const clients: Client[] = [];
  const disposeClients = async () => {
    for (const client of clients.splice(0)) await client.dispose();
  };
  const processHandle: GatewayProcess = {
    child,
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    stdout,
    stderr,
    logs() {
      return stdout.flatMap((line) => {
        try {
          const record = JSON.parse(line);
          return typeof record === 'object' && record !== null ? [record] : [];
        } catch {
          return [];
        }
      });
    },
    exited,
    async kill(signal) {
      if (!exitedWith) child.kill(signal);
      const exit = await exited;
      await disposeClients();
      live.delete(processHandle);
      return exit;
    },
    async gql(query, variables, headers = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: await response.json() };
    },
    ws() {
      const client = createClient({
        url: `ws://127.0.0.1:${port}/graphql`,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
      });
      clients.push(client);
      return client;
    },
  };
  live.add(processHandle);

  const healthy = vi.waitFor(
    async () => {
      const response = await fetch(`${url}/healthz`);
      if (response.status !== 200) throw new Error(`healthz answered ${response.status}`);
    },
    { timeout: options.healthyWithinMs ?? 20_000, interval: 50 },
  );
  const died = exited.then((exit) => {
    throw new Error(
      `the gateway exited (${JSON.stringify(exit)}) before it was healthy:\n${[...stderr, ...stdout].join('\n')}`,
    );
  });
  try {
    await Promise.race([healthy, died]);
  } catch (error) {
    await processHandle.kill('SIGKILL');
    throw error;
  } finally {
    died.catch(() => {});
    healthy.catch(() => {});
  }
  return processHandle;
}

/** SIGKILLs every gateway process still running (for `afterAll`). */
export async function stopAllGatewayProcesses(): Promise<void> {
  await Promise.all([...live].map((gateway) => gateway.kill('SIGKILL')));
}
