import type { TaskEvent, TaskEventStream, TaskEvents } from './types.js';

type Listener = (event: TaskEvent) => void;

/**
 * In-process fan-out of task changes to every subscriber of that task: the embedded default,
 * and the local half of the Redis bus (which hands it what arrives on the channel).
 */
export class LocalTaskEvents implements TaskEvents {
  readonly #listeners = new Map<string, Set<Listener>>();
  readonly #closers = new Set<() => void>();

  publish(event: TaskEvent): void {
    const listeners = this.#listeners.get(event.record.id);
    if (!listeners) return;
    for (const listener of listeners) listener(event);
  }

  /** How many subscribers a task has now. */
  count(taskId: string): number {
    return this.#listeners.get(taskId)?.size ?? 0;
  }

  ready(): true {
    return true;
  }

  /** Ends every open stream (their `for await` loops finish) and drops every listener. */
  async close(): Promise<void> {
    for (const close of [...this.#closers]) close();
    this.#listeners.clear();
  }

  subscribe(taskId: string): TaskEventStream {
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
      this.#closers.delete(close);
      const current = this.#listeners.get(taskId);
      current?.delete(listener);
      if (current?.size === 0) this.#listeners.delete(taskId);
      wake?.();
    };
    this.#closers.add(close);
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
