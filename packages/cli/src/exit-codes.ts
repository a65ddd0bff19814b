/**
 * What `wan-video` exits with: one table, printed by `--help` and the README. Scripts branch on
 * these; the message on stderr (or the `error` object with `--json`) says which field or code.
 */
export const EXIT_CODES = {
  /** Done: the task was created, read, listed, or (following it) SUCCEEDED and was saved. */
  ok: 0,
  /** The task FAILED (generate --wait, watch, status). */
  taskFailed: 1,
  /** Bad input: a field breaks a rule (core's message names it), or bad usage of the command. */
  badInput: 2,
  /** The gateway cannot be reached: connection refused, unknown host, timeout, connection lost. */
  unreachable: 3,
  /** The gateway refused: its error code is printed (UNAUTHENTICATED, NOT_FOUND, RATE_LIMITED…). */
  refused: 4,
  /** The video could not be downloaded or saved to --out. */
  download: 5,
  /** Stopped with Ctrl-C (SIGINT); the task goes on in the gateway. */
  interrupted: 130,
  /** A bug in wan-video: the stack trace is printed; please report it. */
  internal: 70,
} as const;

export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** The table as `--help` prints it. */
export const EXIT_CODE_HELP: readonly (readonly [code: ExitCode, meaning: string])[] = [
  [EXIT_CODES.ok, 'done (created, read, listed; or followed to SUCCEEDED and saved)'],
  [EXIT_CODES.taskFailed, 'the task FAILED (generate --wait, watch, status)'],
  [EXIT_CODES.badInput, 'bad input: a field breaks a rule, or bad usage; nothing was sent'],
  [EXIT_CODES.unreachable, 'cannot reach the gateway (refused, unknown host, timeout, lost)'],
  [EXIT_CODES.refused, 'the gateway refused: its code is printed (UNAUTHENTICATED, NOT_FOUND…)'],
  [EXIT_CODES.download, 'the video could not be downloaded or saved to --out'],
  [EXIT_CODES.internal, 'a bug in wan-video (its stack trace is printed: please report it)'],
  [EXIT_CODES.interrupted, 'interrupted (Ctrl-C); the task goes on in the gateway'],
];
