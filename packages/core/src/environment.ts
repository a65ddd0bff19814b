/**
 * Clocks, timers and randomness come in as options, so tests and browsers can supply their own.
 * Defaults are read when an object is created, never when this module is imported.
 */
export interface EnvironmentOptions {
  /**
   * The current time in epoch milliseconds.
   * @default Date.now
   */
  now?: () => number;
  /**
   * A number in [0, 1), for jitter.
   * @default Math.random
   */
  random?: () => number;
  /**
   * Schedules a callback.
   * @default globalThis.setTimeout
   */
  setTimeout?: (callback: () => void, ms: number) => unknown;
  /**
   * Cancels what `setTimeout` scheduled.
   * @default globalThis.clearTimeout
   */
  clearTimeout?: (handle: unknown) => void;
}

export type Environment = Required<EnvironmentOptions>;

export function resolveEnvironment(options: EnvironmentOptions = {}): Environment {
  return {
    now: options.now ?? (() => Date.now()),
    random: options.random ?? (() => Math.random()),
    setTimeout: options.setTimeout ?? ((callback, ms) => globalThis.setTimeout(callback, ms)),
    clearTimeout:
      options.clearTimeout ??
      ((handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>)),
  };
}

/** The reason an aborted signal carries, or a standard AbortError. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** Waits `ms`; rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, env: Environment, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = () => {
      env.clearTimeout(handle);
      reject(abortReason(signal as AbortSignal));
    };
    const handle = env.setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
