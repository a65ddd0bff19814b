/**
 * A real stack over loopback for tests: the emulator (time scale 20) and a gateway pointed at
 * it, each on a free port, with the gateway's JSON log lines captured. Nothing is mocked.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  type Emulator,
  type EmulatorOptions,
  type RequestLogEntry,
  startEmulator,
} from '@wan-video/emulator';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  createGateway,
  type Gateway,
  type GatewayConfig,
  type GatewayOptions,
  readConfig,
} from '../../src/index.js';

export const NOVITA_KEY = 'novita-secret-key-for-tests-0123456789';

/** Poll fast: the emulator's tasks take about a second. */
export const FAST_POLL = { minIntervalMs: 50, maxIntervalMs: 250, idleIntervalMs: 50 } as const;

export interface StackOptions {
  /** Extra environment for the gateway (GATEWAY_API_KEYS, PUBLIC_URL, ...). */
  env?: Record<string, string>;
  gateway?: GatewayOptions;
  emulator?: EmulatorOptions;
  /** Reuse a database file (for restarts). */
  databasePath?: string;
  /** Values the environment may not hold in a quick test (TASK_DEADLINE_SECONDS is 10 at least). */
  config?: Partial<GatewayConfig>;
}

export interface Stack {
  readonly gateway: Gateway;
  readonly emulator: Emulator;
  readonly dir: string;
  readonly databasePath: string;
  /** Every JSON log line the gateway wrote. */
  readonly logs: string[];
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: { data?: T; errors?: any[] } }>;
  /** A graphql-ws client (closed by `stop`). */
  ws(connectionParams?: Record<string, unknown>): Client;
  /** The emulator's request log. */
  upstream(): Promise<RequestLogEntry[]>;
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'wan-gateway-test-'));
  const emulator = await startEmulator({
    timeScale: 20,
    storageDir: join(dir, 'videos'),
    ...options.emulator,
  });
  const databasePath = options.databasePath ?? join(dir, 'db.sqlite');
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const config = {
    ...readConfig({
      PORT: '0',
      NOVITA_API_KEY: NOVITA_KEY,
      NOVITA_BASE_URL: emulator.url,
      DATABASE_PATH: databasePath,
      LOG_LEVEL: 'debug',
      ...options.env,
    }),
    ...options.config,
  };
  const gateway = createGateway(config, {
    logDestination: destination,
    pollPolicy: FAST_POLL,
    ...options.gateway,
  });
  await gateway.start();
  const clients: Client[] = [];
  return {
    gateway,
    emulator,
    dir,
    databasePath,
    logs,
    async gql(query, variables, headers = {}) {
      const response = await fetch(gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: await response.json() };
    },
    ws(connectionParams) {
      const client = createClient({
        url: gateway.wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        ...(connectionParams ? { connectionParams } : {}),
      });
      clients.push(client);
      return client;
    },
    async upstream() {
      return emulator.requests() as RequestLogEntry[];
    },
    async stop() {
      for (const client of clients) await client.dispose();
      await gateway.stop();
      await emulator.close();
      // A render the emulator was still writing can land in the folder while it is removed.
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
}

export const GENERATE = /* GraphQL */ `
  mutation Generate($input: GenerateVideoInput!, $key: String) {
    generateVideo(input: $input, idempotencyKey: $key) {
      id status progressPercent etaSeconds failureReason
      input { prompt width height seed steps guidanceScale flowShift modelName negativePrompt loras { path scale } }
      videos { url type expiresAt }
      createdAt updatedAt completedAt
    }
  }
`;

export const WATCH = /* GraphQL */ `
  subscription Watch($id: ID!) {
    videoTask(id: $id) { id status progressPercent etaSeconds progressEstimated failureReason videos { url type expiresAt } input { seed } }
  }
`;

export const QUERY_TASK = /* GraphQL */ `
  query Task($id: ID!) { videoTask(id: $id) { id status progressPercent failureReason videos { url } input { seed } } }
`;

export const smallInput = (patch: Record<string, unknown> = {}) => ({
  prompt: 'a lighthouse at dusk, waves',
  width: 832,
  height: 480,
  steps: 10,
  seed: 7,
  ...patch,
});

/**
 * The pushed changes among a subscriber's events: all but the first (a read, not a push) and
 * the gateway's progress estimates between upstream reads (no change: not timed as a push).
 */
export const pushedChanges = (events: readonly any[]): number =>
  events.slice(1).filter((event) => !event?.progressEstimated).length;

export interface Collected {
  readonly events: any[];
  readonly errors: unknown[];
  /** Resolves when the subscription completes (or errors). */
  readonly done: Promise<void>;
  unsubscribe(): void;
}

/** Subscribes over graphql-ws and collects every `videoTask` event until completion. */
export function watch(client: Client, id: string): Collected {
  const events: any[] = [];
  const errors: unknown[] = [];
  let unsubscribe = () => {};
  const done = new Promise<void>((resolve) => {
    unsubscribe = client.subscribe(
      { query: WATCH, variables: { id } },
      {
        next: (message) => {
          if (message.errors) errors.push(...message.errors);
          if (message.data) events.push((message.data as any).videoTask);
        },
        error: (error) => {
          errors.push(error);
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return { events, errors, done, unsubscribe: () => unsubscribe() };
}

/** GraphQL over SSE with fetch: yields each `data` until the server completes the stream. */
export async function* sse(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  if (!response.body) return;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let index = buffer.indexOf('\n\n');
    while (index >= 0) {
      const block = buffer.slice(0, index);
      buffer = buffer.slice(index + 2);
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (event === 'complete') return;
      if (data) yield JSON.parse(data);
      index = buffer.indexOf('\n\n');
    }
  }
}

/** Upstream calls about one upstream task, or creates. */
export const creates = (log: RequestLogEntry[]) =>
  log.filter((entry) => entry.method === 'POST' && entry.path.endsWith('/wan-t2v'));
export const readsOf = (log: RequestLogEntry[], upstreamTaskId: string) =>
  log.filter((entry) => entry.path.endsWith('/task-result') && entry.taskId === upstreamTaskId);
