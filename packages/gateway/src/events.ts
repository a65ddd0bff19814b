import type { TaskRecord } from './store/types.js';

/** A change of one task, as the tracker saw it. */
export interface TaskEvent {
  readonly record: TaskRecord;
  /** When the gateway learned of the change (`performance.now()` clock), for push latency. */
  readonly observedAt: number;
}

type Listener = (event: TaskEvent) => void;

/**
 * In-process fan-out of task changes to every subscriber of that task. A subscription is
 * registered the moment `subscribe` returns, so a subscriber that reads the current state right
 * after cannot miss a change in between. (Several gateway processes would put a Redis-backed
 * hub with the same two methods here.)
 */
export class TaskEvents {
  readonly #listeners = new Map<string, Set<Listener>>();

  publish(event: TaskEvent): void {
    const listeners = this.#listeners.get(event.record.id);
    if (!listeners) return;
    for (const listener of listeners) listener(event);
  }

  /** How many subscribers a task has now. */
  count(taskId: string): number {
    return this.#listeners.get(taskId)?.size ?? 0;
  }

  /** Events of one task, buffered until read; `close` ends the iteration and unsubscribes. */
  subscribe(taskId: string): AsyncIterableIterator<TaskEvent> & { close(): void } {
    const queue: TaskEvent[] = [];
    let wake: (() => void) | undefined;
    let closed = false;
    const listener: Listener = (event) => {
      queue.push(event);
      wake?.();
    };
    let set = this.#listeners.get(taskId);
    if (!set) {
      set = new Set();
      this.#listeners.set(taskId, set);
    }
    set.add(listener);
    const close = () => {
      if (closed) return;
      closed = true;
      const current = this.#listeners.get(taskId);
      current?.delete(listener);
      if (current?.size === 0) this.#listeners.delete(taskId);
      wake?.();
    };
    const iterator = {
      async next(): Promise<IteratorResult<TaskEvent>> {
        for (;;) {
          const event = queue.shift();
          if (event) return { value: event, done: false };
          if (closed) return { value: undefined, done: true };
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      },
      async return(): Promise<IteratorResult<TaskEvent>> {
        close();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
      close,
    };
    return iterator;
  }
}
