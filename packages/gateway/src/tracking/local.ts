import {
  isPollDeadlineError,
  isUpstreamError,
  type PollPolicy,
  pollTask,
  type TaskReader,
  type TaskSnapshot,
} from '@wan-video/core';
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

export interface LocalTrackingOptions {
  readonly store: TaskStore;
  readonly writer: TaskWriter;
  readonly reader: TaskReader;
  readonly logger: Logger;
  /** How the poller paces its reads (core's defaults otherwise). */
  readonly pollPolicy?: Omit<
    PollPolicy,
    'signal' | 'deadline' | 'initial' | 'initialIsFresh' | 'onError'
  >;
  /**
   * In webhook mode, how long to wait for the webhook before polling anyway.
   * @default 120000
   */
  readonly webhookFallbackMs?: number;
}

/** The state of following one task. A webhook "pokes" it: it reads at once. */
class Follow {
  readonly controller = new AbortController();
  done: Promise<void> = Promise.resolve();
  #poked = false;
  #wake: (() => void) | undefined;
  #run: AbortController | undefined;

  poke(): void {
    if (this.#run) {
      this.#run.abort(new Error('webhook'));
      return;
    }
    this.#poked = true;
    this.#wake?.();
  }

  /** Waits for a poke, `ms`, or the end of tracking, whichever comes first. */
  waitForPoke(ms: number): Promise<'poke' | 'timeout' | 'abort'> {
    const signal = this.controller.signal;
    return new Promise((resolve) => {
      if (this.#poked || signal.aborted) {
        this.#poked = false;
        resolve(signal.aborted ? 'abort' : 'poke');
        return;
      }
      const finish = (why: 'poke' | 'timeout' | 'abort') => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#wake = undefined;
        this.#poked = false;
        resolve(why);
      };
      const timer = setTimeout(() => finish('timeout'), ms);
      const onAbort = () => finish('abort');
      signal.addEventListener('abort', onAbort, { once: true });
      this.#wake = () => finish('poke');
    });
  }

  /** A signal for one poll run: aborted when tracking ends or a webhook arrives. */
  startRun(): AbortController {
    const run = new AbortController();
    const signal = this.controller.signal;
    if (signal.aborted) run.abort(signal.reason);
    else
      signal.addEventListener('abort', () => run.abort(signal.reason), {
        once: true,
        signal: run.signal,
      });
    this.#run = run;
    if (this.#poked) {
      this.#poked = false;
      run.abort(new Error('webhook'));
    }
    return run;
  }

  endRun(): void {
    this.#run = undefined;
  }
}

/**
 * Follows every unfinished upstream task to its end in this process, exactly one follower per
 * task however many clients watch it, and whether anyone watches or not: the embedded default.
 * Polling by default; in webhook mode it waits for the webhook (a hint only: it triggers a
 * confirming read) and polls as a fallback. Each change goes through the `TaskWriter`.
 */
export class LocalTracking implements Tracking {
  readonly #options: LocalTrackingOptions;
  readonly #follows = new Map<string, Follow>();
  #stopped = false;

  constructor(options: LocalTrackingOptions) {
    this.#options = options;
  }

  /** How many tasks are being followed now. */
  get size(): number {
    return this.#follows.size;
  }

  isTracking(taskId: string): boolean {
    return this.#follows.has(taskId);
  }

  async start(): Promise<void> {}

  async resume(records: readonly TaskRecord[]): Promise<void> {
    for (const record of records) this.#start(record, false);
  }

  async ready(): Promise<true> {
    return true;
  }

  /** `record` was just written (a create, a read): its first read waits an interval. */
  async track(record: TaskRecord): Promise<void> {
    this.#start(record, true);
  }

  #start(record: TaskRecord, fresh: boolean): void {
    if (this.#stopped || this.#follows.has(record.id) || isDone(record) || !record.upstreamTaskId)
      return;
    const follow = new Follow();
    this.#follows.set(record.id, follow);
    follow.done = this.#follow(record, follow, fresh)
      .catch((error: unknown) => {
        this.#options.logger.error({ err: error, taskId: record.id }, 'task tracker failed');
      })
      .finally(() => this.#follows.delete(record.id));
  }

  async poke(record: TaskRecord): Promise<void> {
    if (!this.#follows.has(record.id)) await this.track(record);
    this.#follows.get(record.id)?.poke();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const all = [...this.#follows.values()];
    for (const follow of all) follow.controller.abort();
    await Promise.all(all.map((follow) => follow.done));
  }

  async #follow(start: TaskRecord, follow: Follow, fresh: boolean): Promise<void> {
    const { store, writer, reader, logger } = this.#options;
    const upstreamId = start.upstreamTaskId as string;
    const signal = follow.controller.signal;
    let record = start;

    const apply = async (snapshot: TaskSnapshot) => {
      record = (await writer.apply(record.id, snapshot, record)) ?? record;
    };

    // Webhook mode: wait for the webhook; each one triggers a confirming read, never trusted alone.
    if (record.webhookSecretHash !== null) {
      const fallbackAt = Date.now() + (this.#options.webhookFallbackMs ?? 120_000);
      for (;;) {
        const left = Math.min(fallbackAt, record.deadlineAt) - Date.now();
        if (left <= 0) break;
        const why = await follow.waitForPoke(left);
        if (why === 'abort') return;
        if (why === 'timeout') break;
        try {
          await apply(await reader.getTaskResult(upstreamId, { signal }));
        } catch (error) {
          if (signal.aborted) return;
          logger.warn({ err: error, taskId: record.id }, 'confirming read after a webhook failed');
          // The webhook was acknowledged and will not come again: poll from now on.
          break;
        }
        if (isDone(record)) return;
      }
      logger.info({ taskId: record.id }, 'no webhook yet: polling as a fallback');
      fresh = false;
    }

    // Polling (or the webhook fallback): a webhook during it restarts the poll with a read at once.
    let failures = 0;
    let lastError: string | undefined;
    /** TASK_NOT_FOUND answers in a row, and when the first of them came. */
    let notFound = { reads: 0, since: 0 };
    for (;;) {
      const run = follow.startRun();
      try {
        const poll = pollTask(reader, upstreamId, {
          ...this.#options.pollPolicy,
          initial: snapshotOf(record),
          // Only the first run after a create or a read: a webhook's run reads at once.
          initialIsFresh: fresh,
          deadline: record.deadlineAt,
          signal: run.signal,
          onError: (error) =>
            logger.warn({ err: error, taskId: record.id }, 'upstream read failed; polling goes on'),
        });
        fresh = false;
        for await (const snapshot of poll) await apply(snapshot);
        return;
      } catch (error) {
        if (signal.aborted) return;
        if (run.signal.aborted) continue; // a webhook: read again at once
        if (isPollDeadlineError(error)) {
          record = await writer.fail(record.id, deadlineReason(record, lastError));
          return;
        }
        if (isTaskNotFound(error)) {
          notFound = { reads: notFound.reads + 1, since: notFound.since || Date.now() };
          if (notFoundConfirmed(notFound.reads, notFound.since, Date.now())) {
            logger.warn({ taskId: record.id, reads: notFound.reads }, 'the upstream lost the task');
            record = await writer.fail(record.id, NOT_FOUND_REASON);
            return;
          }
        } else {
          notFound = { reads: 0, since: 0 };
        }
        // A refused read (a key being rotated, a task not yet visible) or a store hiccup is not
        // the end of a paid task: back off and poll again, until the deadline decides.
        failures++;
        lastError = error instanceof Error ? error.message : String(error);
        const level = isUpstreamError(error) ? 'warn' : 'error';
        logger[level](
          { err: error, taskId: record.id, failures },
          'reading the task failed; trying again',
        );
        const wait = Math.min(60_000, 2000 * 2 ** Math.min(failures - 1, 5));
        if (
          (await follow.waitForPoke(
            Math.min(wait, Math.max(0, record.deadlineAt - Date.now())),
          )) === 'abort'
        )
          return;
        record = (await store.get(record.id)) ?? record;
      } finally {
        follow.endRun();
      }
    }
  }
}
