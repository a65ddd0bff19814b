import { format } from 'node:util';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Replaces every secret inside any string of a log record, however deep. */
function scrubber(secrets: readonly string[]) {
  // `secrets` may grow after the logger is made (a secret read from the store at start).
  let live: string[] = [];
  let seen = -1;
  const current = () => {
    if (secrets.length !== seen) {
      seen = secrets.length;
      live = secrets.filter((secret) => secret.length >= 4);
    }
    return live;
  };
  const scrubString = (text: string) =>
    current().reduce((out, secret) => out.split(secret).join('[redacted]'), text);
  const scrub = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return scrubString(value);
    if (depth > 6 || value === null || typeof value !== 'object') return value;
    if (value instanceof Error) {
      // A plain Error carrying the original's constructor, so that pino's error serializer
      // still reports its type: a copy of the class itself would keep its prototype's getters
      // (DOMException's `message` and `name` throw on anything but a real DOMException).
      const copy = Object.create(Error.prototype) as Error;
      const set = (key: string, item: unknown, enumerable = true) =>
        Object.defineProperty(copy, key, {
          value: item,
          enumerable,
          writable: true,
          configurable: true,
        });
      for (const [key, item] of Object.entries(value)) set(key, scrub(item, depth + 1));
      set('constructor', value.constructor, false);
      set('name', value.name, false);
      set('message', scrubString(value.message));
      set('stack', scrubString(value.stack ?? ''));
      if (value.cause !== undefined) set('cause', scrub(value.cause, depth + 1));
      return copy;
    }
    if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, scrub(item, depth + 1)]),
    );
  };
  return (value: unknown) => scrub(value, 0);
}

/**
 * JSON logs, one object a line. Authorization headers are redacted by path, and every known
 * secret (the upstream key, the client keys) is replaced wherever it appears in a record. A
 * secret pushed onto `secrets` later is scrubbed from then on.
 */
export function createLogger(options: {
  level: string;
  secrets: readonly string[];
  destination?: DestinationStream;
}): Logger {
  const scrub = scrubber(options.secrets);
  return pino(
    {
      level: options.level,
      base: { service: 'wan-video-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'authorization',
          '*.authorization',
          '*.headers.authorization',
          'apiKey',
          '*.apiKey',
        ],
        censor: '[redacted]',
      },
      formatters: {
        level: (label) => ({ level: label }),
        log: (record) => scrub(record) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          method.apply(
            this,
            args.map((arg) => (typeof arg === 'string' ? (scrub(arg) as string) : arg)) as never,
          );
        },
      },
    },
    options.destination ?? pino.destination({ sync: false }),
  );
}

type ConsoleMethod = 'log' | 'info' | 'debug' | 'trace' | 'warn' | 'error';
const CONSOLE_LEVELS: Readonly<
  Record<ConsoleMethod, 'info' | 'debug' | 'trace' | 'warn' | 'error'>
> = { log: 'info', info: 'info', debug: 'debug', trace: 'trace', warn: 'warn', error: 'error' };

/**
 * Sends what libraries write with `console` (graphql-ws prints "Internal error occurred during
 * message handling" and a stack with `console.error`, for one) through `logger`: one JSON object
 * a line, the first error serialised as `err` (its stack a string, not a dozen lines of text).
 * For the process's entry point only (`bin.ts`): it owns the process's output. Returns a function
 * that puts the console back.
 */
export function routeConsoleTo(logger: Logger, target: Console = console): () => void {
  const originals = new Map<ConsoleMethod, Console[ConsoleMethod]>();
  for (const [method, level] of Object.entries(CONSOLE_LEVELS) as [
    ConsoleMethod,
    (typeof CONSOLE_LEVELS)[ConsoleMethod],
  ][]) {
    originals.set(method, target[method]);
    target[method] = (...args: unknown[]) => {
      const err = args.find((arg) => arg instanceof Error);
      const rest = err === undefined ? args : args.filter((arg) => arg !== err);
      const text = rest.length > 0 ? format(...rest) : err instanceof Error ? err.message : '';
      logger[level]({ source: 'console', ...(err === undefined ? {} : { err }) }, text);
    };
  }
  return () => {
    for (const [method, original] of originals) target[method] = original;
  };
}
