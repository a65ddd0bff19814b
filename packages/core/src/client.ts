import { abortReason, type EnvironmentOptions, resolveEnvironment, sleep } from './environment.js';
import { UpstreamError, type UpstreamOperation } from './errors.js';
import { type CreateTaskRequestInput, parseCreateTaskRequest } from './request.js';
import { parseTaskResult, toTaskSnapshot } from './response.js';
import {
  type BackoffOptions,
  classifyStatus,
  DEFAULT_BACKOFF,
  FAILURE_KIND,
  type FailureClass,
  fullJitterDelay,
  isConnectionRefused,
  parseRetryAfter,
  RETRYABLE,
} from './retry.js';
import type { TaskSnapshot } from './task.js';

/** Novita's public API. */
export const NOVITA_BASE_URL = 'https://api.novita.ai';
export const CREATE_TASK_PATH = '/v3/async/wan-t2v';
export const TASK_RESULT_PATH = '/v3/async/task-result';

/** How much of an unexpected body an error keeps. */
const MAX_BODY_IN_ERROR = 2048;

/**
 * What the client reads of an answer. A fetch `Response` is one; so is the lighter object a
 * pooled Node HTTP client (undici's `request`) can give, without WHATWG streams.
 */
export interface UpstreamResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/**
 * What the client asks of a request: `method`, `headers` (a plain object), `body` (a string or
 * nothing) and `signal`; and `timeoutMs`, how long the attempt may take, for a `fetch` that
 * enforces it itself (see `NovitaClientOptions.fetchEnforcesTimeout`; `fetch` ignores it).
 */
export type UpstreamRequestInit = RequestInit & { readonly timeoutMs?: number };

/**
 * How the client sends a request: `globalThis.fetch` by default (browsers, any runtime), or
 * anything with its shape.
 */
export type FetchLike = (input: string, init: UpstreamRequestInit) => Promise<UpstreamResponse>;

export interface NovitaClientOptions extends EnvironmentOptions {
  /** The upstream API key, sent as `Authorization: Bearer`. Never appears in an error. */
  apiKey: string;
  /**
   * Where the upstream is: Novita, or the emulator.
   * @default 'https://api.novita.ai'
   */
  baseUrl?: string;
  /**
   * The fetch to use.
   * @default globalThis.fetch
   */
  fetch?: FetchLike;
  /**
   * How long one attempt may take, from sending to the last byte of the answer.
   * @default 30000
   */
  timeoutMs?: number;
  /**
   * Whether `fetch` stops a request that runs past `init.timeoutMs` by itself, rejecting (or
   * failing the body's `text()`) with an error named `TimeoutError`, as a pooled Node HTTP
   * client can (undici's `headersTimeout` and `bodyTimeout`, on its own coarse timers). The
   * client then makes no AbortController, timer or abort listener per request: the caller's
   * signal goes to `fetch` as it is.
   * @default false (the client times each attempt out itself)
   */
  fetchEnforcesTimeout?: boolean;
  /** Backoff between retries. */
  retry?: BackoffOptions;
}

export interface CallOptions {
  /** Aborts the call, retries included; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

/** How one attempt failed. Internal: it becomes an `UpstreamError` when retries end. */
interface AttemptFailure {
  readonly failureClass: FailureClass;
  readonly status?: number;
  readonly reason?: string;
  readonly upstreamMessage?: string;
  readonly body?: string;
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

class Attempt {
  constructor(readonly failure: AttemptFailure) {}
}

/** The methods the poller needs: one seam, so any upstream (Novita, the emulator, a cache) fits. */
export interface TaskReader {
  getTaskResult(taskId: string, options?: CallOptions): Promise<TaskSnapshot>;
}

/**
 * A client of Novita's asynchronous Wan 2.1 text-to-video API.
 *
 * Reads retry on 429, 5xx, network errors and timeouts, with exponential backoff and full
 * jitter, honouring `Retry-After`. A create is retried only when no task can exist (connection
 * refused, 429): a second create is a second paid video.
 */
export class NovitaClient implements TaskReader {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;
  readonly #fetchEnforcesTimeout: boolean;
  readonly #backoff: Required<BackoffOptions>;
  readonly #env: ReturnType<typeof resolveEnvironment>;

  constructor(options: NovitaClientOptions) {
    if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') {
      throw new TypeError('NovitaClient needs a non-empty apiKey');
    }
    this.#apiKey = options.apiKey;
    this.baseUrl = (options.baseUrl ?? NOVITA_BASE_URL).replace(/\/+$/, '');
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetchEnforcesTimeout = options.fetchEnforcesTimeout === true;
    this.#backoff = { ...DEFAULT_BACKOFF, ...stripUndefined(options.retry ?? {}) };
    this.#env = resolveEnvironment(options);
  }

  /**
   * Creates a task and returns its id. The request is validated first: a `ValidationError`
   * is thrown, and nothing is sent, when any field breaks the contract.
   */
  async createTask(request: CreateTaskRequestInput, options: CallOptions = {}): Promise<string> {
    const body = JSON.stringify(parseCreateTaskRequest(request));
    return this.#call('createTask', options, {
      path: CREATE_TASK_PATH,
      init: { method: 'POST', body },
      read: (json) => {
        const taskId = (json as { task_id?: unknown } | null)?.task_id;
        if (typeof taskId !== 'string' || taskId === '')
          throw new Error('no task_id in the answer');
        return taskId;
      },
    });
  }

  /** Reads a task and returns a normalised snapshot (video expiry times are absolute). */
  async getTaskResult(taskId: string, options: CallOptions = {}): Promise<TaskSnapshot> {
    return this.#call('getTaskResult', options, {
      path: `${TASK_RESULT_PATH}?task_id=${encodeURIComponent(taskId)}`,
      init: { method: 'GET' },
      read: (json) => toTaskSnapshot(parseTaskResult(json), this.#env.now()),
    });
  }

  /** Never prints the key. */
  toString(): string {
    return `NovitaClient(${this.baseUrl})`;
  }

  toJSON(): { baseUrl: string } {
    return { baseUrl: this.baseUrl };
  }

  async #call<T>(
    operation: UpstreamOperation,
    options: CallOptions,
    request: { path: string; init: RequestInit; read: (json: unknown) => T },
  ): Promise<T> {
    const { signal } = options;
    /** Whether a create may have reached the upstream: then an abort must not look harmless. */
    let maybeSent = false;
    const aborted = (attempts: number): unknown => {
      const reason = abortReason(signal as AbortSignal);
      if (operation !== 'createTask' || !maybeSent) return reason;
      return new UpstreamError(
        { operation, kind: 'aborted', retryable: false, attempts },
        { cause: reason },
      );
    };
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw aborted(attempt - 1);
      maybeSent = true;
      try {
        return await this.#attempt(request, options);
      } catch (error) {
        if (signal?.aborted) throw aborted(attempt);
        if (!(error instanceof Attempt)) throw error;
        const { failure } = error;
        // A refused connection or a 429 proves that this attempt created nothing.
        if (
          failure.failureClass === 'connection_refused' ||
          failure.failureClass === 'rate_limited'
        ) {
          maybeSent = false;
        }
        const retryable = RETRYABLE[operation][failure.failureClass];
        const delay =
          failure.retryAfterMs ?? fullJitterDelay(attempt, this.#backoff, this.#env.random);
        const giveUp =
          !retryable ||
          attempt >= this.#backoff.maxAttempts ||
          delay > this.#backoff.maxRetryAfterMs;
        if (giveUp) throw this.#toUpstreamError(operation, failure, retryable, attempt);
        await sleep(delay, this.#env, signal).catch(() => {
          throw aborted(attempt);
        });
      }
    }
  }

  async #attempt<T>(
    request: { path: string; init: RequestInit; read: (json: unknown) => T },
    options: CallOptions,
  ): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const timing = this.#fetchEnforcesTimeout ? undefined : this.#timeAttempt(timeoutMs, options);
    const broken = (cause: unknown): Attempt => {
      if (timing?.timedOut() || (timing === undefined && isTimeoutError(cause))) {
        return new Attempt({ failureClass: 'timeout', cause });
      }
      return new Attempt({
        failureClass: isConnectionRefused(cause) ? 'connection_refused' : 'network',
        cause,
      });
    };

    try {
      let response: UpstreamResponse;
      try {
        const signal = timing?.signal ?? options.signal;
        response = await this.#fetch(`${this.baseUrl}${request.path}`, {
          ...request.init,
          headers: {
            authorization: `Bearer ${this.#apiKey}`,
            accept: 'application/json',
            ...(request.init.body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(signal ? { signal } : {}),
          timeoutMs,
        });
      } catch (cause) {
        throw broken(cause);
      }
      let text: string;
      try {
        text = await response.text();
      } catch (cause) {
        throw broken(cause);
      }
      if (!response.ok) throw new Attempt(this.#httpFailure(response, text));
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        // Not the parser's own error: its message quotes the body, which may hold anything.
        throw new Attempt({
          failureClass: 'bad_response',
          body: this.#clip(text),
          cause: new Error('the body is not valid JSON'),
        });
      }
      try {
        return request.read(json);
      } catch (cause) {
        throw new Attempt({ failureClass: 'bad_response', body: this.#clip(text), cause });
      }
    } finally {
      timing?.done();
    }
  }

  /** An attempt's own timeout: a controller aborted after `timeoutMs` or with the caller's signal. */
  #timeAttempt(timeoutMs: number, options: CallOptions) {
    const controller = new AbortController();
    let timedOut = false;
    const timer = this.#env.setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const outer = options.signal;
    const onAbort = () => controller.abort(outer?.reason);
    outer?.addEventListener('abort', onAbort, { once: true });
    return {
      signal: controller.signal,
      timedOut: () => timedOut,
      done: () => {
        this.#env.clearTimeout(timer);
        outer?.removeEventListener('abort', onAbort);
      },
    };
  }

  #httpFailure(response: UpstreamResponse, text: string): AttemptFailure {
    const failureClass = classifyStatus(response.status);
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), this.#env.now());
    const fields = readErrorBody(text);
    return {
      failureClass,
      status: response.status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      ...(fields
        ? {
            ...(fields.reason === undefined ? {} : { reason: this.#redact(fields.reason) }),
            ...(fields.message === undefined
              ? {}
              : { upstreamMessage: this.#redact(fields.message) }),
          }
        : { body: this.#clip(text) }),
    };
  }

  #toUpstreamError(
    operation: UpstreamOperation,
    failure: AttemptFailure,
    retryable: boolean,
    attempts: number,
  ): UpstreamError {
    return new UpstreamError(
      {
        operation,
        kind: FAILURE_KIND[failure.failureClass],
        status: failure.status,
        reason: failure.reason,
        upstreamMessage: failure.upstreamMessage,
        body: failure.body,
        retryable,
        retryAfterMs: failure.retryAfterMs,
        attempts,
      },
      failure.cause === undefined ? undefined : { cause: failure.cause },
    );
  }

  /** The key never leaves this object, even when an upstream echoes it back. */
  #redact(text: string): string {
    return text.split(this.#apiKey).join('[redacted]');
  }

  #clip(text: string): string {
    const redacted = this.#redact(text);
    return redacted.length > MAX_BODY_IN_ERROR
      ? `${redacted.slice(0, MAX_BODY_IN_ERROR)}… (${redacted.length} characters)`
      : redacted;
  }
}

/** The upstream's error body: `{code, reason, message}`, when it is JSON of that shape. */
function readErrorBody(text: string): { reason?: string; message?: string } | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const { reason, message } = json as { reason?: unknown; message?: unknown };
  const fields = {
    ...(typeof reason === 'string' && reason !== '' ? { reason } : {}),
    ...(typeof message === 'string' && message !== '' ? { message } : {}),
  };
  return Object.keys(fields).length > 0 ? fields : undefined;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, entry]) => entry !== undefined),
  ) as Partial<T>;
}

/** An error a `fetch` that enforces its own timeout rejects with (`fetchEnforcesTimeout`). */
function isTimeoutError(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { name?: unknown }).name === 'TimeoutError'
  );
}
