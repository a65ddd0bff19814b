/**
 * One emulator (in this process) and one gateway (a child process, started as users start it)
 * on a database of its own, with a secret upstream key: the thing every attack is aimed at.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Emulator, type EmulatorOptions, startEmulator } from '@wan-video/emulator';
import {
  type ChildGateway,
  type Exit,
  freePort,
  spawnGateway,
} from '@wan-video/test-utils/gateway-process';
import Database from 'libsql';

export interface StackOptions {
  /** More gateway variables (limits, keys, SHUTDOWN_TIMEOUT_MS…). */
  readonly env?: Record<string, string>;
  /** The emulator's options (time scale, faults…); its API key is the stack's secret one. */
  readonly emulator?: Omit<EmulatorOptions, 'apiKeys'>;
  /** Webhook mode: the gateway gives the upstream a webhook URL on itself (PUBLIC_URL). */
  readonly webhooks?: boolean;
}

/** A task as the gateway's database holds it. */
export interface Row {
  readonly id: string;
  readonly owner: string;
  readonly status: string;
  readonly upstreamTaskId: string | null;
  readonly failureReason: string | null;
}

export interface Stack {
  readonly emulator: Emulator;
  /** The running gateway process (a new one after `restart`). */
  readonly gateway: ChildGateway;
  /** The upstream key the gateway holds: it must never be seen anywhere else. */
  readonly upstreamKey: string;
  /** Every secret this stack knows of: the upstream key and any keys or tokens in `env`. */
  readonly secrets: readonly string[];
  /** Stops the gateway with `signal` and starts a new one on the same port and database. */
  restart(signal: NodeJS.Signals): Promise<Exit>;
  /** Stops the gateway with `signal` (it stays down until `start`). */
  stop(signal: NodeJS.Signals): Promise<Exit>;
  start(): Promise<void>;
  /** Everything every gateway process of this stack wrote, stdout and stderr, line by line. */
  output(): string[];
  /** The tasks in the gateway's database, read beside the running gateway. */
  rows(): Row[];
  close(): Promise<void>;
}

const SECRET_VARIABLES = ['GATEWAY_API_KEYS', 'METRICS_TOKEN'];

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'wan-video-reliability-'));
  const upstreamKey = `sk-reliability-${randomBytes(12).toString('hex')}`;
  const emulator = await startEmulator({
    timeScale: 20,
    ...options.emulator,
    apiKeys: [upstreamKey],
  });
  const port = await freePort();
  const databasePath = join(dir, 'gateway.db');
  const env: Record<string, string> = {
    NOVITA_API_KEY: upstreamKey,
    NOVITA_BASE_URL: emulator.url,
    DATABASE_PATH: databasePath,
    LOG_LEVEL: 'info',
    ...(options.webhooks ? { PUBLIC_URL: `http://127.0.0.1:${port}` } : {}),
    ...options.env,
  };
  const secrets = [
    upstreamKey,
    ...SECRET_VARIABLES.flatMap((name) => (env[name] ?? '').split(',')).filter(
      (secret) => secret.length >= 8,
    ),
  ];
  const earlier: string[] = [];
  let gateway: ChildGateway | undefined = await spawnGateway(port, env, {
    healthyWithinMs: 60_000,
  });
  const current = () => {
    if (!gateway) throw new Error('the gateway is stopped');
    return gateway;
  };
  const stop = async (signal: NodeJS.Signals) => {
    const stopping = current();
    const exit = await stopping.kill(signal);
    earlier.push(...stopping.stdout, ...stopping.stderr);
    gateway = undefined;
    return exit;
  };
  const start = async () => {
    if (gateway) throw new Error('the gateway is running');
    gateway = await spawnGateway(port, env, { healthyWithinMs: 60_000 });
  };
  return {
    emulator,
    get gateway() {
      return current();
    },
    upstreamKey,
    secrets,
    stop,
    start,
    async restart(signal) {
      const exit = await stop(signal);
      await start();
      return exit;
    },
    output: () => [...earlier, ...(gateway ? [...gateway.stdout, ...gateway.stderr] : [])],
    rows: () => rowsAt(databasePath),
    async close() {
      if (gateway) await stop('SIGKILL');
      await emulator.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `work` against a new stack and closes the stack whatever happens. */
export async function withStack<T>(
  options: StackOptions,
  work: (stack: Stack) => Promise<T>,
): Promise<T> {
  const stack = await startStack(options);
  try {
    return await work(stack);
  } finally {
    await stack.close();
  }
}

/** The tasks in a gateway's SQLite database, read beside the running gateway. */
export function rowsAt(databasePath: string): Row[] {
  // Read-write but only read: a read-only connection cannot open a WAL database whose
  // shared-memory file a stopped gateway removed.
  const db = new Database(databasePath, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    return (
      db
        .prepare('SELECT id, owner, status, upstream_task_id, failure_reason FROM tasks')
        .all() as Record<string, string | null>[]
    ).map((row) => ({
      id: row.id as string,
      owner: row.owner as string,
      status: row.status as string,
      upstreamTaskId: row.upstream_task_id ?? null,
      failureReason: row.failure_reason ?? null,
    }));
  } finally {
    db.close();
  }
}
