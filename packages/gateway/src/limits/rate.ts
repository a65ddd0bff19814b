import { Redis } from 'ioredis';
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';
import { gatewayError } from '../errors.js';
import { redactor } from '../events/redis.js';
import type { Logger } from '../logger.js';
import type { Limits } from './types.js';

export interface LimitsOptions {
  /** Videos one client may request per minute (a fixed 60 s window from its first request). */
  readonly mutationsPerMinute: number;
  /** Set: one budget per client shared by every replica on this Redis; unset: per process. */
  readonly redis?: {
    readonly url: string;
    /** Keys are `${prefix}:limits:mutations:<owner>`. */
    readonly prefix: string;
    /**
     * How long one Redis call may take before this replica counts on its own instead.
     * @default 1000
     */
    readonly commandTimeoutMs?: number;
  };
  /** Where losing and regaining Redis is logged. */
  readonly logger?: Pick<Logger, 'info' | 'warn'>;
}

const WINDOW_SECONDS = 60;

/** The one RATE_LIMITED error of the per-minute budget. */
export function rateLimited(mutationsPerMinute: number, msBeforeNext: number) {
  const retryAfterSeconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  return gatewayError(
    'RATE_LIMITED',
    `Too many videos requested: at most ${mutationsPerMinute} a minute. Try again in ${retryAfterSeconds} s.`,
    { retryAfterSeconds, limit: 'rate' },
  );
}

/**
 * Per-client limits: in this process, or in Redis (`options.redis`) so that every replica spends
 * one budget per client.
 *
 * When Redis is unreachable or slow (`commandTimeoutMs`), each call falls back at once to an
 * in-memory limiter of the same size (rate-limiter-flexible's `insuranceLimiter`): limits then
 * hold per replica, so a client gets at most `mutationsPerMinute` × replicas during an outage.
 * Refusing everyone would turn a Redis outage into a gateway outage; letting everyone through
 * would drop the guard rail that protects the paid upstream. The in-memory count starts when the
 * outage does and is forgotten when Redis is back. Nothing waits for a reconnect: the client has
 * no offline queue, and a call in flight when the connection drops fails over at once. Only the
 * calls made while the first connection is being made wait for it (at most `commandTimeoutMs`).
 */
export function createLimits(options: LimitsOptions): Limits {
  const { mutationsPerMinute: points, redis, logger } = options;
  const memory = () => new RateLimiterMemory({ points, duration: WINDOW_SECONDS });
  let limiter: RateLimiterAbstract = memory();
  let client: Redis | undefined;
  let unwatch = () => {};
  let connected: Promise<void> = Promise.resolve();
  if (redis) {
    const timeoutMs = redis.commandTimeoutMs ?? 1000;
    client = new Redis(redis.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: timeoutMs,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    });
    unwatch = watch(client, redactor(redis.url), logger);
    connected = firstConnection(client, timeoutMs);
    limiter = new RateLimiterRedis({
      storeClient: client,
      keyPrefix: `${redis.prefix}:limits:mutations`,
      points,
      duration: WINDOW_SECONDS,
      rejectIfRedisNotReady: true,
      insuranceLimiter: memory(),
    });
  }
  return {
    async consumeMutation(owner) {
      await connected;
      try {
        await limiter.consume(owner);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) {
          throw rateLimited(points, rejection.msBeforeNext);
        }
        throw rejection;
      }
    },
    async close() {
      unwatch();
      client?.disconnect();
    },
  };
}

/**
 * Settles when the first connection is made or fails, or after `timeoutMs`: calls made while the
 * replica starts wait for it (briefly) rather than count on their own.
 */
function firstConnection(client: Redis, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const settle = () => {
      clearTimeout(timer);
      client.off('ready', settle).off('error', settle).off('close', settle);
      resolve();
    };
    const timer = setTimeout(settle, timeoutMs);
    timer.unref();
    client.on('ready', settle).on('error', settle).on('close', settle);
  });
}

/**
 * Logs when the shared budget is lost and when it is back (not every reconnect attempt), until
 * the returned function is called.
 */
function watch(
  client: Redis,
  redact: (text: string) => string,
  logger: LimitsOptions['logger'],
): () => void {
  let shared = true;
  let watching = true;
  const lost = (reason: string) => {
    if (!shared || !watching) return;
    shared = false;
    logger?.warn(
      { reason: redact(reason) },
      'rate limits: Redis unavailable; each replica limits on its own until it is back',
    );
  };
  client.on('error', (error: Error) => lost(error.message));
  client.on('close', () => lost('connection closed'));
  client.on('ready', () => {
    if (shared || !watching) return;
    shared = true;
    logger?.info('rate limits: Redis is back; the budget is shared again');
  });
  return () => {
    watching = false;
  };
}
