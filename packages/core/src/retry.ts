import type { UpstreamFailureKind, UpstreamOperation } from './errors.js';

/** Every way an upstream attempt can fail, finer than `UpstreamFailureKind`. */
export type FailureClass =
  | 'rate_limited'
  | 'server_error'
  | 'client_error'
  | 'connection_refused'
  | 'network'
  | 'timeout'
  | 'bad_response';

/**
 * Whether a failed call may be made again, decided here and nowhere else.
 *
 * Reads are free and idempotent: everything transient is retried. A create is a paid video:
 * it is retried only when no task can exist, that is when the connection was refused (the
 * request never reached the server) or the upstream refused it with 429. After a 5xx, a
 * timeout, a broken connection or an unreadable 2xx, a task may exist, so a retry could pay twice.
 */
export const RETRYABLE: Readonly<
  Record<UpstreamOperation, Readonly<Record<FailureClass, boolean>>>
> = {
  getTaskResult: {
    rate_limited: true,
    server_error: true,
    client_error: false,
    connection_refused: true,
    network: true,
    timeout: true,
    bad_response: true,
  },
  createTask: {
    rate_limited: true,
    server_error: false,
    client_error: false,
    connection_refused: true,
    network: false,
    timeout: false,
    bad_response: false,
  },
};

export const FAILURE_KIND: Readonly<Record<FailureClass, UpstreamFailureKind>> = {
  rate_limited: 'http',
  server_error: 'http',
  client_error: 'http',
  connection_refused: 'connection_refused',
  network: 'network',
  timeout: 'timeout',
  bad_response: 'bad_response',
};

/** The class of an HTTP failure status. */
export function classifyStatus(status: number): FailureClass {
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  return 'client_error';
}

export interface BackoffOptions {
  /**
   * How many attempts in all, the first included.
   * @default 4
   */
  maxAttempts?: number;
  /**
   * The backoff ceiling of the first retry; it doubles with each retry.
   * @default 250
   */
  baseDelayMs?: number;
  /**
   * The largest backoff ceiling.
   * @default 8000
   */
  maxDelayMs?: number;
  /**
   * The longest `Retry-After` honoured; an upstream asking for more ends the retries.
   * @default 60000
   */
  maxRetryAfterMs?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 8000,
  maxRetryAfterMs: 60_000,
};

/**
 * Exponential backoff with full jitter: a uniform draw in [0, min(max, base * 2^(retry - 1))).
 * `retry` counts from 1.
 */
export function fullJitterDelay(
  retry: number,
  options: Required<BackoffOptions>,
  random: () => number,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * Reads a `Retry-After` header: delta seconds (`"120"`) or an HTTP date. Returns milliseconds
 * from `now`, never negative, or `undefined` when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value == null) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // An HTTP date starts with the day's name: `Wed, 21 Oct 2015 07:28:00 GMT`, or the obsolete
  // forms recipients must still accept, `Wednesday, 21-Oct-15 07:28:00 GMT` and asctime's
  // `Wed Oct 21 07:28:00 2015`.
  if (!/^[A-Za-z]{3,9},? /.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** System errors that mean the request was never sent: nothing was connected to. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Whether a fetch failure proves the request never reached the server: the connection was
 * refused (or the host name did not resolve). Node's fetch reports the system error code in
 * `cause`, sometimes inside an AggregateError with one error per address tried; every code
 * found must say "never sent". A browser's fetch gives no code, so nothing is proved there.
 */
export function isConnectionRefused(error: unknown): boolean {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (typeof current !== 'object' || current === null || seen.has(current)) continue;
    seen.add(current);
    const { code, cause, errors } = current as {
      code?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) codes.push(code);
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return codes.length > 0 && codes.every((code) => NEVER_SENT.has(code));
}
