import type { TaskRecord } from '../store/types.js';

/**
 * Following upstream tasks to their end: one follower per task across the whole deployment,
 * whoever watches. In-process by default; BullMQ jobs when several replicas share Redis.
 */
export interface Tracking {
  /** Starts following a task whose upstream id is known (a no-op when followed or finished). */
  track(record: TaskRecord): Promise<void>;
  /**
   * A verified webhook for this task arrived: read it as soon as possible (the read confirms;
   * the webhook's body is never trusted). Starts following it if nobody does.
   */
  poke(record: TaskRecord): Promise<void>;
  /**
   * Makes sure every one of these unfinished tasks is followed (idempotent: a task followed
   * already is left as it is). The gateway calls it at start, now and then, and when Redis comes
   * back: a Redis that lost its data lost the queue's jobs with it.
   */
  resume(records: readonly TaskRecord[]): Promise<void>;
  /** Starts working (the worker of a queue; nothing for the in-process tracker). */
  start(): Promise<void>;
  /**
   * Stops following, changing no task: another replica, or this one at its next start, goes on
   * where it stopped.
   */
  stop(): Promise<void>;
  /** `true` when tracking works; otherwise why not. */
  ready(): Promise<true | string>;
  /** Tasks followed by this process now. */
  readonly size: number;
}
