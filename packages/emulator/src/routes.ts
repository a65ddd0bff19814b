import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CREATE_TASK_PATH, safeParseCreateTaskRequest, TASK_RESULT_PATH } from '@wan-video/core';
import send from 'send';
import type { ApiRoute } from './faults.js';
import { faultsSchema } from './faults.js';
import {
  type Answer,
  BodyTooLarge,
  bearerKey,
  errorBody,
  isLoopback,
  jsonAnswer,
  readBody,
  writeAnswer,
} from './http.js';
import { type EmulatorState, logEntry } from './state.js';
import type { TaskFate } from './tasks.js';

/** One call of the upstream API, however it arrived (HTTP, or in-process). */
export interface ApiCall {
  readonly method: string;
  /** `CREATE_TASK_PATH` or `TASK_RESULT_PATH`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The bearer key sent, '' for none. */
  readonly key: string;
  readonly body: () => Promise<string>;
}

export interface RouteOptions {
  /** The API keys that pass. Empty: any non-empty bearer key passes. */
  readonly apiKeys: ReadonlySet<string>;
  /** Serve `/__emulator/faults` and `/__emulator/requests` (to loopback clients only). */
  readonly admin: boolean;
}

export const isApiPath = (path: string) => path === CREATE_TASK_PATH || path === TASK_RESULT_PATH;

/**
 * The upstream API: `POST CREATE_TASK_PATH` and `GET TASK_RESULT_PATH`, behind the faults in
 * force. Answers `'reset'` when a fault drops the connection. `note` is told which task the
 * call was about, for the request log.
 */
export async function callApi(
  state: EmulatorState,
  options: RouteOptions,
  call: ApiCall,
  note: (taskId: string) => void,
  signal?: AbortSignal,
): Promise<Answer | 'reset'> {
  const { faults } = state;
  const route: ApiRoute = call.path === CREATE_TASK_PATH ? 'create' : 'result';
  if (route === 'result') note(call.query.get('task_id') ?? '');
  if (faults.latencyMs > 0) await sleep(faults.latencyMs, undefined, { signal }).catch(() => {});
  const strike = faults.strike(route);
  const malformed = strike.kind === 'malformed';
  const answer = (status: number, body: unknown, headers: Record<string, string> = {}) =>
    jsonAnswer(status, body, headers, malformed);
  if (strike.kind === 'reset') return 'reset';
  if (strike.kind === 'rate_limit') {
    return answer(429, errorBody(429, 'RATE_LIMIT_EXCEEDED', 'too many requests: slow down'), {
      'retry-after': String(strike.retryAfterSeconds),
    });
  }
  if (strike.kind === 'server_error') {
    return answer(
      strike.status,
      errorBody(strike.status, 'INTERNAL_SERVER_ERROR', 'the emulator injected a server error'),
    );
  }
  const expected = route === 'create' ? 'POST' : 'GET';
  if (call.method !== expected) {
    return answer(405, errorBody(405, 'METHOD_NOT_ALLOWED', `use ${expected}`), {
      allow: expected,
    });
  }
  if (call.key === '' || (options.apiKeys.size > 0 && !options.apiKeys.has(call.key))) {
    const message = 'missing or invalid API key: send Authorization: Bearer <key>';
    return answer(401, errorBody(401, 'INVALID_API_KEY', message));
  }
  if (route === 'result') {
    const taskId = call.query.get('task_id') ?? '';
    if (taskId === '')
      return answer(400, errorBody(400, 'INVALID_REQUEST_PARAMS', 'task_id is required'));
    const task = state.get(taskId);
    if (!task) return answer(404, errorBody(404, 'TASK_NOT_FOUND', `task ${taskId} not found`));
    return answer(200, state.resultBody(task, Date.now()));
  }
  return create(state, call, note, answer);
}

async function create(
  state: EmulatorState,
  call: ApiCall,
  note: (taskId: string) => void,
  answer: (status: number, body: unknown) => Answer,
): Promise<Answer> {
  let json: unknown;
  try {
    json = JSON.parse(await call.body());
  } catch (error) {
    return error instanceof BodyTooLarge
      ? answer(413, errorBody(413, 'REQUEST_ENTITY_TOO_LARGE', 'the request body is over 1 MiB'))
      : answer(400, errorBody(400, 'INVALID_REQUEST_BODY', 'the request body is not valid JSON'));
  }
  const parsed = safeParseCreateTaskRequest(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      field: issue.path.join('.'),
      path: issue.path,
      rule: issue.rule,
      message: issue.message,
    }));
    const message = issues.map((issue) => issue.message).join('; ');
    return answer(400, errorBody(400, 'INVALID_REQUEST_BODY', message, { issues }));
  }
  const request = parsed.data;
  const testMode = request.extra?.webhook?.test_mode;
  const fate: TaskFate = testMode?.enabled
    ? {
        kind: 'test',
        status: testMode.return_task_status === 'TASK_STATUS_FAILED' ? 'FAILED' : 'SUCCEEDED',
      }
    : state.faults.taskFate();
  const task = state.create(request, fate);
  note(task.id);
  return answer(200, { task_id: task.id });
}

/** `GET /videos/<task>.mp4?expires&signature`: the file, with Range support. */
export function serveVideo(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  taskId: string,
  query: URLSearchParams,
): void {
  const check = state.checkVideoLink(
    taskId,
    Number(query.get('expires')),
    query.get('signature') ?? '',
  );
  if (check !== 'ok') {
    const body =
      check === 'invalid'
        ? errorBody(403, 'INVALID_SIGNATURE', 'this video URL is not valid')
        : errorBody(403, 'URL_EXPIRED', 'this video URL has expired: read the task again');
    writeAnswer(res, jsonAnswer(403, body));
    return;
  }
  const file = state.get(taskId)?.video;
  if (!file) {
    writeAnswer(
      res,
      jsonAnswer(404, errorBody(404, 'VIDEO_NOT_FOUND', `no video for task ${taskId}`)),
    );
    return;
  }
  send(req, basename(file), { root: dirname(file), cacheControl: false, lastModified: false })
    .on('headers', (response: ServerResponse) => {
      response.setHeader('content-type', 'video/mp4');
      response.setHeader('access-control-allow-origin', '*');
    })
    .on('error', (error: { status?: number }) => {
      const status = error.status ?? 500;
      writeAnswer(
        res,
        jsonAnswer(status, errorBody(status, 'VIDEO_UNAVAILABLE', 'the video could not be read')),
      );
    })
    .pipe(res);
}

async function admin(
  state: EmulatorState,
  options: RouteOptions,
  req: IncomingMessage,
  path: string,
): Promise<Answer> {
  const notFound = () =>
    jsonAnswer(404, errorBody(404, 'NOT_FOUND', `no route ${req.method} ${path}`));
  if (!options.admin) return notFound();
  if (!isLoopback(req.socket.remoteAddress)) {
    const message = 'the admin routes answer loopback clients only';
    return jsonAnswer(403, errorBody(403, 'FORBIDDEN', message));
  }
  const { faults } = state;
  if (path === '/__emulator/faults') {
    if (req.method === 'GET') return jsonAnswer(200, { faults: faults.current });
    if (req.method === 'DELETE') {
      faults.reset();
      return jsonAnswer(200, { faults: faults.current });
    }
    if (req.method === 'POST') {
      let json: unknown;
      try {
        json = JSON.parse(await readBody(req));
      } catch {
        return jsonAnswer(
          400,
          errorBody(400, 'INVALID_REQUEST_BODY', 'the body is not valid JSON'),
        );
      }
      const parsed = faultsSchema.safeParse(json);
      if (!parsed.success) {
        const issues = parsed.error.issues.map(({ path, message }) => ({ path, message }));
        return jsonAnswer(
          400,
          errorBody(400, 'INVALID_FAULTS', 'the faults are not valid', { issues }),
        );
      }
      faults.set(parsed.data);
      return jsonAnswer(200, { faults: faults.current });
    }
  }
  if (path === '/__emulator/requests') {
    const logs = () => ({ requests: state.requests, webhooks: state.webhooks });
    if (req.method === 'GET') return jsonAnswer(200, logs());
    if (req.method === 'DELETE') {
      state.requests.length = 0;
      state.webhooks.length = 0;
      return jsonAnswer(200, logs());
    }
  }
  return notFound();
}

/**
 * The emulator's HTTP routes for one request whose path (`path`, with any mount prefix already
 * taken off) is the emulator's: the API, the videos, the admin routes and `/`.
 */
export async function handleHttp(
  state: EmulatorState,
  options: RouteOptions,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: URLSearchParams,
  signal: AbortSignal,
): Promise<void> {
  const method = req.method ?? 'GET';
  const entry = logEntry(method, path);
  const note = (taskId: string) => {
    entry.taskId = taskId;
  };
  if (!path.startsWith('/__emulator/')) {
    state.requests.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
  }
  if (isApiPath(path)) {
    const call: ApiCall = { method, path, query, key: bearerKey(req), body: () => readBody(req) };
    const answer = await callApi(state, options, call, note, signal);
    if (answer === 'reset') req.socket.resetAndDestroy();
    else writeAnswer(res, answer);
    return;
  }
  const video = /^\/videos\/([0-9a-f-]{36})\.mp4$/.exec(path);
  if (video?.[1] && (method === 'GET' || method === 'HEAD')) {
    note(video[1]);
    serveVideo(state, req, res, video[1], query);
    return;
  }
  if (path.startsWith('/__emulator/')) {
    writeAnswer(res, await admin(state, options, req, path));
    return;
  }
  if (path === '/' && method === 'GET') {
    const routes = [CREATE_TASK_PATH, TASK_RESULT_PATH];
    writeAnswer(
      res,
      jsonAnswer(200, {
        name: 'wan-video-emulator',
        emulated: true,
        timeScale: state.timeScale,
        routes,
      }),
    );
    return;
  }
  writeAnswer(res, jsonAnswer(404, errorBody(404, 'NOT_FOUND', `no route ${method} ${path}`)));
}
