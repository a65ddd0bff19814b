import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  isTerminalStatus,
  isUpstreamError,
  isValidationError,
  type NovitaClient,
  parseWebhookEvent,
  type ResolvedVideoInput,
  safeParseVideoInput,
  type TaskSnapshot,
  toCreateTaskRequest,
  type UpstreamError,
} from '@wan-video/core';
import { badUserInput, gatewayError, notFound } from './errors.js';
import type { Limits } from './limits/types.js';
import type { Logger } from './logger.js';
import type { InsertResult, NewTask, TaskRecord, TaskStore } from './store/types.js';
import { clip, isDone, quoteUpstream, shownAt } from './task.js';
import type { TaskWriter } from './task-writer.js';
import type { Tracking } from './tracking/types.js';
import type { ClientWebhooks, WebhookOption } from './webhooks/outbox.js';
import type { NewWebhook } from './webhooks/types.js';

export interface ServiceOptions {
  readonly store: TaskStore;
  readonly client: NovitaClient;
  readonly tracking: Tracking;
  readonly writer: TaskWriter;
  readonly limits: Limits;
  readonly logger: Logger;
  /** Where the upstream reaches this gateway; set: webhook mode. */
  readonly publicUrl: string | undefined;
  readonly taskDeadlineMs: number;
  readonly maxInFlightTasks: number;
  /** Signed webhooks to clients (`generate`'s `webhook` option). */
  readonly webhooks?: ClientWebhooks;
  /** The origin of video links in webhook events when `generate` is given none. */
  readonly defaultOrigin?: () => string;
}

/** `generate`'s options beyond the input and the idempotency key. */
export interface GenerateOptions {
  /**
   * Where to POST the task's final `ASYNC_TASK_RESULT` event, signed per Standard Webhooks with
   * the caller's secret. `testMode.enabled`: no task is made upstream; the event is sent at once
   * with `returnTaskStatus` (TASK_STATUS_SUCCEED by default), as the seed's `test_mode` does.
   */
  readonly webhook?: WebhookOption | null | undefined;
  /** The origin of the video links in that event (the one the client reached). */
  readonly origin?: string | undefined;
}

/** How long a paid create's upstream id is tried to be recorded before it is logged as lost. */
const RECORD_CREATED_FOR_MS = 60_000;

/** Links that expire sooner than this are refreshed when a task is read. */
export const VIDEO_REFRESH_MARGIN_MS = 5 * 60_000;

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** A stable hash of a validated input: key order and defaults cannot change it. */
export function hashInput(input: ResolvedVideoInput): string {
  const canonical = JSON.stringify([
    input.prompt,
    input.negativePrompt ?? null,
    input.width,
    input.height,
    input.seed,
    input.steps,
    input.guidanceScale,
    input.flowShift,
    (input.loras ?? []).map((lora) => [lora.path, lora.scale]),
    input.modelName,
  ]);
  return sha256(canonical);
}

/** Failures after which the upstream provably created no task: the idempotency key is freed. */
function createdNothing(error: UpstreamError): boolean {
  return (
    error.kind === 'connection_refused' || (error.kind === 'http' && (error.status ?? 0) < 500)
  );
}

/** The longest upstream text passed on as data (`reason`, `upstreamMessage`). */
const MAX_UPSTREAM_TEXT = 2000;

/**
 * The GraphQL error for a failed upstream call. `taskId` names the task the create left behind
 * (FAILED, or CREATING after a shutdown), so that the client can watch it rather than pay again.
 * Upstream text goes only into data fields and quoted sentences: never the error's cause.
 */
function upstreamFailure(error: UpstreamError, taskId?: string) {
  const details = {
    status: error.status ?? null,
    reason: error.reason === undefined ? null : clip(error.reason, MAX_UPSTREAM_TEXT),
    upstreamMessage:
      error.upstreamMessage === undefined ? null : clip(error.upstreamMessage, MAX_UPSTREAM_TEXT),
    ...(error.retryAfterMs === undefined
      ? {}
      : { retryAfterSeconds: Math.ceil(error.retryAfterMs / 1000) }),
    ...(taskId === undefined ? {} : { taskId }),
  };
  if (
    error.kind === 'http' &&
    error.status !== undefined &&
    error.status < 500 &&
    error.status !== 429
  ) {
    const why =
      [error.reason, error.upstreamMessage].filter(Boolean).join(': ') || `HTTP ${error.status}`;
    return gatewayError(
      'UPSTREAM_REJECTED',
      `The upstream rejected the request: ${quoteUpstream(why)}`,
      details,
    );
  }
  const kept =
    taskId === undefined
      ? ''
      : ` The task ${taskId} is kept: it may exist upstream, so it was not sent again.`;
  return gatewayError(
    'UPSTREAM_UNAVAILABLE',
    `The upstream is not available: ${quoteUpstream(error.message)}.${kept}`,
    details,
  );
}

/** The gateway's use cases, below GraphQL: create, read, list, webhooks. */
export class VideoService {
  readonly #options: ServiceOptions;
  /** Creates in progress, by task id: a second request with the same key waits for the first. */
  readonly #creating = new Map<string, Promise<TaskRecord>>();
  /** Set once shutdown began: no new create may start. */
  #closing = false;
  /** Webhooks that arrived before their task's upstream id did: read at once when it does. */
  readonly #earlyPokes = new Set<string>();
  /** Video link refreshes in progress, by task id. */
  readonly #refreshing = new Map<string, Promise<TaskRecord>>();
  /** Aborted when shutdown has waited long enough for the creates in flight. */
  readonly #shutdown = new AbortController();
  /**
   * Webhook mode: tasks whose create was interrupted, waiting for the upstream's webhook to bring
   * their upstream id; each one's timer ends it FAILED at its deadline if none came.
   */
  readonly #awaitingWebhook = new Map<string, NodeJS.Timeout>();

  constructor(options: ServiceOptions) {
    // Every create in flight listens to it: as many listeners as creates, not a leak.
    setMaxListeners(0, this.#shutdown.signal);
    this.#options = options;
  }

  /** The task, when it exists and belongs to `owner`; anyone else's is NOT_FOUND. */
  async visible(owner: string, id: string): Promise<TaskRecord> {
    const record = await this.#options.store.get(id);
    if (!record || record.owner !== owner) throw notFound(id);
    return record;
  }

  async list(owner: string, first: number, after: string | null | undefined) {
    if (!Number.isInteger(first) || first < 1 || first > 100) {
      throw badUserInput('first', [
        { path: [], rule: 'max', message: 'first must be between 1 and 100' },
      ]);
    }
    let cursor: { createdAt: number; id: string } | undefined;
    if (after) {
      const decoded = decodeCursor(after);
      if (!decoded)
        throw badUserInput('after', [
          { path: [], rule: 'format', message: 'after is not a cursor from this API' },
        ]);
      cursor = decoded;
    }
    return this.#options.store.list(owner, first, cursor);
  }

  /** Client webhooks: secrets, and the delivery of a task's final event. */
  get webhooks(): ClientWebhooks | undefined {
    return this.#options.webhooks;
  }

  async generate(
    owner: string,
    rawInput: unknown,
    idempotencyKey: string | null | undefined,
    options: GenerateOptions = {},
  ): Promise<TaskRecord> {
    const parsed = safeParseVideoInput(rawInput);
    if (!parsed.success) throw badUserInput('input', parsed.error.issues);
    const input = parsed.data;
    const key = idempotencyKey ?? null;
    if (key !== null && (key.length === 0 || key.length > 200)) {
      throw badUserInput('idempotencyKey', [
        { path: [], rule: 'max_length', message: 'idempotencyKey must be 1 to 200 characters' },
      ]);
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
    if (key !== null && /[\u0000-\u001f\u007f]/.test(key)) {
      throw badUserInput('idempotencyKey', [
        { path: [], rule: 'format', message: 'idempotencyKey must not hold control characters' },
      ]);
    }
    const webhook = await this.#webhookOf(options);
    const { logger } = this.#options;
    const inputHash = hashInput(input);

    if (key !== null) {
      const replay = await this.#replay(owner, key, inputHash);
      if (replay) return replay;
    }
    await this.#options.limits.consumeMutation(owner);

    if (this.#closing) {
      throw gatewayError(
        'UPSTREAM_UNAVAILABLE',
        'The gateway is shutting down; try again in a moment.',
        {
          retryAfterSeconds: 5,
        },
      );
    }
    const now = Date.now();
    const secret = this.#options.publicUrl ? randomBytes(24).toString('base64url') : null;
    // The store checks the key and counts the owner's tasks in flight in the same atomic write:
    // concurrent requests, on this replica or another, cannot overshoot or pay twice.
    const inserted = await this.#insert({
      id: randomUUID(),
      owner,
      idempotencyKey: key,
      inputHash,
      input,
      webhookSecretHash: secret === null ? null : sha256(secret),
      createdAt: now,
      deadlineAt: now + this.#options.taskDeadlineMs,
      webhook,
    });
    if (inserted.outcome === 'in_flight_limit') {
      const retryAfterSeconds = await this.#firstEndIn(owner);
      throw gatewayError(
        'RATE_LIMITED',
        `You have ${this.#options.maxInFlightTasks} videos in progress, the most at once; one should finish in about ${retryAfterSeconds} s.`,
        { retryAfterSeconds, limit: 'in_flight' },
      );
    }
    if (inserted.outcome === 'exists') {
      // Another request with this key won the race: answer as a replay.
      const replay = await this.#replay(owner, key as string, inputHash);
      if (replay) return replay;
    }
    const task = inserted.task;
    if (webhook?.test) return this.#endTest(task, options.webhook?.testMode?.returnTaskStatus);
    const creating = this.#createUpstream(task, input, secret).finally(() =>
      this.#creating.delete(task.id),
    );
    this.#creating.set(task.id, creating);
    const created = await creating;
    logger.info(
      { taskId: created.id, upstreamTaskId: created.upstreamTaskId, owner },
      'task created',
    );
    return created;
  }

  /** The webhook to store with a new task, checked (BAD_USER_INPUT naming `webhook.url`). */
  async #webhookOf(options: GenerateOptions): Promise<NewWebhook | undefined> {
    const option = options.webhook;
    if (option === undefined || option === null) return undefined;
    const { webhooks, defaultOrigin } = this.#options;
    if (!webhooks) {
      throw badUserInput('webhook', [
        { path: ['url'], rule: 'format', message: 'webhooks are not available on this gateway' },
      ]);
    }
    const url = await webhooks.check(option);
    const origin = (options.origin ?? defaultOrigin?.() ?? '').replace(/\/+$/, '');
    return { url, origin, test: option.testMode?.enabled === true };
  }

  /**
   * A webhook test (the seed's `test_mode`): nothing is sent upstream or paid for; the task ends
   * at once with the status asked for (no video; "test mode" as a failure's reason, as upstream),
   * which makes its event due.
   */
  async #endTest(
    task: TaskRecord,
    status: 'TASK_STATUS_SUCCEED' | 'TASK_STATUS_FAILED' | undefined,
  ): Promise<TaskRecord> {
    const { writer, logger } = this.#options;
    const ended =
      status === 'TASK_STATUS_FAILED'
        ? await writer.fail(task.id, 'test mode')
        : ((await writer.apply(task.id, {
            taskId: task.id,
            status: 'SUCCEEDED',
            progressPercent: 100,
            etaSeconds: null,
            failureReason: null,
            videos: [],
            seed: task.input.seed,
          })) ?? task);
    logger.info({ taskId: task.id, owner: task.owner, status: ended.status }, 'webhook test task');
    return ended;
  }

  /**
   * The task's videos, with links that still work: when a SUCCEEDED task's links expire within
   * `VIDEO_REFRESH_MARGIN_MS`, the upstream is read again for fresh ones (one read however many
   * callers ask at once). Falls back to the stored links if the read fails. `force`: read again
   * whatever the expiry (a link the upstream refused).
   */
  async freshVideos(record: TaskRecord, force = false): Promise<TaskRecord['videos']> {
    const soon = Date.now() + VIDEO_REFRESH_MARGIN_MS;
    if (
      record.status !== 'SUCCEEDED' ||
      !record.upstreamTaskId ||
      (!force && !record.videos.some((video) => video.expiresAt < soon))
    ) {
      return record.videos;
    }
    let pending = this.#refreshing.get(record.id);
    if (!pending) {
      pending = this.#refresh(record).finally(() => this.#refreshing.delete(record.id));
      this.#refreshing.set(record.id, pending);
    }
    return (await pending).videos;
  }

  async #refresh(record: TaskRecord): Promise<TaskRecord> {
    const { client, writer, logger } = this.#options;
    try {
      const snapshot = await client.getTaskResult(record.upstreamTaskId as string);
      const updated = (await writer.apply(record.id, snapshot)) ?? record;
      if (updated.version !== record.version)
        logger.info({ taskId: record.id }, 'video links refreshed');
      return updated;
    } catch (error) {
      logger.warn({ err: error, taskId: record.id }, 'could not refresh expiring video links');
      return record;
    }
  }

  /**
   * Refuses new creates from now on (the gateway is shutting down), then waits for every create
   * in progress to have its upstream answer recorded, for at most `abortAfterMs`. Creates still
   * waiting then (a slow upstream, a long `Retry-After`) are aborted: one that cannot have reached
   * the upstream yet is removed, as nothing was made; one that may have stays CREATING, settled at
   * the next start and never sent again. Resolves within `abortAfterMs + graceMs`.
   */
  async close(
    options: { readonly abortAfterMs?: number; readonly graceMs?: number } = {},
  ): Promise<void> {
    this.#closing = true;
    for (const timer of this.#awaitingWebhook.values()) clearTimeout(timer);
    this.#awaitingWebhook.clear();
    const settled = (async () => {
      while (this.#creating.size > 0) await Promise.allSettled([...this.#creating.values()]);
    })();
    if (await settledWithin(settled, options.abortAfterMs ?? Number.POSITIVE_INFINITY)) return;
    this.#options.logger.warn(
      { creates: this.#creating.size, waitedMs: options.abortAfterMs },
      'shutting down: aborting the creates still waiting for the upstream',
    );
    this.#shutdown.abort(new Error('the gateway is shutting down'));
    await settledWithin(settled, options.graceMs ?? 2000);
  }

  /**
   * A webhook arrived for a task (`body` as sent, never trusted alone): check its secret, then
   * ask tracking for a confirming read. A task with no upstream id whose create is not in flight
   * here was interrupted or never confirmed: the webhook is the upstream saying it has it, and
   * the task is adopted (`#adopt`).
   */
  async webhook(taskId: string, secret: string, body?: string): Promise<boolean> {
    const record = await this.#options.store.get(taskId);
    if (!record?.webhookSecretHash || !secret) return false;
    const expected = Buffer.from(record.webhookSecretHash, 'hex');
    const given = Buffer.from(sha256(secret), 'hex');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return false;
    // May reject while tracking cannot reach Redis: the webhook then answers 5xx and the upstream
    // sends it again.
    if (record.upstreamTaskId) await this.#options.tracking.poke(record);
    // A webhook can beat the create's answer. It must not be lost: it is the only one that comes.
    else if (this.#creating.has(taskId)) this.#earlyPokes.add(taskId);
    else if (record.status === 'CREATING' || record.status === 'FAILED') {
      await this.#adopt(record, body);
    }
    return true;
  }

  /**
   * Gives a task the upstream id its webhook names, once a read of that id proves the upstream
   * has it (the secret in the webhook's URL proves which task it is about), then applies that
   * read and follows the task if it is not over. The store writes the id only if the task still
   * has none, and no other task holds it. Rejects when the read fails for a reason worth a retry
   * (the webhook then answers 5xx and the upstream sends it again).
   */
  async #adopt(record: TaskRecord, body: string | undefined): Promise<void> {
    const { client, store, writer, tracking, logger } = this.#options;
    const upstreamTaskId = upstreamTaskIdOf(body);
    if (upstreamTaskId === undefined) {
      logger.warn({ taskId: record.id }, 'a webhook for a task with no upstream id named none');
      return;
    }
    let snapshot: TaskSnapshot;
    try {
      snapshot = await client.getTaskResult(upstreamTaskId);
    } catch (error) {
      // The upstream answered that it has no such task (4xx): nothing to adopt. Anything else
      // (unreachable, 5xx, 429) rejects, so that the upstream sends the webhook again.
      const status = isUpstreamError(error) && error.kind === 'http' ? (error.status ?? 0) : 0;
      if (status < 400 || status >= 500 || status === 429) throw error;
      logger.warn(
        { err: error, taskId: record.id, upstreamTaskId },
        'a webhook named an upstream task that the upstream does not confirm: ignored',
      );
      return;
    }
    if (snapshot.taskId !== upstreamTaskId) {
      logger.warn(
        { taskId: record.id, upstreamTaskId, read: snapshot.taskId },
        'a webhook named an upstream task that the upstream does not confirm: ignored',
      );
      return;
    }
    const adopted = await store.adopt(record.id, upstreamTaskId, Date.now());
    if (!adopted) {
      // Another webhook, or the create itself, recorded an id meanwhile: follow it as usual.
      const current = await store.get(record.id);
      if (current?.upstreamTaskId) await tracking.poke(current);
      return;
    }
    this.#stopAwaitingWebhook(record.id);
    logger.info(
      { taskId: record.id, upstreamTaskId, was: record.status },
      'the upstream has this task (its webhook, confirmed by a read): adopted',
    );
    writer.publish(adopted);
    const now = (await writer.apply(record.id, snapshot)) ?? adopted;
    if (!isTerminalStatus(snapshot.status) && !isDone(now)) await tracking.track(now);
  }

  /**
   * Resumes every unfinished task. A task caught mid-create (a process died between writing it
   * and hearing back from the upstream) is never created again, which could pay twice. In
   * polling mode it cannot be checked: it ends FAILED with a reason that says so. In webhook mode
   * it waits, QUEUED to its clients, for the upstream's webhook to bring its id (`#adopt`), and
   * ends FAILED at its deadline if none comes. With a store shared by several replicas, a
   * task still CREATING may belong to a live replica's create in flight: only those older than
   * `creatingOlderThanMs` (longer than any create can take) count as interrupted.
   * At start (`atStart`), tasks in webhook mode are read once: webhooks sent while no gateway
   * ran are lost. Later calls (after Redis came back, and now and then) only make sure every
   * task is followed.
   */
  async resume(options: { creatingOlderThanMs?: number; atStart?: boolean } = {}): Promise<{
    resumed: number;
    interrupted: number;
    creating: number;
    awaitingWebhook: number;
  }> {
    const { store, tracking, writer } = this.#options;
    const creatingOlderThanMs = options.creatingOlderThanMs ?? 0;
    const now = Date.now();
    const cutoff = now - creatingOlderThanMs;
    let interrupted = 0;
    let creating = 0;
    let awaitingWebhook = 0;
    const follow: TaskRecord[] = [];
    for (const record of await store.unfinished()) {
      if (record.status !== 'CREATING') {
        follow.push(record);
      } else if (this.#creating.has(record.id) || record.updatedAt > cutoff) {
        creating++;
      } else if (record.webhookSecretHash !== null && record.deadlineAt > now) {
        // Webhook mode: if the upstream has the task, its webhook (whose URL names this task)
        // brings its id when it ends. It stays QUEUED to its clients until then.
        this.#awaitWebhook(record);
        awaitingWebhook++;
      } else {
        await writer.fail(record.id, interruptedReason(record));
        interrupted++;
      }
    }
    await tracking.resume(follow);
    if (options.atStart) {
      for (const record of follow) {
        if (record.webhookSecretHash !== null) await tracking.poke(record);
      }
    }
    return { resumed: follow.length, interrupted, creating, awaitingWebhook };
  }

  /** Ends an interrupted create FAILED at its deadline, unless its webhook adopts it first. */
  #awaitWebhook(record: TaskRecord): void {
    if (this.#closing || this.#awaitingWebhook.has(record.id)) return;
    const timer = setTimeout(
      () => {
        this.#awaitingWebhook.delete(record.id);
        void (async () => {
          const current = await this.#options.store.get(record.id);
          if (current?.status !== 'CREATING' || current.upstreamTaskId) return;
          await this.#options.writer.fail(record.id, interruptedReason(current));
        })().catch((error: unknown) =>
          this.#options.logger.warn(
            { err: error, taskId: record.id },
            'could not end an interrupted create at its deadline; the next start does',
          ),
        );
      },
      Math.max(0, record.deadlineAt - Date.now()),
    );
    timer.unref();
    this.#awaitingWebhook.set(record.id, timer);
  }

  #stopAwaitingWebhook(id: string): void {
    clearTimeout(this.#awaitingWebhook.get(id));
    this.#awaitingWebhook.delete(id);
  }

  async #replay(owner: string, key: string, inputHash: string): Promise<TaskRecord | undefined> {
    const existing = await this.#options.store.findByIdempotencyKey(owner, key);
    if (!existing) return undefined;
    if (existing.inputHash !== inputHash) {
      throw gatewayError(
        'IDEMPOTENCY_CONFLICT',
        'This idempotencyKey was already used with a different input; use a new key for a new video.',
        { idempotencyKey: key, taskId: existing.id },
      );
    }
    const pending = this.#creating.get(existing.id);
    if (pending !== undefined) return pending;
    return (await this.#options.store.get(existing.id)) ?? existing;
  }

  async #createUpstream(
    task: TaskRecord,
    input: ResolvedVideoInput,
    secret: string | null,
  ): Promise<TaskRecord> {
    const { client, writer } = this.#options;
    const webhookUrl =
      secret === null
        ? undefined
        : `${this.#options.publicUrl}/webhooks/novita/${task.id}?secret=${secret}`;
    let upstreamTaskId: string;
    try {
      upstreamTaskId = await client.createTask(
        toCreateTaskRequest(input, webhookUrl ? { webhookUrl } : {}),
        { signal: this.#shutdown.signal },
      );
    } catch (error) {
      if (this.#shutdown.signal.aborted && !(isUpstreamError(error) && error.kind !== 'aborted')) {
        // Shutdown cut the create short.
        if (isUpstreamError(error)) {
          // It may have reached the upstream: it stays CREATING for the next start to settle,
          // never sent again.
          this.#options.logger.warn(
            { taskId: task.id },
            'shutdown aborted a create that may have reached the upstream: left CREATING',
          );
          throw gatewayError(
            'UPSTREAM_UNAVAILABLE',
            `The gateway shut down while creating this task, after it may have reached the upstream; it was not sent again, and the task ${task.id} is settled when the gateway is back.`,
            { retryAfterSeconds: 5, taskId: task.id },
          );
        }
        // Aborted before it was sent (waiting out a Retry-After): nothing exists upstream.
        await this.#discard(task, 'The gateway shut down before this task reached the upstream.');
        throw gatewayError(
          'UPSTREAM_UNAVAILABLE',
          'The gateway shut down before this task reached the upstream; nothing was created. Try again in a moment.',
          { retryAfterSeconds: 5 },
        );
      }
      if (isValidationError(error)) {
        await this.#discard(task, 'The input was refused; nothing was created.');
        throw badUserInput('input', error.issues);
      }
      if (!isUpstreamError(error)) {
        await this.#discard(task, 'The task could not be created.');
        throw error;
      }
      if (createdNothing(error)) {
        await this.#discard(
          task,
          `The upstream did not create this task: ${quoteUpstream(error.message)}`,
        );
        throw upstreamFailure(error);
      }
      // The upstream may hold this task: keep it, FAILED, and never send it twice. In webhook
      // mode its webhook brings it back if it does exist (`#adopt`).
      await writer.fail(
        task.id,
        `The upstream did not confirm this task (${quoteUpstream(error.message)}); it may or may not exist, and it was not sent again so that no second video is paid for.`,
      );
      throw upstreamFailure(error, task.id);
    }
    const created = await this.#recordCreated(task.id, upstreamTaskId);
    // Tracking starts beside the answer, not before it: the client has its task without waiting
    // for a follower to be set up (or, with BullMQ, for a round trip to Redis). Should this
    // process die in between, the task is stored: the next start (or another replica's
    // reconciling) resumes it.
    setImmediate(() => void this.#startTracking(created));
    return created;
  }

  async #startTracking(created: TaskRecord): Promise<void> {
    const { tracking } = this.#options;
    try {
      if (this.#earlyPokes.delete(created.id)) await tracking.poke(created);
      else await tracking.track(created);
    } catch (error) {
      // The task is created and stored: tracking picks it up when it can (`resume`).
      this.#options.logger.warn(
        { err: error, taskId: created.id },
        'tracking could not take the task yet; it is resumed when it can',
      );
    }
  }

  /**
   * Seconds until the owner's first task in progress should end, by the upstream's ETAs (at
   * least 1; 5 when none is known): what "try again" means at the in-flight limit.
   */
  async #firstEndIn(owner: string): Promise<number> {
    try {
      const now = Date.now();
      const page = await this.#options.store.list(owner, this.#options.maxInFlightTasks * 2);
      const ends = page.tasks
        .filter((task) => !isDone(task) && task.etaSeconds !== null)
        .map((task) => shownAt(task, now).etaSeconds ?? 0);
      return ends.length === 0 ? 5 : Math.max(1, Math.min(...ends));
    } catch {
      return 5;
    }
  }

  /**
   * Writes the task before anything is paid for. A store that is busy or away (a pool with no
   * free connection, a lock held too long) refuses the request as SERVICE_UNAVAILABLE: nothing
   * was created, so the client may simply retry.
   */
  async #insert(task: NewTask): Promise<InsertResult> {
    try {
      return await this.#options.store.insert(task, {
        maxInFlight: this.#options.maxInFlightTasks,
      });
    } catch (error) {
      this.#options.logger.warn({ err: error, taskId: task.id }, 'the task store refused a task');
      throw gatewayError(
        'SERVICE_UNAVAILABLE',
        'The gateway cannot store a new task right now; nothing was created. Try again in a moment.',
        { retryAfterSeconds: 2 },
      );
    }
  }

  /**
   * Records the upstream's id of a task it has created (and that is paid for). A store that
   * fails now (busy, or away for a moment) is tried again with backoff for up to
   * `RECORD_CREATED_FOR_MS`, so that the paid task is not lost; past that it is logged as an
   * error with both ids, and the task stays CREATING for the next start to settle.
   */
  async #recordCreated(taskId: string, upstreamTaskId: string): Promise<TaskRecord> {
    const { writer, logger } = this.#options;
    const giveUpAt = Date.now() + RECORD_CREATED_FOR_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await writer.markCreated(taskId, upstreamTaskId);
      } catch (error) {
        if (Date.now() >= giveUpAt) {
          logger.error(
            { err: error, taskId, upstreamTaskId, attempts: attempt },
            'created upstream but not recorded',
          );
          throw error;
        }
        logger.warn(
          { err: error, taskId, upstreamTaskId, attempt },
          'recording the upstream id failed; trying again',
        );
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)));
      }
    }
  }

  /** Removes a task the upstream never created, ending any subscription to it with FAILED. */
  async #discard(task: TaskRecord, reason: string) {
    await this.#options.store.discard(task.id);
    this.#earlyPokes.delete(task.id);
    this.#options.writer.publish({
      ...task,
      status: 'FAILED',
      failureReason: reason,
      version: task.version + 1,
      completedAt: Date.now(),
      updatedAt: Date.now(),
    });
  }
}

/** The reason an interrupted create ends FAILED with. */
function interruptedReason(record: TaskRecord): string {
  return record.webhookSecretHash === null
    ? 'The gateway stopped while this task was being created; it was not sent again, so that no second video is paid for. Generate it again.'
    : 'The gateway stopped while this task was being created, and the upstream never reported it (no webhook came before its deadline); it was not sent again, so that no second video is paid for. Generate it again.';
}

/** Resolves `true` once `promise` settles, or `false` after `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  if (ms === Number.POSITIVE_INFINITY) {
    await promise.catch(() => {});
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true as const,
        () => true as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The upstream task id a webhook body names, if it is a readable task-result event. */
function upstreamTaskIdOf(body: string | undefined): string | undefined {
  if (body === undefined) return undefined;
  try {
    const event = parseWebhookEvent(JSON.parse(body));
    return event.type === 'ignored' ? undefined : event.result.task.task_id || undefined;
  } catch {
    return undefined;
  }
}

export const encodeCursor = (record: TaskRecord) =>
  Buffer.from(`${record.createdAt}:${record.id}`).toString('base64url');

function decodeCursor(cursor: string): { createdAt: number; id: string } | undefined {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d+):([0-9a-f-]{36})$/.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  return { createdAt: Number(match[1]), id: match[2] };
}
