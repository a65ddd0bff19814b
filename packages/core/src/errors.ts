import type { TaskSnapshot } from './task.js';

/**
 * Brands survive a second copy of this package or another realm (an iframe, a worker), where
 * `instanceof` does not. Every `isX` guard below checks the brand.
 */
const brand = (name: string): symbol => Symbol.for(`@wan-video/core.${name}`);
const WAN_VIDEO_ERROR = brand('WanVideoError');
const VALIDATION_ERROR = brand('ValidationError');
const UPSTREAM_ERROR = brand('UpstreamError');
const POLL_DEADLINE_ERROR = brand('PollDeadlineError');

function hasBrand(value: unknown, key: symbol): boolean {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[key] === true
  );
}

/** The base class of every error this package throws on purpose. */
export class WanVideoError extends Error {
  override name: string = 'WanVideoError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.defineProperty(this, WAN_VIDEO_ERROR, { value: true });
  }
}

/** The rule a value broke, as a stable code a program can branch on. */
export const VALIDATION_RULES = [
  'required',
  'type',
  'integer',
  'min',
  'max',
  'min_length',
  'max_length',
  'one_of',
  'size_pair',
  'max_items',
  'format',
  'unknown_field',
] as const;
export type ValidationRule = (typeof VALIDATION_RULES)[number];

/** One problem with one field. */
export interface ValidationIssue {
  /** Where the problem is, from the root of the validated value: `['loras', 0, 'path']`. */
  readonly path: readonly (string | number)[];
  /** A sentence a user understands, naming the field: "height must be 480 when width is 832". */
  readonly message: string;
  /** The rule that was broken. */
  readonly rule: ValidationRule;
}

/** A value failed validation. `issues` lists every problem, not only the first. */
export class ValidationError extends WanVideoError {
  override name = 'ValidationError' as const;
  readonly issues: readonly ValidationIssue[];

  constructor(issues: readonly ValidationIssue[], options?: { cause?: unknown; subject?: string }) {
    const subject = options?.subject ?? 'input';
    const head = issues
      .slice(0, 3)
      .map((issue) => issue.message)
      .join('; ');
    const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
    super(`Invalid ${subject}: ${head}${more}`, options);
    Object.defineProperty(this, VALIDATION_ERROR, { value: true });
    this.issues = issues;
  }
}

/** What went wrong with an upstream call. */
export const UPSTREAM_FAILURE_KINDS = [
  /** The server answered with a non-2xx status. */
  'http',
  /** The connection was refused: the request provably never reached the server. */
  'connection_refused',
  /** The connection failed or broke; the request may or may not have reached the server. */
  'network',
  /** No complete answer within the per-call timeout. */
  'timeout',
  /** A 2xx answer whose body was not the expected JSON shape. */
  'bad_response',
  /**
   * The caller aborted a create that may already have reached the upstream: a task may exist,
   * so the create must not simply be repeated. (Other aborts reject with the signal's reason.)
   */
  'aborted',
] as const;
export type UpstreamFailureKind = (typeof UPSTREAM_FAILURE_KINDS)[number];

export type UpstreamOperation = 'createTask' | 'getTaskResult';

export interface UpstreamErrorDetails {
  readonly operation: UpstreamOperation;
  readonly kind: UpstreamFailureKind;
  /** The HTTP status, when the server answered. */
  readonly status?: number | undefined;
  /** The upstream's machine reason (such as `INVALID_REQUEST_BODY`), when its body had one. */
  readonly reason?: string | undefined;
  /** The upstream's human message, when its body had one. */
  readonly upstreamMessage?: string | undefined;
  /** The raw body text (truncated) when it was not the usual JSON error shape. */
  readonly body?: string | undefined;
  /** Whether the same call may safely be made again. A create is retryable only when no task can exist. */
  readonly retryable: boolean;
  /** How long the upstream asked us to wait before trying again (from `Retry-After`). */
  readonly retryAfterMs?: number | undefined;
  /** How many attempts were made before giving up. */
  readonly attempts: number;
}

/** An upstream call failed. Never carries the API key, in its message or anywhere else. */
export class UpstreamError extends WanVideoError implements UpstreamErrorDetails {
  override name = 'UpstreamError' as const;
  readonly operation: UpstreamOperation;
  readonly kind: UpstreamFailureKind;
  readonly status: number | undefined;
  readonly reason: string | undefined;
  readonly upstreamMessage: string | undefined;
  readonly body: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly attempts: number;

  constructor(details: UpstreamErrorDetails, options?: { cause?: unknown }) {
    super(describeUpstreamFailure(details), options);
    Object.defineProperty(this, UPSTREAM_ERROR, { value: true });
    this.operation = details.operation;
    this.kind = details.kind;
    this.status = details.status;
    this.reason = details.reason;
    this.upstreamMessage = details.upstreamMessage;
    this.body = details.body;
    this.retryable = details.retryable;
    this.retryAfterMs = details.retryAfterMs;
    this.attempts = details.attempts;
  }
}

function describeUpstreamFailure(details: UpstreamErrorDetails): string {
  const what = {
    http: `answered HTTP ${details.status ?? '?'}`,
    connection_refused: 'refused the connection',
    network: 'could not be reached (network error)',
    timeout: 'did not answer in time',
    bad_response: 'sent a response that could not be read',
    aborted: 'was aborted after the request may have reached the upstream',
  }[details.kind];
  const why = [details.reason, details.upstreamMessage].filter(Boolean).join(': ');
  const tries = details.attempts > 1 ? ` after ${details.attempts} attempts` : '';
  return `Upstream ${details.operation} ${what}${tries}${why ? ` (${why})` : ''}`;
}

/** A poll reached its deadline before the task reached a terminal status. */
export class PollDeadlineError extends WanVideoError {
  override name = 'PollDeadlineError' as const;
  readonly taskId: string;
  readonly deadline: number;
  /** The last snapshot seen before the deadline, if any. */
  readonly lastSnapshot: TaskSnapshot | undefined;

  constructor(taskId: string, deadline: number, lastSnapshot: TaskSnapshot | undefined) {
    super(
      `Task ${taskId} did not finish before its deadline (${new Date(deadline).toISOString()}); last status ${
        lastSnapshot?.status ?? 'unknown'
      }`,
    );
    Object.defineProperty(this, POLL_DEADLINE_ERROR, { value: true });
    this.taskId = taskId;
    this.deadline = deadline;
    this.lastSnapshot = lastSnapshot;
  }
}

export const isWanVideoError = (error: unknown): error is WanVideoError =>
  hasBrand(error, WAN_VIDEO_ERROR);
export const isValidationError = (error: unknown): error is ValidationError =>
  hasBrand(error, VALIDATION_ERROR);
export const isUpstreamError = (error: unknown): error is UpstreamError =>
  hasBrand(error, UPSTREAM_ERROR);
export const isPollDeadlineError = (error: unknown): error is PollDeadlineError =>
  hasBrand(error, POLL_DEADLINE_ERROR);
