import {
  DEFAULT_POLL_POLICY,
  isUpstreamError,
  nextPollDelay,
  type PollPolicy,
  type TaskReader,
} from '@wan-video/core';
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { TaskRecord, TaskStore } from '../store/types.js';
import {
  deadlineReason,
  isDone,
  isTaskNotFound,
  NOT_FOUND_REASON,
  notFoundConfirmed,
  snapshotOf,
} from '../task.js';
import type { TaskWriter } from '../task-writer.js';
import type { Tracking } from './types.js';

/** The queue every replica shares; one job per task, its id the task's id. */
const QUEUE_NAME = 'track';
const JOB_NAME = 'read';
/** How long a poke flag outlives the run it was meant for (a stale one only costs one read). */
const POKE_TTL_MS = 60 * 60 * 1000;
/** The longest backoff after reads that failed for a reason other than a transient one. */
const MAX_FAILURE_BACKOFF_MS = 60_000;

type PacingOptions = Pick<
  PollPolicy,
  | 'minIntervalMs'
  | 'maxIntervalMs'
  | 'idleIntervalMs'
  | 'etaFraction'
  | 'queuedMaxIntervalMs'
  | 'jitter'
  | 'deadlineGraceMs'
>;

export interface BullMqTrackingOptions {
  readonly redis: {
    /** `redis://[user:password@]host:port[/db]`; `rediss://` for TLS. */
    readonly url: string;
    /** BullMQ's key prefix: every key this tracking writes starts with it. */
    readonly prefix: string;
  };
  readonly store: TaskStore;
  readonly writer: TaskWriter;
  readonly reader: TaskReader;
  readonly logger: Logger;
  /** How reads are paced (core's `DEFAULT_POLL_POLICY` otherwise). */
  readonly pollPolicy?: PacingOptions;
  /**
   * In webhook mode, how long after its creation a task waits for its webhook before it is
   * polled anyway.
   * @default 120000
   */
  readonly webhookFallbackMs?: number;
  /**
   * How long a worker's claim on a job lasts without being renewed (it is renewed every half of
   * it while the read runs). A replica that dies loses its jobs to the others after about this
   * plus `stalledIntervalMs`.
   * @default 15000
   */
  readonly lockDurationMs?: number;
  /**
   * How often each worker looks for jobs whose replica died.
   * @default a third of `lockDurationMs`
   */
  readonly stalledIntervalMs?: number;
  /**
   * Jobs (tasks being read) one replica runs at once.
   * @default 50
   */
  readonly concurrency?: number;
  /**
   * How long one upstream read may take, the client's own retries included.
   * @default two thirds of `lockDurationMs`
   */
  readonly readTimeoutMs?: number;
  /**
   * Told each time the connection to Redis is back after a loss: a Redis restarted without its
   * data lost the queue's jobs, and the gateway hands every unfinished task back (`resume`).
   */
  readonly onReconnect?: () => void;
  /**
   * How long `stop()` lets running reads finish before it aborts them (their jobs go back to
   * the queue, due at once, for another replica).
   * @default 5000
   */
  readonly stopTimeoutMs?: number;
  /** The random draw of the poll jitter. @default Math.random */
  readonly random?: () => number;
}

/**
 * What a job carries besides the task id: how its reads are paced. The task itself is in the
 * store, and each run reads it from there.
 */
export interface TrackJobData {
  readonly taskId: string;
  /** Webhook mode: when to poll anyway if no webhook came; `null` once polling. */
  readonly fallbackAt: number | null;
  /** Reads in a row that changed nothing. */
  readonly unchangedReads: number;
  /** Failed reads in a row. */
  readonly failedReads: number;
  /** Progress points per second between the last two readings that moved it. */
  readonly progressPerSecond: number | null;
  readonly lastMove: { readonly at: number; readonly progress: number } | null;
  /** Why the last read failed, for the deadline's reason; `null` after a read that worked. */
  readonly lastError: string | null;
  /** TASK_NOT_FOUND answers in a row (absent in jobs queued before it was counted)… */
  readonly notFoundReads?: number;
  /** …and when the first of them came. */
  readonly notFoundSince?: number;
}

/** The outcome of one read: the task ended (or is gone), or when to read it again. */
type Step =
  | { readonly kind: 'finished' }
  | { readonly kind: 'stopped' }
  | {
      readonly kind: 'again';
      readonly data: TrackJobData;
      readonly delay: number;
      readonly ok: boolean;
    };

/**
 * Tracking for several replicas sharing Redis: each unfinished task is ONE BullMQ job whose id
 * is the task's id, so however many replicas, a task has one follower and at most one upstream
 * read in flight (a job is active on one worker at a time).
 *
 * A run of the job reads the task once, applies the read through the `TaskWriter`, and, unless
 * the task ended, moves the same job back to the delayed set with the wait core's poll policy
 * gives (BullMQ's step-job pattern). A replica that dies mid-read loses its claim when its lock
 * expires; another replica's stalled-job checker puts the job back and it runs again there.
 *
 * Webhook mode: the first run is delayed until the webhook fallback; `poke` (a verified webhook
 * on any replica) promotes the delayed job so it runs at once, or, if the job is running right
 * now, leaves a flag the run checks after its read, so the read that follows the webhook is
 * never skipped.
 *
 * Jobs live in Redis: a restart needs nothing. A Redis that lost its data (flushed, restarted
 * without persistence) lost the jobs too: `resume` re-adds them from the store.
 *
 * What keeps a task from being lost or read twice at once:
 * - A run never throws except to reschedule (`DelayedError`): read failures and store errors
 *   back off (exponential, capped at a minute) and only the deadline ends a task.
 * - `maxStalledCount` is set so high that replicas dying never make BullMQ fail a job. Should
 *   BullMQ fail one anyway (a Redis error at the moment of rescheduling), the `failed` handler
 *   logs it and adds the job again (jobs are removed when they fail, so the id is free).
 * - A run whose lock could not be renewed has its read aborted: the job may be another's.
 * - Finished jobs are removed, so a task id can never be blocked by an old job.
 * - Caveat: a job promoted the instant its run rescheduled it may start again on the same worker
 *   before the old run has returned; BullMQ then stops renewing the new run's lock. That only
 *   matters for a run longer than `lockDurationMs`, so keep `readTimeoutMs` well below it.
 */
export class BullMqTracking implements Tracking {
  readonly #options: BullMqTrackingOptions;
  readonly #policy: Required<PacingOptions>;
  readonly #fallbackMs: number;
  readonly #readTimeoutMs: number;
  readonly #random: () => number;
  /** Ours: the queue's and the worker's commands, the poke flags and `ready`. */
  readonly #redis: Redis;
  readonly #queue: Queue<TrackJobData>;
  readonly #redisLabel: string;
  #redisError: string | undefined;
  #worker: Worker<TrackJobData> | undefined;
  #stopped = false;
  /** Runs in this process now. */
  #running = 0;

  constructor(options: BullMqTrackingOptions) {
    this.#options = options;
    this.#policy = { ...DEFAULT_POLL_POLICY, ...stripUndefined(options.pollPolicy ?? {}) };
    this.#fallbackMs = options.webhookFallbackMs ?? 120_000;
    this.#readTimeoutMs =
      options.readTimeoutMs ?? Math.round(((options.lockDurationMs ?? 15_000) * 2) / 3);
    this.#random = options.random ?? Math.random;
    this.#redisLabel = describeRedis(options.redis.url);
    // BullMQ's ESM build cannot load ioredis by itself: it is handed a client, which must not
    // give up on a command while Redis is away (`maxRetriesPerRequest: null`).
    this.#redis = new Redis(options.redis.url, { maxRetriesPerRequest: null });
    this.#redis.on('error', (error: Error & { code?: string }) => {
      this.#redisError = error.code ?? error.name;
    });
    let lost = false;
    this.#redis.on('close', () => {
      lost = true;
    });
    this.#redis.on('ready', () => {
      this.#redisError = undefined;
      if (lost) {
        lost = false;
        options.onReconnect?.();
      }
    });
    this.#queue = new Queue<TrackJobData>(QUEUE_NAME, {
      connection: this.#redis,
      prefix: options.redis.prefix,
    });
    this.#queue.on('error', this.#onError('tracking queue'));
  }

  /** Jobs (tasks) this process is reading now. */
  get size(): number {
    return this.#running;
  }

  /**
   * Adds the task's job unless it has one (the job id dedupes: adding an existing id is a
   * no-op in BullMQ). In polling mode the first read waits one poll interval (the create just
   * answered QUEUED); in webhook mode it waits for the webhook fallback.
   */
  async track(record: TaskRecord): Promise<void> {
    if (isDone(record) || record.upstreamTaskId === null) return;
    this.#assertReachable();
    const data = this.#initialData(record);
    const now = Date.now();
    const delay =
      data.fallbackAt !== null
        ? data.fallbackAt - now
        : nextPollDelay(
            {
              snapshot: snapshotOf(record),
              progressPerSecond: null,
              unchangedReads: 0,
              failedReads: 0,
            },
            this.#policy,
            this.#random,
          );
    await this.#add(data, Math.min(delay, record.deadlineAt - now));
  }

  /**
   * A verified webhook for this task landed on this replica: the task is read as soon as
   * possible on whichever replica. A delayed job is promoted; a running one finds the flag after
   * its read and reads again at once; a missing one is added, due now.
   */
  async poke(record: TaskRecord): Promise<void> {
    if (isDone(record) || record.upstreamTaskId === null) return;
    this.#assertReachable();
    // The flag first: a run that is past its read now sees it (or has already moved the job to
    // the delayed set, where the promotion below finds it).
    await this.#redis.set(this.#pokeKey(record.id), '1', 'PX', POKE_TTL_MS);
    const job = await this.#queue.getJob(record.id);
    if (!job) {
      await this.#add(this.#initialData(record), 0);
      return;
    }
    await job.promote().catch(() => {
      // Not delayed: waiting (it runs soon) or active (it will see the flag).
    });
  }

  /**
   * Re-adds the job of every unfinished task that has an upstream id (idempotent: existing jobs
   * are left as they are). Call it at start and whenever Redis comes back, since a Redis that
   * lost its data lost the jobs with it. A CREATING task has no upstream id to read: the service
   * settles those.
   */
  async resume(records: readonly TaskRecord[]): Promise<void> {
    for (const record of records) await this.track(record);
  }

  /** Starts this replica's worker; jobs due now run at once, on this or any replica. */
  async start(): Promise<void> {
    if (this.#worker || this.#stopped) return;
    const options = this.#options;
    const worker = new Worker<TrackJobData>(
      QUEUE_NAME,
      (job, token, signal) => this.#run(job, token, signal),
      {
        connection: this.#redis,
        prefix: options.redis.prefix,
        concurrency: options.concurrency ?? 50,
        lockDuration: options.lockDurationMs ?? 15_000,
        stalledInterval:
          options.stalledIntervalMs ?? Math.round((options.lockDurationMs ?? 15_000) / 3),
        // A job stalls each time a replica dies while reading it; that must never fail a task.
        maxStalledCount: 1_000_000,
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 0 },
      },
    );
    worker.on('error', this.#onError('tracking worker'));
    worker.on('stalled', (taskId) => {
      options.logger.warn({ taskId }, 'a replica stopped reading this task: another takes it over');
    });
    // A run whose lock could not be renewed may already be another replica's: stop its read.
    worker.on('lockRenewalFailed', (ids) => {
      for (const id of ids) worker.cancelJob(id, 'lock lost');
    });
    // Runs never throw on purpose, so this is Redis trouble at the worst moment: put it back.
    worker.on('failed', (job, error) => {
      if (!job) {
        options.logger.error({ err: error }, 'a tracking job failed; resume() re-adds its task');
        return;
      }
      options.logger.error({ err: error, taskId: job.data.taskId }, 'a tracking job failed');
      if (this.#stopped) return;
      const data = { ...job.data, failedReads: (job.data.failedReads ?? 0) + 1 };
      this.#add(data, this.#failureDelay(data.failedReads)).catch((addError: unknown) => {
        options.logger.error(
          { err: addError, taskId: data.taskId },
          'could not re-add a failed tracking job; resume() will',
        );
      });
    });
    this.#worker = worker;
  }

  /**
   * Stops this replica's worker, changing no task: delayed jobs stay in Redis for the other
   * replicas (or this one's next start). Running reads get `stopTimeoutMs` to finish, then are
   * aborted and their jobs handed back, due at once.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const worker = this.#worker;
    this.#worker = undefined;
    if (worker) {
      const closed = worker.close().then(
        () => true,
        (error: unknown) => {
          this.#options.logger.warn({ err: error }, 'closing the tracking worker failed');
          return true;
        },
      );
      const within = (ms: number) =>
        Promise.race([
          closed,
          new Promise<false>((resolve) => setTimeout(resolve, ms, false).unref()),
        ]);
      // `close` waits for the running reads (and returns at once when there are none); with
      // Redis away, no run could finish anyway.
      const grace = this.#redis.status === 'ready' ? (this.#options.stopTimeoutMs ?? 5000) : 500;
      if (!(await within(grace))) {
        let closedNow = false;
        if (this.#running > 0) {
          this.#options.logger.warn({ running: this.#running }, 'aborting reads to stop tracking');
          worker.cancelAllJobs('the tracking is stopping');
          closedNow = await within(2000);
        }
        if (!closedNow) {
          // Redis is away: BullMQ would wait for it forever.
          this.#redis.disconnect();
          await within(1000);
        }
      }
    }
    await this.#queue.close().catch(() => {});
    if (this.#redis.status !== 'end') {
      await Promise.race([
        this.#redis.quit().catch(() => {}),
        new Promise((resolve) => setTimeout(resolve, 1000).unref()),
      ]);
      this.#redis.disconnect();
    }
  }

  /** `true` while Redis answers; otherwise why not (the URL's credentials left out). */
  async ready(): Promise<true | string> {
    if (this.#stopped) return 'tracking is stopped';
    const down = `Redis at ${this.#redisLabel} is unreachable`;
    if (this.#redis.status !== 'ready')
      return `${down} (${this.#redisError ?? this.#redis.status})`;
    try {
      await Promise.race([
        this.#redis.ping(),
        new Promise((_, reject) => setTimeout(reject, 1000, new Error('timeout')).unref()),
      ]);
      return true;
    } catch {
      return `${down} (no answer to PING within 1 s)`;
    }
  }

  /**
   * Refuses at once while Redis is away, rather than queueing the command until it is back: the
   * caller (a create, a webhook answered 5xx so that the upstream sends it again) decides, and
   * `resume` catches up.
   */
  #assertReachable(): void {
    if (this.#stopped) throw new Error('tracking is stopped');
    // Still connecting for the first time is fine: the command waits for that.
    if (['reconnecting', 'close', 'end'].includes(this.#redis.status)) {
      throw new Error(
        `Redis at ${this.#redisLabel} is unreachable: the task cannot be tracked now`,
      );
    }
  }

  #initialData(record: TaskRecord): TrackJobData {
    return {
      taskId: record.id,
      fallbackAt: record.webhookSecretHash !== null ? record.createdAt + this.#fallbackMs : null,
      unchangedReads: 0,
      failedReads: 0,
      progressPerSecond: null,
      lastMove: null,
      lastError: null,
    };
  }

  async #add(data: TrackJobData, delay: number): Promise<void> {
    await this.#queue.add(JOB_NAME, data, {
      jobId: data.taskId,
      delay: Math.max(0, Math.round(delay)),
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  #pokeKey(taskId: string): string {
    return `${this.#options.redis.prefix}:${QUEUE_NAME}-poke:${taskId}`;
  }

  /** One run of a task's job: a read (more only if poked meanwhile), then back to the delayed set. */
  async #run(
    job: Job<TrackJobData>,
    token: string | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    const taskId = job.data.taskId;
    const abort = signal ?? new AbortController().signal;
    this.#running++;
    try {
      let data: TrackJobData = job.data;
      for (;;) {
        // Pokes so far are answered by the read below.
        await this.#redis.del(this.#pokeKey(taskId));
        const step = await this.#step(data, abort);
        if (step.kind === 'finished') return;
        if (step.kind === 'stopped') {
          // Handed back untouched, due now, for another replica.
          await job.moveToDelayed(Date.now(), token);
          throw new DelayedError();
        }
        data = step.data;
        // A webhook during the read: its news may be newer than what was read.
        if (step.ok && (await this.#redis.del(this.#pokeKey(taskId))) > 0) continue;
        await job.updateData(data);
        await job.moveToDelayed(Date.now() + step.delay, token);
        // A poke between the check above and the move found the job active: promote it here.
        if ((await this.#redis.exists(this.#pokeKey(taskId))) > 0) {
          await job.promote().catch(() => {});
        }
        throw new DelayedError();
      }
    } finally {
      this.#running--;
    }
  }

  /** Reads the task once and applies the answer; never throws. */
  async #step(data: TrackJobData, signal: AbortSignal): Promise<Step> {
    const { store, writer, reader, logger } = this.#options;
    const taskId = data.taskId;
    let record: TaskRecord | undefined;
    try {
      record = await store.get(taskId);
      if (!record) return { kind: 'finished' };
      if (isDone(record)) {
        // The job outlived the task's end: the run that stored it stopped (its replica died)
        // before finishing the job, perhaps before telling the subscribers. Tell them now.
        writer.announce(record);
        return { kind: 'finished' };
      }
      if (record.upstreamTaskId === null) {
        logger.warn({ taskId }, 'a tracking job for a task with no upstream id: dropped');
        return { kind: 'finished' };
      }
      let snapshot: Awaited<ReturnType<TaskReader['getTaskResult']>>;
      try {
        snapshot = await reader.getTaskResult(record.upstreamTaskId, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.#readTimeoutMs)]),
        });
      } catch (error) {
        if (signal.aborted) return { kind: 'stopped' };
        return await this.#failed(record, data, error);
      }
      const now = Date.now();
      const after = await writer.apply(taskId, snapshot);
      if (!after || isDone(after)) return { kind: 'finished' };
      if (now >= after.deadlineAt) {
        await writer.fail(taskId, deadlineReason(after));
        return { kind: 'finished' };
      }
      const next = this.#paced(
        { ...data, notFoundReads: 0, notFoundSince: 0 },
        after,
        after.version !== record.version,
        now,
      );
      const wait =
        next.fallbackAt !== null && now < next.fallbackAt
          ? next.fallbackAt - now
          : nextPollDelay(
              {
                snapshot: snapshotOf(after),
                progressPerSecond: next.progressPerSecond,
                unchangedReads: next.unchangedReads,
                failedReads: 0,
              },
              this.#policy,
              this.#random,
            );
      return { kind: 'again', data: next, delay: Math.min(wait, after.deadlineAt - now), ok: true };
    } catch (error) {
      // The store (or the writer) failed: not the end of a paid task either.
      logger.error({ err: error, taskId }, 'tracking a task failed; trying again');
      const failedReads = data.failedReads + 1;
      return {
        kind: 'again',
        data: { ...data, failedReads },
        delay: this.#failureDelay(failedReads),
        ok: false,
      };
    }
  }

  /** A read failed: back off, and poll from now on; past the deadline the task ends FAILED. */
  async #failed(record: TaskRecord, data: TrackJobData, error: unknown): Promise<Step> {
    const lastError = error instanceof Error ? error.message : String(error);
    if (Date.now() >= record.deadlineAt) {
      await this.#options.writer.fail(record.id, deadlineReason(record, lastError));
      return { kind: 'finished' };
    }
    const notFound = isTaskNotFound(error);
    const notFoundReads = notFound ? (data.notFoundReads ?? 0) + 1 : 0;
    const notFoundSince = notFound ? data.notFoundSince || Date.now() : 0;
    if (notFoundConfirmed(notFoundReads, notFoundSince, Date.now())) {
      this.#options.logger.warn(
        { taskId: record.id, reads: notFoundReads },
        'the upstream lost the task',
      );
      await this.#options.writer.fail(record.id, NOT_FOUND_REASON);
      return { kind: 'finished' };
    }
    const failedReads = data.failedReads + 1;
    this.#options.logger.warn(
      { err: error, taskId: record.id, failedReads },
      'reading the task failed; trying again',
    );
    const retryable = isUpstreamError(error) && error.retryable;
    const delay = retryable
      ? Math.max(
          nextPollDelay(
            {
              snapshot: snapshotOf(record),
              progressPerSecond: null,
              unchangedReads: data.unchangedReads,
              failedReads,
            },
            this.#policy,
            this.#random,
          ),
          error.retryAfterMs ?? 0,
        )
      : this.#failureDelay(failedReads);
    return {
      kind: 'again',
      // A webhook whose confirming read failed will not come again: poll from now on.
      data: { ...data, fallbackAt: null, failedReads, lastError, notFoundReads, notFoundSince },
      delay: Math.min(delay, Math.max(0, record.deadlineAt - Date.now())),
      ok: false,
    };
  }

  /** The pacing state after a read that worked (as core's `pollTask` keeps it). */
  #paced(data: TrackJobData, after: TaskRecord, changed: boolean, at: number): TrackJobData {
    if (!changed) {
      // A rate measured before the task stalled says nothing now: let the idle backoff work.
      return {
        ...data,
        unchangedReads: data.unchangedReads + 1,
        failedReads: 0,
        progressPerSecond: null,
        lastError: null,
      };
    }
    const progress = after.progressPercent;
    const last = data.lastMove;
    const moved = !last || progress > last.progress;
    return {
      ...data,
      unchangedReads: 0,
      failedReads: 0,
      lastError: null,
      progressPerSecond:
        last && progress > last.progress && at > last.at
          ? ((progress - last.progress) * 1000) / (at - last.at)
          : data.progressPerSecond,
      lastMove: moved ? { at, progress } : last,
    };
  }

  /** Exponential from the idle interval, capped at a minute. */
  #failureDelay(failedReads: number): number {
    const exponent = Math.min(Math.max(failedReads - 1, 0), 10);
    return Math.min(MAX_FAILURE_BACKOFF_MS, this.#policy.idleIntervalMs * 2 ** exponent);
  }

  #onError(source: string) {
    let lastLoggedAt = 0;
    return (error: Error) => {
      // Redis being away makes BullMQ report the same failure every second or so.
      if (Date.now() - lastLoggedAt < 10_000) return;
      lastLoggedAt = Date.now();
      this.#options.logger.warn({ err: error }, `${source}: ${error.message}`);
    };
  }
}

/** `host:port/db` of a Redis URL: never its credentials. */
function describeRedis(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port || '6379'}${parsed.pathname.length > 1 ? parsed.pathname : ''}`;
  } catch {
    return 'the configured URL';
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, item]) => item !== undefined),
  ) as Partial<T>;
}
