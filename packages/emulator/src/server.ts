import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CREATE_TASK_PATH,
  safeParseCreateTaskRequest,
  TASK_RESULT_EVENT_TYPE,
  TASK_RESULT_PATH,
  type TaskResultEvent,
} from '@wan-video/core';
import send from 'send';
import { type ApiRoute, FaultInjector, type Faults, faultsSchema, type Strike } from './faults.js';
import { Renderer } from './render.js';
import {
  createTask,
  type EmulatedTask,
  renderParams,
  type TaskFate,
  taskEndsAt,
  taskResultBody,
  taskState,
} from './tasks.js';
import { type DeliveryAttempt, deliverWebhook } from './webhooks.js';

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

/** One line of the request log. */
export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  /** The task the request was about: the one created, read or whose video was fetched. */
  readonly taskId: string | null;
  /** When the request arrived, ISO 8601. */
  readonly time: string;
  /** The status answered; `null` when the connection was dropped. */
  readonly status: number | null;
}

export interface WebhookLogEntry extends DeliveryAttempt {
  readonly taskId: string;
  readonly url: string;
  readonly time: string;
}

export interface Emulator {
  /** Where it listens: `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Replaces the faults in force. */
  setFaults(faults: Faults): void;
  /** The request log, oldest first. */
  requests(): readonly RequestLogEntry[];
  /** Every webhook delivery try, oldest first. */
  webhooks(): readonly WebhookLogEntry[];
  /** Stops listening, drops connections, stops renders and webhook deliveries. */
  close(): Promise<void>;
}

/** The upstream's error body: `{code, reason, message, metadata}`. */
function errorBody(
  code: number,
  reason: string,
  message: string,
  metadata: Record<string, unknown> = {},
) {
  return { code, reason, message, metadata };
}

const isLoopback = (address: string | undefined): boolean =>
  address !== undefined &&
  (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'));

const MAX_BODY_BYTES = 1024 * 1024;

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts an emulator of Novita's Wan 2.1 text-to-video API. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0) || !Number.isFinite(timeScale))
    throw new RangeError('timeScale must be a positive number');
  const apiKeys = new Set(options.apiKeys ?? []);
  const ttlSeconds = options.videoUrlTtlSeconds ?? 3600;
  const adminEnabled = options.admin ?? true;
  const storageDir = options.storageDir ?? join(tmpdir(), 'wan-video-emulator');
  const renderer = new Renderer({
    storageDir,
    maxConcurrentRenders: options.maxConcurrentRenders ?? 2,
  });
  const faults = new FaultInjector();
  if (options.faults) faults.set(faultsSchema.parse(options.faults));
  const secret = randomBytes(32);
  const tasks = new Map<string, EmulatedTask>();
  const log: RequestLogEntry[] = [];
  const webhookLog: WebhookLogEntry[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const shutdown = new AbortController();
  let baseUrl = '';

  const sign = (taskId: string, expires: number) =>
    createHmac('sha256', secret).update(`${taskId}.${expires}`).digest('base64url');

  function videoUrl(task: EmulatedTask, now: number) {
    const expires = Math.floor(now / 1000) + ttlSeconds;
    const url = `${baseUrl}/videos/${task.id}.mp4?expires=${expires}&signature=${sign(task.id, expires)}`;
    return { url, ttlSeconds };
  }

  function resultBody(task: EmulatedTask, now: number) {
    const state = taskState(task, now);
    if (
      (state.status === 'SUCCEEDED' || state.status === 'FAILED') &&
      task.completedAt === undefined
    ) {
      task.completedAt = now;
    }
    // A test-mode task has no video: nothing was rendered.
    const video =
      state.status === 'SUCCEEDED' && task.video !== undefined ? videoUrl(task, now) : undefined;
    return taskResultBody(task, state, video);
  }

  function later(ms: number, action: () => void) {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  }

  function sendWebhook(task: EmulatedTask, url: string) {
    const event: TaskResultEvent = {
      event_type: TASK_RESULT_EVENT_TYPE,
      payload: resultBody(task, Date.now()),
    };
    void deliverWebhook(url, event, {
      timeScale,
      signal: shutdown.signal,
      onAttempt: (attempt) =>
        webhookLog.push({ ...attempt, taskId: task.id, url, time: new Date().toISOString() }),
    });
  }

  function scheduleWebhook(task: EmulatedTask, url: string) {
    if (task.fate.kind === 'test') {
      setImmediate(() => sendWebhook(task, url));
      return;
    }
    if (task.fate.kind === 'stall') return;
    const atTheEnd = () => {
      // The timer may fire before Date.now() reads the task's end (timers count whole
      // milliseconds on another clock; a task's time has fractions): the task would still
      // read PROCESSING, and so would the event. Wait the rest.
      const left = taskEndsAt(task) - Date.now();
      if (left > 0) {
        later(left, atTheEnd);
        return;
      }
      if (
        task.fate.kind === 'normal' &&
        task.video === undefined &&
        task.renderError === undefined
      ) {
        // The task's time is up but its render is not: send when the render ends.
        void renderer.render(renderParams(task)).then(
          () => sendWebhook(task, url),
          () => sendWebhook(task, url),
        );
        return;
      }
      sendWebhook(task, url);
    };
    later(Math.max(0, taskEndsAt(task) - Date.now()), atTheEnd);
  }

  function answer(
    res: ServerResponse,
    status: number,
    body: unknown,
    strike: Strike,
    headers: Record<string, string> = {},
  ) {
    let text = JSON.stringify(body);
    if (strike.kind === 'malformed') text = text.slice(0, Math.max(1, Math.floor(text.length / 2)));
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(text);
  }

  function authorised(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    const key = match?.[1]?.trim() ?? '';
    if (key === '') return false;
    return apiKeys.size === 0 || apiKeys.has(key);
  }

  function unauthorised(res: ServerResponse, strike: Strike) {
    const message = 'missing or invalid API key: send Authorization: Bearer <key>';
    answer(res, 401, errorBody(401, 'INVALID_API_KEY', message), strike);
  }

  async function createRoute(
    req: IncomingMessage,
    res: ServerResponse,
    strike: Strike,
    note: (id: string) => void,
  ) {
    if (!authorised(req)) {
      unauthorised(res, strike);
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(await readBody(req));
    } catch (error) {
      if (error instanceof BodyTooLarge) {
        answer(
          res,
          413,
          errorBody(413, 'REQUEST_ENTITY_TOO_LARGE', 'the request body is over 1 MiB'),
          strike,
        );
      } else {
        answer(
          res,
          400,
          errorBody(400, 'INVALID_REQUEST_BODY', 'the request body is not valid JSON'),
          strike,
        );
      }
      return;
    }
    const parsed = safeParseCreateTaskRequest(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({
        field: issue.path.join('.'),
        path: issue.path,
        rule: issue.rule,
        message: issue.message,
      }));
      answer(
        res,
        400,
        errorBody(400, 'INVALID_REQUEST_BODY', issues.map((issue) => issue.message).join('; '), {
          issues,
        }),
        strike,
      );
      return;
    }
    const request = parsed.data;
    const webhook = request.extra?.webhook;
    let fate: TaskFate = faults.taskFate();
    if (webhook?.test_mode?.enabled) {
      fate = {
        kind: 'test',
        status:
          webhook.test_mode.return_task_status === 'TASK_STATUS_FAILED' ? 'FAILED' : 'SUCCEEDED',
      };
    }
    const task = createTask(request, fate, timeScale, Date.now());
    tasks.set(task.id, task);
    note(task.id);
    if (fate.kind === 'normal') {
      renderer.render(renderParams(task)).then(
        (file) => {
          task.video = file;
        },
        (error: unknown) => {
          task.renderError = error instanceof Error ? error.message : String(error);
        },
      );
    }
    if (webhook?.url) scheduleWebhook(task, webhook.url);
    answer(res, 200, { task_id: task.id }, strike);
  }

  function resultRoute(req: IncomingMessage, res: ServerResponse, url: URL, strike: Strike) {
    if (!authorised(req)) {
      unauthorised(res, strike);
      return;
    }
    const taskId = url.searchParams.get('task_id') ?? '';
    if (taskId === '') {
      answer(res, 400, errorBody(400, 'INVALID_REQUEST_PARAMS', 'task_id is required'), strike);
      return;
    }
    const task = tasks.get(taskId);
    if (!task) {
      answer(res, 404, errorBody(404, 'TASK_NOT_FOUND', `task ${taskId} not found`), strike);
      return;
    }
    answer(res, 200, resultBody(task, Date.now()), strike);
  }

  function videoRoute(req: IncomingMessage, res: ServerResponse, url: URL, taskId: string) {
    const expires = Number(url.searchParams.get('expires'));
    const signature = Buffer.from(url.searchParams.get('signature') ?? '');
    const expected = Buffer.from(sign(taskId, expires));
    const valid = signature.length === expected.length && timingSafeEqual(signature, expected);
    if (!valid || !Number.isFinite(expires)) {
      answer(res, 403, errorBody(403, 'INVALID_SIGNATURE', 'this video URL is not valid'), {
        kind: 'none',
      });
      return;
    }
    if (Date.now() / 1000 > expires) {
      answer(
        res,
        403,
        errorBody(
          403,
          'URL_EXPIRED',
          'this video URL has expired: read the task again for a fresh one',
        ),
        {
          kind: 'none',
        },
      );
      return;
    }
    const file = tasks.get(taskId)?.video;
    if (!file) {
      answer(res, 404, errorBody(404, 'VIDEO_NOT_FOUND', `no video for task ${taskId}`), {
        kind: 'none',
      });
      return;
    }
    send(req, basename(file), { root: dirname(file), cacheControl: false, lastModified: false })
      .on('headers', (response: ServerResponse) => {
        response.setHeader('content-type', 'video/mp4');
        response.setHeader('access-control-allow-origin', '*');
      })
      .on('error', (error: { status?: number }) => {
        answer(
          res,
          error.status ?? 500,
          errorBody(error.status ?? 500, 'VIDEO_UNAVAILABLE', 'the video could not be read'),
          {
            kind: 'none',
          },
        );
      })
      .pipe(res);
  }

  async function adminRoute(req: IncomingMessage, res: ServerResponse, path: string) {
    const none: Strike = { kind: 'none' };
    if (!adminEnabled) {
      answer(res, 404, errorBody(404, 'NOT_FOUND', `no route ${req.method} ${path}`), none);
      return;
    }
    if (!isLoopback(req.socket.remoteAddress)) {
      answer(
        res,
        403,
        errorBody(403, 'FORBIDDEN', 'the admin routes answer loopback clients only'),
        none,
      );
      return;
    }
    if (path === '/__emulator/faults') {
      if (req.method === 'GET') return answer(res, 200, { faults: faults.current }, none);
      if (req.method === 'DELETE') {
        faults.reset();
        return answer(res, 200, { faults: faults.current }, none);
      }
      if (req.method === 'POST') {
        let json: unknown;
        try {
          json = JSON.parse(await readBody(req));
        } catch {
          return answer(
            res,
            400,
            errorBody(400, 'INVALID_REQUEST_BODY', 'the body is not valid JSON'),
            none,
          );
        }
        const parsed = faultsSchema.safeParse(json);
        if (!parsed.success) {
          const issues = parsed.error.issues.map((issue) => ({
            path: issue.path,
            message: issue.message,
          }));
          return answer(
            res,
            400,
            errorBody(400, 'INVALID_FAULTS', 'the faults are not valid', { issues }),
            none,
          );
        }
        faults.set(parsed.data);
        return answer(res, 200, { faults: faults.current }, none);
      }
    }
    if (path === '/__emulator/requests') {
      if (req.method === 'GET')
        return answer(res, 200, { requests: log, webhooks: webhookLog }, none);
      if (req.method === 'DELETE') {
        log.length = 0;
        webhookLog.length = 0;
        return answer(res, 200, { requests: log, webhooks: webhookLog }, none);
      }
    }
    answer(res, 404, errorBody(404, 'NOT_FOUND', `no route ${req.method} ${path}`), none);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const entry = {
      method,
      path,
      taskId: null as string | null,
      time: new Date().toISOString(),
      status: null as number | null,
    };
    const note = (taskId: string) => {
      entry.taskId = taskId;
    };
    const isApi = path === CREATE_TASK_PATH || path === TASK_RESULT_PATH;
    if (!path.startsWith('/__emulator/')) {
      log.push(entry);
      res.on('finish', () => {
        entry.status = res.statusCode;
      });
    }
    if (isApi) {
      const route: ApiRoute = path === CREATE_TASK_PATH ? 'create' : 'result';
      if (route === 'result') entry.taskId = url.searchParams.get('task_id');
      if (faults.latencyMs > 0)
        await sleep(faults.latencyMs, undefined, { signal: shutdown.signal }).catch(() => {});
      const strike = faults.strike(route);
      if (strike.kind === 'reset') {
        req.socket.resetAndDestroy();
        return;
      }
      if (strike.kind === 'rate_limit') {
        return answer(
          res,
          429,
          errorBody(429, 'RATE_LIMIT_EXCEEDED', 'too many requests: slow down'),
          strike,
          {
            'retry-after': String(strike.retryAfterSeconds),
          },
        );
      }
      if (strike.kind === 'server_error') {
        return answer(
          res,
          strike.status,
          errorBody(strike.status, 'INTERNAL_SERVER_ERROR', 'the emulator injected a server error'),
          strike,
        );
      }
      if (route === 'create') {
        if (method !== 'POST')
          return answer(res, 405, errorBody(405, 'METHOD_NOT_ALLOWED', 'use POST'), strike, {
            allow: 'POST',
          });
        return createRoute(req, res, strike, note);
      }
      if (method !== 'GET')
        return answer(res, 405, errorBody(405, 'METHOD_NOT_ALLOWED', 'use GET'), strike, {
          allow: 'GET',
        });
      return resultRoute(req, res, url, strike);
    }
    const video = /^\/videos\/([0-9a-f-]{36})\.mp4$/.exec(path);
    if (video?.[1] && (method === 'GET' || method === 'HEAD')) {
      note(video[1]);
      return videoRoute(req, res, url, video[1]);
    }
    if (path.startsWith('/__emulator/')) return adminRoute(req, res, path);
    if (path === '/' && method === 'GET') {
      return answer(
        res,
        200,
        {
          name: 'wan-video-emulator',
          emulated: true,
          timeScale,
          routes: [CREATE_TASK_PATH, TASK_RESULT_PATH],
        },
        { kind: 'none' },
      );
    }
    answer(res, 404, errorBody(404, 'NOT_FOUND', `no route ${method} ${path}`), { kind: 'none' });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        answer(
          res,
          500,
          errorBody(
            500,
            'INTERNAL_SERVER_ERROR',
            error instanceof Error ? error.message : 'unexpected error',
          ),
          {
            kind: 'none',
          },
        );
      } else {
        res.destroy();
      }
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}`;
  baseUrl = (options.publicUrl ?? url).replace(/\/+$/, '');

  return {
    url,
    port: address.port,
    setFaults: (next) => faults.set(faultsSchema.parse(next)),
    requests: () => [...log],
    webhooks: () => [...webhookLog],
    async close() {
      shutdown.abort();
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      renderer.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
