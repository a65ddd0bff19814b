import type { ValidationIssue } from '@wan-video/core';
import { GraphQLError } from 'graphql';

/** The codes a client can branch on, in `extensions.code`. */
export const ERROR_CODES = {
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  NOT_FOUND: 'NOT_FOUND',
  RATE_LIMITED: 'RATE_LIMITED',
  IDEMPOTENCY_CONFLICT: 'IDEMPOTENCY_CONFLICT',
  UPSTREAM_UNAVAILABLE: 'UPSTREAM_UNAVAILABLE',
  UPSTREAM_REJECTED: 'UPSTREAM_REJECTED',
  /** The gateway's own store is busy or unreachable: nothing was created; retry. */
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  // The request itself, refused before anything ran.
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  MAX_DEPTH_EXCEEDED: 'MAX_DEPTH_EXCEEDED',
  MAX_ALIASES_EXCEEDED: 'MAX_ALIASES_EXCEEDED',
  MAX_DIRECTIVES_EXCEEDED: 'MAX_DIRECTIVES_EXCEEDED',
  MAX_TOKENS_EXCEEDED: 'MAX_TOKENS_EXCEEDED',
  COST_LIMIT_EXCEEDED: 'COST_LIMIT_EXCEEDED',
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
  BAD_REQUEST: 'BAD_REQUEST',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  LENGTH_REQUIRED: 'LENGTH_REQUIRED',
  // Anything not thrown on purpose, masked as "Unexpected error." (details in the log).
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The HTTP status each code answers with, when it is the only error. Request errors (parse,
 * validation, query limits, and BAD_USER_INPUT from variables) answer 400 to a client that
 * accepts `application/graphql-response+json` and 200 to one that asks for `application/json`,
 * as GraphQL over HTTP asks; INTERNAL_SERVER_ERROR is 500 only when there is no `data`.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 200,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 200,
  RATE_LIMITED: 200,
  IDEMPOTENCY_CONFLICT: 200,
  UPSTREAM_UNAVAILABLE: 200,
  SERVICE_UNAVAILABLE: 200,
  UPSTREAM_REJECTED: 200,
  GRAPHQL_PARSE_FAILED: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  MAX_DEPTH_EXCEEDED: 400,
  MAX_ALIASES_EXCEEDED: 400,
  MAX_DIRECTIVES_EXCEEDED: 400,
  MAX_TOKENS_EXCEEDED: 400,
  COST_LIMIT_EXCEEDED: 400,
  OPERATION_RESOLUTION_FAILURE: 400,
  BAD_REQUEST: 400,
  PAYLOAD_TOO_LARGE: 413,
  LENGTH_REQUIRED: 411,
  INTERNAL_SERVER_ERROR: 500,
};

/** The code for a refusal that only has an HTTP status (yoga's and graphql-sse's own 4xx). */
export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 401:
      return 'UNAUTHENTICATED';
    case 411:
      return 'LENGTH_REQUIRED';
    case 413:
      return 'PAYLOAD_TOO_LARGE';
    default:
      return status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR';
  }
}

/** Whether `value` is one of the codes above. */
export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);

/**
 * A GraphQL-shaped body for an answer given before GraphQL runs (413, 411, a refused SSE
 * reservation), so that every client finds `errors[0].extensions.code` where it looks.
 */
export const errorBody = (code: ErrorCode, message: string) => ({
  errors: [{ message, extensions: { code } }],
});

export function gatewayError(
  code: ErrorCode,
  message: string,
  extensions: Record<string, unknown> = {},
) {
  return new GraphQLError(message, {
    extensions: {
      code,
      ...extensions,
      ...(code === 'UNAUTHENTICATED' ? { http: { status: HTTP_STATUS.UNAUTHENTICATED } } : {}),
    },
  });
}

/** Bad input, every problem listed with its path from the argument (`["input", "height"]`). */
export function badUserInput(argument: string, issues: readonly ValidationIssue[]) {
  return gatewayError(
    'BAD_USER_INPUT',
    `Invalid ${argument}: ${issues.map((issue) => issue.message).join('; ')}`,
    {
      issues: issues.map((issue) => ({
        path: [argument, ...issue.path],
        message: issue.message,
        rule: issue.rule,
      })),
    },
  );
}

export const notFound = (id: string) => gatewayError('NOT_FOUND', `No video task ${id}`, { id });
