import type { TaskRecord } from '../store/types.js';

/** A change of one task, as some replica's tracker or service saw it. */
export interface TaskEvent {
  readonly record: TaskRecord;
  /**
   * When the change was recorded, in wall-clock milliseconds (`preciseNow()`), comparable across
   * processes on one machine; `-1` for a snapshot read on subscribe rather than pushed.
   */
  readonly observedAt: number;
}

/** The events of one task, buffered until read; `close` ends the iteration and unsubscribes. */
export interface TaskEventStream extends AsyncIterableIterator<TaskEvent> {
  close(): void;
}

/**
 * Fan-out of task changes to every subscriber of that task, on every replica. A subscription is
 * registered the moment `subscribe` returns, so a subscriber that reads the current state right
 * after cannot miss a change in between.
 */
export interface TaskEvents {
  /** Sends a change to the task's subscribers (on every replica, in Redis mode). */
  publish(event: TaskEvent): void;
  subscribe(taskId: string): TaskEventStream;
  /** How many subscribers a task has in this process now. */
  count(taskId: string): number;
  /**
   * `true` while changes can be delivered; otherwise why not (Redis unreachable). A replica that
   * cannot deliver refuses new subscriptions rather than pushing nothing.
   */
  ready(): true | string;
  close(): Promise<void>;
}
