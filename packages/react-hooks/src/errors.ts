/** What went wrong, in the terms a UI needs to pick the right message. */
export const VIDEO_GATEWAY_ERROR_KINDS = [
  /** The input breaks a rule; `issues` names each field. Nothing was sent. */
  'validation',
  /** No key, or a key the gateway refused. */
  'auth',
  /** Too many requests or too many videos in progress; see `retryAfterSeconds`. */
  'rate_limited',
  /** No such task, or not yours. */
  'not_found',
  /** An idempotency key reused with another input. */
  'conflict',
  /** The upstream (Novita) refused or failed. */
  'upstream',
  /** The gateway could not be reached, or the connection dropped for good. */
  'network',
  /** Anything else. */
  'unknown',
] as const;
export type VideoGatewayErrorKind = (typeof VIDEO_GATEWAY_ERROR_KINDS)[number];

export interface VideoGatewayIssue {
  /** From the argument: `['input', 'height']`. */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

const BRAND = Symbol.for('@wan-video/react-hooks.VideoGatewayError');

/** The one error type the hooks report. */
export class VideoGatewayError extends Error {
  override name = 'VideoGatewayError' as const;
  readonly kind: VideoGatewayErrorKind;
  /** The gateway's `extensions.code`, when it sent one. */
  readonly code: string | undefined;
  readonly issues: readonly VideoGatewayIssue[];
  readonly retryAfterSeconds: number | undefined;

  constructor(
    kind: VideoGatewayErrorKind,
    message: string,
    details: {
      code?: string | undefined;
      issues?: readonly VideoGatewayIssue[];
      retryAfterSeconds?: number | undefined;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    Object.defineProperty(this, BRAND, { value: true });
    this.kind = kind;
    this.code = details.code;
    this.issues = details.issues ?? [];
    this.retryAfterSeconds = details.retryAfterSeconds;
  }
}

export const isVideoGatewayError = (error: unknown): error is VideoGatewayError =>
  typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;

const KIND_FOR_CODE: Readonly<Record<string, VideoGatewayErrorKind>> = {
  BAD_USER_INPUT: 'validation',
  GRAPHQL_VALIDATION_FAILED: 'validation',
  UNAUTHENTICATED: 'auth',
  RATE_LIMITED: 'rate_limited',
  NOT_FOUND: 'not_found',
  IDEMPOTENCY_CONFLICT: 'conflict',
  UPSTREAM_REJECTED: 'upstream',
  UPSTREAM_UNAVAILABLE: 'upstream',
};

interface GraphQLErrorLike {
  readonly message?: unknown;
  readonly extensions?: Readonly<Record<string, unknown>> | undefined;
}

/** Turns a GraphQL error from the gateway into a `VideoGatewayError`. */
export function fromGraphQLError(error: GraphQLErrorLike, cause?: unknown): VideoGatewayError {
  const extensions = error.extensions ?? {};
  const code = typeof extensions.code === 'string' ? extensions.code : undefined;
  const issues = Array.isArray(extensions.issues)
    ? (extensions.issues as VideoGatewayIssue[]).map((issue) => ({
        path: issue.path,
        message: issue.message,
      }))
    : [];
  const retryAfter = extensions.retryAfterSeconds;
  return new VideoGatewayError(
    (code === undefined ? undefined : KIND_FOR_CODE[code]) ?? 'unknown',
    typeof error.message === 'string' ? error.message : 'The gateway answered with an error.',
    {
      code,
      issues,
      retryAfterSeconds: typeof retryAfter === 'number' ? retryAfter : undefined,
      cause,
    },
  );
}

/** A failure to reach the gateway at all. */
export function networkError(cause: unknown): VideoGatewayError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new VideoGatewayError('network', `Could not reach the video gateway${detail}`, { cause });
}
