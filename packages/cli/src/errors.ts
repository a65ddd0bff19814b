import type { ValidationIssue } from '@wan-video/core';
import { EXIT_CODES, type ExitCode } from './exit-codes.js';

const BRAND = Symbol.for('@wan-video/cli.CliError');

/** An expected failure: printed as one line (no stack), exiting with its `exitCode`. */
export class CliError extends Error {
  override name: string = 'CliError';
  /** What the process exits with (see `EXIT_CODES`). */
  readonly exitCode: ExitCode;
  /**
   * A machine code for `--json`: the gateway's `extensions.code` (UNAUTHENTICATED, NOT_FOUND…),
   * or the CLI's own (USAGE, BAD_USER_INPUT, UNREACHABLE, DOWNLOAD_FAILED, INTERRUPTED).
   */
  readonly code: string;

  constructor(message: string, details: { exitCode: ExitCode; code: string; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    Object.defineProperty(this, BRAND, { value: true });
    this.exitCode = details.exitCode;
    this.code = details.code;
  }
}

/** Works across realms and copies of this package. */
export const isCliError = (error: unknown): error is CliError =>
  typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true;

/** The command line itself is wrong: an unknown option, a malformed `--size`, a bad `--url`. */
export class UsageError extends CliError {
  override name = 'UsageError' as const;
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { exitCode: EXIT_CODES.badInput, code: 'USAGE', ...options });
  }
}

/** The video input breaks a rule: `issues` are core's, each naming its field. Nothing was sent. */
export class InputError extends CliError {
  override name = 'InputError' as const;
  readonly issues: readonly ValidationIssue[];
  constructor(
    message: string,
    issues: readonly ValidationIssue[],
    options: { cause?: unknown } = {},
  ) {
    super(message, { exitCode: EXIT_CODES.badInput, code: 'BAD_USER_INPUT', ...options });
    this.issues = issues;
  }
}

/** The gateway could not be reached, or the connection to it was lost for good. */
export class UnreachableError extends CliError {
  override name = 'UnreachableError' as const;
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { exitCode: EXIT_CODES.unreachable, code: 'UNREACHABLE', ...options });
  }
}

/** Gateway codes that mean something other than "refused" (exit 4). */
const EXIT_FOR_GATEWAY_CODE: Readonly<Partial<Record<string, ExitCode>>> = {
  // The gateway's own validation (core's rules again, or idempotencyKey's): bad input.
  BAD_USER_INPUT: EXIT_CODES.badInput,
};

/** The gateway answered with an error: its `extensions.code` and message. */
export class GatewayError extends CliError {
  override name = 'GatewayError' as const;
  /** The gateway's issues for BAD_USER_INPUT (paths from the argument: `['input', 'steps']`). */
  readonly issues: readonly {
    readonly path: readonly (string | number)[];
    readonly message: string;
  }[];
  constructor(
    code: string,
    message: string,
    options: {
      cause?: unknown;
      issues?: readonly { path: readonly (string | number)[]; message: string }[];
    } = {},
  ) {
    super(message, {
      exitCode: EXIT_FOR_GATEWAY_CODE[code] ?? EXIT_CODES.refused,
      code,
      cause: options.cause,
    });
    this.issues = options.issues ?? [];
  }
}

/** The finished video could not be fetched (HTTP status, network) or written to `--out`. */
export class DownloadError extends CliError {
  override name = 'DownloadError' as const;
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { exitCode: EXIT_CODES.download, code: 'DOWNLOAD_FAILED', ...options });
  }
}

/** Ctrl-C while following a task. */
export class InterruptedError extends CliError {
  override name = 'InterruptedError' as const;
  constructor(message: string) {
    super(message, { exitCode: EXIT_CODES.interrupted, code: 'INTERRUPTED' });
  }
}
