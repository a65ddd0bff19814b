import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  isUpstreamError,
  isValidationError,
  type NovitaClient,
  type ResolvedVideoInput,
  safeParseVideoInput,
  toCreateTaskRequest,
  type UpstreamError,
} from '@wan-video/core';
import { badUserInput, gatewayError, notFound } from './errors.js';
import type { Limits } from './limits/types.js';
import type { Logger } from './logger.js';
import type { TaskRecord, TaskStore } from './store/types.js';
import type { TaskWriter } from './task-writer.js';
import type { Tracking } from './tracking/types.js';

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
}

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

function upstreamFailure(error: UpstreamError) {
  const details = {
    status: error.status ?? null,
    reason: error.reason ?? null,
    upstreamMessage: error.upstreamMessage ?? null,
    ...(error.retryAfterMs === undefined
      ? {}
      : { retryAfterSeconds: Math.ceil(error.retryAfterMs / 1000) }),
  };
  if (
    error.kind === 'http' &&
    error.status !== undefined &&
    error.status < 500 &&
    error.status !== 429
  ) {
    const why =
      [error.reason, error.upstreamMessage].filter(Boolean).join(': ') || `HTTP ${error.status}`;
    return gatewayError('UPSTREAM_REJECTED', `The upstream rejected the request: ${why}`, details);
  }
  return gatewayError(
    'UPSTREAM_UNAVAILABLE',
    `The upstream is not available: ${error.message}`,
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

  constructor(options: ServiceOptions) {
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

  async generate(
    owner: string,
    rawInput: unknown,
    idempotencyKey: string | null | undefined,
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
    const { store, logger } = this.#options;
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
    const inserted = await store.insert(
      {
        id: randomUUID(),
        owner,
        idempotencyKey: key,
        inputHash,
        input,
        webhookSecretHash: secret === null ? null : sha256(secret),
        createdAt: now,
        deadlineAt: now + this.#options.taskDeadlineMs,
      },
      { maxInFlight: this.#options.maxInFlightTasks },
    );
    if (inserted.outcome === 'in_flight_limit') {
      throw gatewayError(
        'RATE_LIMITED',
        `You have ${this.#options.maxInFlightTasks} videos in progress, the most at once; wait for one to finish.`,
        { retryAfterSeconds: 5, limit: 'in_flight' },
      );
    }
    if (inserted.outcome === 'exists') {
      // Another request with this key won the race: answer as a replay.
      const replay = await this.#replay(owner, key as string, inputHash);
      if (replay) return replay;
    }
    const task = inserted.task;
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

  /**
   * The task's videos, with links that still work: when a SUCCEEDED task's links expire within
   * `VIDEO_REFRESH_MARGIN_MS`, the upstream is read again for fresh ones (one read however many
   * callers ask at once). Falls back to the stored links if the read fails.
   */
  async freshVideos(record: TaskRecord): Promise<TaskRecord['videos']> {
    const soon = Date.now() + VIDEO_REFRESH_MARGIN_MS;
    if (
      record.status !== 'SUCCEEDED' ||
      !record.upstreamTaskId ||
      !record.videos.some((video) => video.expiresAt < soon)
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
   * Refuses new creates from now on (the gateway is shutting down), then resolves once every
   * create in progress has its upstream answer recorded (or has failed).
   */
  async close(): Promise<void> {
    this.#closing = true;
    while (this.#creating.size > 0) await Promise.allSettled([...this.#creating.values()]);
  }

  /** A webhook arrived for a task: check its secret, then ask tracking for a confirming read. */
  async webhook(taskId: string, secret: string): Promise<boolean> {
    const record = await this.#options.store.get(taskId);
    if (!record?.webhookSecretHash || !secret) return false;
    const expected = Buffer.from(record.webhookSecretHash, 'hex');
    const given = Buffer.from(sha256(secret), 'hex');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return false;
    // A webhook can beat the tracker: before the create's answer (no upstream id yet), or in the
    // moment after a create or a restart. It must not be lost: it is the only one that comes.
    if (!record.upstreamTaskId) this.#earlyPokes.add(taskId);
    // May reject while tracking cannot reach Redis: the webhook then answers 5xx and the upstream
    // sends it again.
    else await this.#options.tracking.poke(record);
    return true;
  }

  /**
   * Resumes every unfinished task. A task caught mid-create (a process died between writing it
   * and hearing back from the upstream) cannot be checked, and creating it again could pay
   * twice: it ends FAILED with a reason that says so. With a store shared by several replicas, a
   * task still CREATING may belong to a live replica's create in flight: only those older than
   * `creatingOlderThanMs` (longer than any create can take) count as interrupted.
   * At start (`atStart`), tasks in webhook mode are read once: webhooks sent while no gateway
   * ran are lost. Later calls (after Redis came back, and now and then) only make sure every
   * task is followed.
   */
  async resume(
    options: { creatingOlderThanMs?: number; atStart?: boolean } = {},
  ): Promise<{ resumed: number; interrupted: number; creating: number }> {
    const { store, tracking, writer } = this.#options;
    const creatingOlderThanMs = options.creatingOlderThanMs ?? 0;
    const cutoff = Date.now() - creatingOlderThanMs;
    let interrupted = 0;
    let creating = 0;
    const follow: TaskRecord[] = [];
    for (const record of await store.unfinished()) {
      if (record.status !== 'CREATING') {
        follow.push(record);
      } else if (this.#creating.has(record.id) || record.updatedAt > cutoff) {
        creating++;
      } else {
        await writer.fail(
          record.id,
          'The gateway stopped while this task was being created; it was not sent again, so that no second video is paid for. Generate it again.',
        );
        interrupted++;
      }
    }
    await tracking.resume(follow);
    if (options.atStart) {
      for (const record of follow) {
        if (record.webhookSecretHash !== null) await tracking.poke(record);
      }
    }
    return { resumed: follow.length, interrupted, creating };
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
    const { client, tracking, writer } = this.#options;
    const webhookUrl =
      secret === null
        ? undefined
        : `${this.#options.publicUrl}/webhooks/novita/${task.id}?secret=${secret}`;
    let upstreamTaskId: string;
    try {
      upstreamTaskId = await client.createTask(
        toCreateTaskRequest(input, webhookUrl ? { webhookUrl } : {}),
      );
    } catch (error) {
      if (isValidationError(error)) {
        await this.#discard(task, 'The input was refused; nothing was created.');
        throw badUserInput('input', error.issues);
      }
      if (!isUpstreamError(error)) {
        await this.#discard(task, 'The task could not be created.');
        throw error;
      }
      if (createdNothing(error)) {
        await this.#discard(task, `The upstream did not create this task: ${error.message}`);
      } else {
        // The upstream may hold this task: keep it, FAILED, and never send it twice.
        await writer.fail(
          task.id,
          `The upstream did not confirm this task (${error.message}); it may or may not exist, and it was not sent again so that no second video is paid for.`,
        );
      }
      throw upstreamFailure(error);
    }
    let created: TaskRecord;
    try {
      created = await writer.markCreated(task.id, upstreamTaskId);
    } catch (error) {
      // The upstream has this (paid) task but the store would not take it: say so loudly.
      this.#options.logger.error(
        { err: error, taskId: task.id, upstreamTaskId },
        'created upstream but not recorded',
      );
      throw error;
    }
    try {
      if (this.#earlyPokes.delete(task.id)) await tracking.poke(created);
      else await tracking.track(created);
    } catch (error) {
      // The task is created and stored: tracking picks it up when it can (`resume`), and the
      // client gets its task now rather than an error for a video it has paid for.
      this.#options.logger.warn(
        { err: error, taskId: task.id },
        'tracking could not take the task yet; it is resumed when it can',
      );
    }
    return created;
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

export const encodeCursor = (record: TaskRecord) =>
  Buffer.from(`${record.createdAt}:${record.id}`).toString('base64url');

function decodeCursor(cursor: string): { createdAt: number; id: string } | undefined {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const match = /^(\d+):([0-9a-f-]{36})$/.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  return { createdAt: Number(match[1]), id: match[2] };
}
