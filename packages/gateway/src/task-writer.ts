import { isTerminalStatus, reduceTask, type TaskSnapshot } from '@wan-video/core';
import type { TaskEvents } from './events/types.js';
import type { Logger } from './logger.js';
import type { TaskRecord, TaskStore } from './store/types.js';
import { preciseNow, publicStatus, quoteUpstream, snapshotOf } from './task.js';

/** Writes racing on one task before one gives up (each retry reads the task again). */
const MAX_CONFLICTS = 20;

/**
 * Every change to a task goes through here: reduced against what is stored, written, then
 * published to its subscribers. Safe with several writers (replicas, a link refresh beside a
 * tracker): a write is conditional on the version it was reduced from.
 */
export class TaskWriter {
  readonly #store: TaskStore;
  readonly #events: TaskEvents;
  readonly #logger: Logger;
  readonly #finished: ((record: TaskRecord) => void)[] = [];

  constructor(options: { store: TaskStore; events: TaskEvents; logger: Logger }) {
    this.#store = options.store;
    this.#events = options.events;
    this.#logger = options.logger;
  }

  /**
   * Applies an upstream snapshot: returns the task as it is afterwards (changed or not), or
   * `undefined` when the task is gone. `known` is the task as the caller last saw it (a tracker
   * keeps it): the first try reduces against it without reading the store, and the write, being
   * conditional on its version, finds out if it was stale; then the store is read and it tries
   * again. A stale `known` that makes the snapshot look unchanged is harmless: the stored task
   * is newer still, and states only move forward.
   */
  async apply(
    id: string,
    snapshot: TaskSnapshot,
    known?: TaskRecord,
  ): Promise<TaskRecord | undefined> {
    // The upstream's reason for a failed task is its text, shown as ours: one line, cut short.
    if (snapshot.failureReason !== null) {
      snapshot = { ...snapshot, failureReason: quoteUpstream(snapshot.failureReason) };
    }
    let guess = known?.id === id ? known : undefined;
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const current = guess ?? (await this.#store.get(id));
      guess = undefined;
      if (!current) return undefined;
      const reduction = reduceTask(snapshotOf(current), snapshot);
      if (reduction.outcome !== 'changed') return current;
      const updated = await this.#store.applySnapshot(
        id,
        reduction.snapshot,
        Date.now(),
        current.version,
      );
      if (updated) {
        this.publish(updated);
        return updated;
      }
    }
    throw new Error(`task ${id} kept changing under ${MAX_CONFLICTS} writes in a row`);
  }

  async markCreated(id: string, upstreamTaskId: string): Promise<TaskRecord> {
    const record = await this.#store.markCreated(id, upstreamTaskId, Date.now());
    this.publish(record);
    return record;
  }

  /** Ends a task FAILED (unless it already ended) and tells its subscribers. */
  async fail(id: string, reason: string): Promise<TaskRecord> {
    const record = await this.#store.fail(id, reason, Date.now());
    this.publish(record);
    return record;
  }

  /** Calls `listener` with each task this writer sees reach SUCCEEDED or FAILED. */
  onFinished(listener: (record: TaskRecord) => void): void {
    this.#finished.push(listener);
  }

  /**
   * Sends the task as stored to its subscribers again, as no change (no log line, no listener):
   * for a state some writer stored and may not have published (it died in between).
   * Subscribers drop a version they already have.
   */
  announce(record: TaskRecord): void {
    this.#events.publish({ record, observedAt: -1 });
  }

  publish(record: TaskRecord): void {
    this.#events.publish({ record, observedAt: preciseNow() });
    if (isTerminalStatus(publicStatus(record))) {
      this.#logger.info({ taskId: record.id, status: record.status }, 'task finished');
      for (const listener of this.#finished) listener(record);
    }
  }
}
