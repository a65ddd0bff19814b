import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  type CreateTaskRequest,
  TASK_RESULT_EVENT_TYPE,
  type TaskResultEvent,
  type TaskResultResponse,
} from '@wan-video/core';
import { FaultInjector } from './faults.js';
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

/** A request log line being written: the task and the status are filled in as they are known. */
export interface OpenLogEntry {
  readonly method: string;
  readonly path: string;
  taskId: string | null;
  readonly time: string;
  status: number | null;
}

/** A new line for the request log (not yet added to it). */
export const logEntry = (method: string, path: string): OpenLogEntry => ({
  method,
  path,
  taskId: null,
  time: new Date().toISOString(),
  status: null,
});

/** A task as the emulator keeps it: the task, and its webhook's delivery. */
interface KeptTask extends EmulatedTask {
  webhookUrl?: string;
  /** Set once every delivery try is over (delivered or not): not tried again after a restart. */
  webhookDone?: boolean;
}

export interface StateOptions {
  readonly timeScale: number;
  /** Where rendered videos are kept. */
  readonly storageDir: string;
  /**
   * Where tasks and the video-link secret are kept, so that a restart loses no task and breaks
   * no link. Without it they live in memory.
   */
  readonly stateDir: string | undefined;
  readonly videoUrlTtlSeconds: number;
  readonly maxConcurrentRenders: number;
}

const JOURNAL = 'tasks.jsonl';
const SECRET = 'video-url-secret';

/**
 * Everything the emulator knows: its tasks (journalled to `stateDir` when given), the faults in
 * force, the request and webhook logs, the renders and the webhook deliveries. The routes read
 * and change it; nothing here speaks HTTP.
 */
export class EmulatorState {
  readonly faults = new FaultInjector();
  readonly requests: RequestLogEntry[] = [];
  readonly webhooks: WebhookLogEntry[] = [];
  readonly timeScale: number;
  /** The base of `video_url`s; set once the address the videos are served from is known. */
  baseUrl = '';
  readonly #options: StateOptions;
  readonly #tasks = new Map<string, KeptTask>();
  readonly #renderer: Renderer;
  readonly #secret: Buffer;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #shutdown = new AbortController();
  readonly #journal: string | undefined;

  constructor(options: StateOptions) {
    this.#options = options;
    this.timeScale = options.timeScale;
    this.#renderer = new Renderer({
      storageDir: options.storageDir,
      maxConcurrentRenders: options.maxConcurrentRenders,
    });
    if (options.stateDir === undefined) {
      this.#secret = randomBytes(32);
      return;
    }
    mkdirSync(options.stateDir, { recursive: true });
    this.#secret = keptSecret(join(options.stateDir, SECRET));
    this.#journal = join(options.stateDir, JOURNAL);
    for (const task of readJournal(this.#journal)) this.#tasks.set(task.id, task);
    // One line per task from here on: the journal only grows by the changes after this start.
    const compacted = join(options.stateDir, `${JOURNAL}.tmp`);
    writeFileSync(compacted, [...this.#tasks.values()].map(line).join(''));
    renameSync(compacted, this.#journal);
    // What was under way goes on: renders are redone (or found on disk), webhooks resent.
    for (const task of this.#tasks.values()) {
      if (task.video !== undefined && !existsSync(task.video)) delete task.video;
      this.#startRender(task);
      if (task.webhookUrl !== undefined && !task.webhookDone)
        this.#scheduleWebhook(task, task.webhookUrl);
    }
  }

  get(taskId: string): EmulatedTask | undefined {
    return this.#tasks.get(taskId);
  }

  /** Creates, keeps (before the create is answered) and starts a task. */
  create(request: CreateTaskRequest, fate: TaskFate): EmulatedTask {
    const task: KeptTask = createTask(request, fate, this.timeScale, Date.now());
    const webhook = request.extra?.webhook?.url;
    if (webhook !== undefined) task.webhookUrl = webhook;
    this.#tasks.set(task.id, task);
    this.#keep(task);
    this.#startRender(task);
    if (webhook !== undefined) this.#scheduleWebhook(task, webhook);
    return task;
  }

  /** The task-result body at `now` (the first terminal read sets the completion time). */
  resultBody(task: EmulatedTask, now: number): TaskResultResponse {
    const state = taskState(task, now);
    if (
      (state.status === 'SUCCEEDED' || state.status === 'FAILED') &&
      task.completedAt === undefined
    ) {
      task.completedAt = now;
      this.#keep(task);
    }
    // A test-mode task has no video: nothing was rendered.
    const video =
      state.status === 'SUCCEEDED' && task.video !== undefined
        ? this.#videoUrl(task, now)
        : undefined;
    return taskResultBody(task, state, video);
  }

  /** Whether a video link's signature is this emulator's and still in time. */
  checkVideoLink(taskId: string, expires: number, signature: string): 'ok' | 'invalid' | 'expired' {
    const given = Buffer.from(signature);
    const expected = Buffer.from(this.#sign(taskId, expires));
    if (!Number.isFinite(expires) || given.length !== expected.length) return 'invalid';
    if (!timingSafeEqual(given, expected)) return 'invalid';
    return Date.now() / 1000 > expires ? 'expired' : 'ok';
  }

  /** Stops renders, timers and webhook deliveries. */
  close(): void {
    this.#shutdown.abort();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#renderer.close();
  }

  #sign(taskId: string, expires: number): string {
    return createHmac('sha256', this.#secret).update(`${taskId}.${expires}`).digest('base64url');
  }

  #videoUrl(task: EmulatedTask, now: number) {
    const ttlSeconds = this.#options.videoUrlTtlSeconds;
    const expires = Math.floor(now / 1000) + ttlSeconds;
    const signature = this.#sign(task.id, expires);
    const url = `${this.baseUrl}/videos/${task.id}.mp4?expires=${expires}&signature=${signature}`;
    return { url, ttlSeconds };
  }

  /** Appends the task as it is now to the journal (no-op in memory). */
  #keep(task: KeptTask): void {
    if (this.#journal !== undefined) appendFileSync(this.#journal, line(task));
  }

  #startRender(task: KeptTask): void {
    if (task.fate.kind !== 'normal' || task.video !== undefined || task.renderError !== undefined)
      return;
    this.#renderer.render(renderParams(task)).then(
      (file) => {
        task.video = file;
        this.#keep(task);
      },
      (error: unknown) => {
        if (this.#shutdown.signal.aborted) return; // closed mid-render: redone at the next start
        task.renderError = error instanceof Error ? error.message : String(error);
        this.#keep(task);
      },
    );
  }

  #later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      action();
    }, ms);
    this.#timers.add(timer);
  }

  #sendWebhook(task: KeptTask, url: string): void {
    const event: TaskResultEvent = {
      event_type: TASK_RESULT_EVENT_TYPE,
      payload: this.resultBody(task, Date.now()),
    };
    void deliverWebhook(url, event, {
      timeScale: this.timeScale,
      signal: this.#shutdown.signal,
      onAttempt: (attempt) =>
        this.webhooks.push({ ...attempt, taskId: task.id, url, time: new Date().toISOString() }),
    }).then(() => {
      if (this.#shutdown.signal.aborted) return; // cut short: sent again at the next start
      task.webhookDone = true;
      this.#keep(task);
    });
  }

  #scheduleWebhook(task: KeptTask, url: string): void {
    if (task.fate.kind === 'test') {
      setImmediate(() => this.#sendWebhook(task, url));
      return;
    }
    if (task.fate.kind === 'stall') return;
    const atTheEnd = () => {
      // The timer may fire before Date.now() reads the task's end (timers count whole
      // milliseconds on another clock; a task's time has fractions): the task would still
      // read PROCESSING, and so would the event. Wait the rest.
      const left = taskEndsAt(task) - Date.now();
      if (left > 0) {
        this.#later(left, atTheEnd);
        return;
      }
      if (
        task.fate.kind === 'normal' &&
        task.video === undefined &&
        task.renderError === undefined
      ) {
        // The task's time is up but its render is not: send when the render ends.
        void this.#renderer.render(renderParams(task)).then(
          () => this.#sendWebhook(task, url),
          () => this.#sendWebhook(task, url),
        );
        return;
      }
      this.#sendWebhook(task, url);
    };
    this.#later(Math.max(0, taskEndsAt(task) - Date.now()), atTheEnd);
  }
}

const line = (task: KeptTask) => `${JSON.stringify(task)}\n`;

/** The tasks of a journal, the last line of each winning; a torn last line is skipped. */
function readJournal(file: string): KeptTask[] {
  if (!existsSync(file)) return [];
  const tasks = new Map<string, KeptTask>();
  for (const text of readFileSync(file, 'utf8').split('\n')) {
    if (text === '') continue;
    try {
      const task = JSON.parse(text) as KeptTask;
      if (typeof task.id === 'string') tasks.set(task.id, task);
    } catch {
      // A line cut short by a kill mid-write: the line before it still holds that task.
    }
  }
  return [...tasks.values()];
}

/** The secret in `file`, made (readable by this user only) when there is none. */
function keptSecret(file: string): Buffer {
  if (existsSync(file)) {
    const kept = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
    if (kept.length >= 32) return kept;
  }
  const secret = randomBytes(32);
  writeFileSync(file, secret.toString('base64url'), { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}
