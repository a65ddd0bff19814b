import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Faults } from './faults.js';
import { faultsSchema } from './faults.js';
import { errorBody, jsonAnswer, writeAnswer } from './http.js';
import { type ApiCall, callApi, handleHttp, isApiPath, type RouteOptions } from './routes.js';
import { EmulatorState, logEntry, type RequestLogEntry, type WebhookLogEntry } from './state.js';

export type { RequestLogEntry, WebhookLogEntry } from './state.js';

export interface EmulatorOptions {
  /**
   * The port to listen on; 0 picks a free one.
   * @default 0
   */
  port?: number;
  /**
   * The address to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * The API keys that pass. Empty: any non-empty bearer key passes.
   * @default []
   */
  apiKeys?: readonly string[];
  /**
   * Divides every simulated duration: 10 runs ten times faster.
   * @default 1
   */
  timeScale?: number;
  /**
   * Where rendered videos are kept (they are reused across runs: same inputs, same bytes).
   * @default `${os.tmpdir()}/wan-video-emulator`
   */
  storageDir?: string;
  /**
   * Where tasks and the video-link secret are kept, so that a restart loses no task (tasks go
   * on by the clock while it is down) and breaks no video link. Unset: in memory only.
   */
  stateDir?: string;
  /**
   * How long a served `video_url` works, in seconds (sent as `video_url_ttl`).
   * @default 3600
   */
  videoUrlTtlSeconds?: number;
  /**
   * Renders at once; more wait their turn.
   * @default 2
   */
  maxConcurrentRenders?: number;
  /**
   * Serve the admin routes `/__emulator/faults` and `/__emulator/requests` (to loopback only).
   * @default true
   */
  admin?: boolean;
  /** Faults in force from the start. */
  faults?: Faults;
  /**
   * The base of `video_url`s, when clients reach the emulator by another address.
   * @default the address it listens on
   */
  publicUrl?: string;
}

/** What every emulator offers, listening or mounted. */
interface EmulatorControls {
  /** Replaces the faults in force. */
  setFaults(faults: Faults): void;
  /** The request log, oldest first. */
  requests(): readonly RequestLogEntry[];
  /** Every webhook delivery try, oldest first. */
  webhooks(): readonly WebhookLogEntry[];
}

export interface Emulator extends EmulatorControls {
  /** Where it listens: `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Stops listening, drops connections, stops renders and webhook deliveries. */
  close(): Promise<void>;
}

/** An emulator on another server's origin, under `basePath`, with its API callable in-process. */
export interface MountedEmulator extends EmulatorControls {
  readonly basePath: string;
  /**
   * Answers a request of the host server whose path is under `basePath` and returns `true`;
   * returns `false` (and does nothing) for any other path.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * The upstream API without a socket, for core's client: a `fetch` of the create and
   * task-result routes (any origin; the path decides). Faults apply as over HTTP; a reset
   * rejects as a dropped connection does.
   */
  fetch(input: string, init?: RequestInit): Promise<Response>;
  /** Sets the origin video links are built on (`<url><basePath>/videos/…`). */
  setPublicUrl(url: string): void;
  /** Stops renders and webhook deliveries. */
  close(): Promise<void>;
}

export interface MountOptions extends Omit<EmulatorOptions, 'port' | 'host' | 'publicUrl'> {
  /** Where on the host server it answers, such as `/emulator`. */
  basePath: string;
}

function openState(options: Omit<EmulatorOptions, 'port' | 'host'>) {
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0) || !Number.isFinite(timeScale))
    throw new RangeError('timeScale must be a positive number');
  const state = new EmulatorState({
    timeScale,
    storageDir: options.storageDir ?? join(tmpdir(), 'wan-video-emulator'),
    stateDir: options.stateDir,
    videoUrlTtlSeconds: options.videoUrlTtlSeconds ?? 3600,
    maxConcurrentRenders: options.maxConcurrentRenders ?? 2,
  });
  if (options.faults) state.faults.set(faultsSchema.parse(options.faults));
  const routes: RouteOptions = {
    apiKeys: new Set(options.apiKeys ?? []),
    admin: options.admin ?? true,
  };
  return { state, routes };
}

const controls = (state: EmulatorState): EmulatorControls => ({
  setFaults: (next) => state.faults.set(faultsSchema.parse(next)),
  requests: () => [...state.requests],
  webhooks: () => [...state.webhooks],
});

/** Mounts an emulator of Novita's Wan 2.1 text-to-video API on a server of the caller's. */
export function mountEmulator(options: MountOptions): MountedEmulator {
  const basePath = options.basePath.replace(/\/+$/, '');
  const { state, routes } = openState(options);
  const shutdown = new AbortController();
  return {
    ...controls(state),
    basePath,
    handle(req, res) {
      const url = new URL(req.url ?? '/', 'http://emulator.invalid');
      const inside = url.pathname === basePath || url.pathname.startsWith(`${basePath}/`);
      if (!inside) return false;
      const path = url.pathname.slice(basePath.length) || '/';
      handleHttp(state, routes, req, res, path, url.searchParams, shutdown.signal).catch(
        (error: unknown) => failed(res, error),
      );
      return true;
    },
    async fetch(input, init = {}) {
      const url = new URL(input);
      const path = url.pathname.startsWith(`${basePath}/`)
        ? url.pathname.slice(basePath.length)
        : url.pathname;
      const method = init.method ?? 'GET';
      const entry = logEntry(method, path);
      state.requests.push(entry);
      if (!isApiPath(path)) {
        entry.status = 404;
        return toResponse(jsonAnswer(404, errorBody(404, 'NOT_FOUND', `no route ${path}`)));
      }
      const headers = new Headers(init.headers);
      const key = /^Bearer\s+(.+)$/i.exec(headers.get('authorization') ?? '')?.[1]?.trim() ?? '';
      const call: ApiCall = {
        method,
        path,
        query: url.searchParams,
        key,
        body: async () => (typeof init.body === 'string' ? init.body : ''),
      };
      const answer = await callApi(
        state,
        routes,
        call,
        (id) => {
          entry.taskId = id;
        },
        shutdown.signal,
      );
      if (answer === 'reset') {
        throw Object.assign(new Error('socket hang up (an injected connection reset)'), {
          code: 'ECONNRESET',
        });
      }
      entry.status = answer.status;
      return toResponse(answer);
    },
    setPublicUrl(url) {
      state.baseUrl = `${url.replace(/\/+$/, '')}${basePath}`;
    },
    async close() {
      shutdown.abort();
      state.close();
    },
  };
}

const toResponse = (answer: { status: number; headers: Record<string, string>; body: string }) =>
  new Response(answer.body, { status: answer.status, headers: answer.headers });

function failed(res: ServerResponse, error: unknown) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const message = error instanceof Error ? error.message : 'unexpected error';
  writeAnswer(res, jsonAnswer(500, errorBody(500, 'INTERNAL_SERVER_ERROR', message)));
}

/** Starts an emulator of Novita's Wan 2.1 text-to-video API on a port of its own. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const mounted = mountEmulator({ ...options, basePath: '' });
  const server = createServer((req, res) => {
    mounted.handle(req, res);
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    await mounted.close();
    throw error;
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}`;
  mounted.setPublicUrl(options.publicUrl ?? url);
  return {
    url,
    port: address.port,
    setFaults: mounted.setFaults,
    requests: mounted.requests,
    webhooks: mounted.webhooks,
    async close() {
      await mounted.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
