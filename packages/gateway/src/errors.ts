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
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/** The HTTP status each code answers with, when it is the only error. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 200,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 200,
  RATE_LIMITED: 200,
  IDEMPOTENCY_CONFLICT: 200,
  UPSTREAM_UNAVAILABLE: 200,
  UPSTREAM_REJECTED: 200,
};

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
