/** The per-minute video budget: one per client across replicas (Redis), or per process (memory). */
import { GraphQLError } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { createLimits, type LimitsOptions } from '../src/limits/rate.js';
import type { Limits } from '../src/limits/types.js';
import { createRedisPrefix, REDIS_URL, startRedis } from './support/services.js';

const PER_MINUTE = 5;

const open: Limits[] = [];
const cleanups: (() => Promise<void>)[] = [];

function limits(redis?: LimitsOptions['redis']): Limits {
  const created = createLimits({ mutationsPerMinute: PER_MINUTE, ...(redis ? { redis } : {}) });
  open.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((each) => each.close()));
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

/** Settles as `promise` does, or fails after `ms`: no call to the limits may hang. */
async function within<T>(promise: Promise<T>, ms = 2_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What one call did: allowed, or the error it was refused with. */
async function consume(target: Limits, owner: string): Promise<'allowed' | GraphQLError> {
  try {
    await within(target.consumeMutation(owner));
    return 'allowed';
  } catch (error) {
    if (error instanceof GraphQLError) return error;
    throw error;
  }
}

function expectRateLimited(outcome: 'allowed' | GraphQLError) {
  expect(outcome).toBeInstanceOf(GraphQLError);
  const error = outcome as GraphQLError;
  const retryAfterSeconds = error.extensions.retryAfterSeconds;
  expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'rate' });
  expect(retryAfterSeconds).toBeGreaterThanOrEqual(1);
  expect(retryAfterSeconds).toBeLessThanOrEqual(60);
  expect(error.message).toBe(
    `Too many videos requested: at most ${PER_MINUTE} a minute. Try again in ${retryAfterSeconds} s.`,
  );
}

describe('createLimits with Redis', () => {
  it('two replicas on one prefix share one budget per client', async () => {
    const { prefix, drop } = createRedisPrefix();
    cleanups.push(drop);
    const a = limits({ url: REDIS_URL, prefix });
    const b = limits({ url: REDIS_URL, prefix });

    const outcomes = [];
    for (let call = 0; call < PER_MINUTE; call++) {
      outcomes.push(await consume(call % 2 === 0 ? a : b, 'alpha'));
    }
    expect(outcomes).toEqual(Array(PER_MINUTE).fill('allowed'));
    expectRateLimited(await consume(a, 'alpha'));
    expectRateLimited(await consume(b, 'alpha'));
    // Per client: another one still has its whole budget.
    expect(await consume(b, 'beta')).toBe('allowed');
  });

  it('keeps limiting, per replica, while Redis is down, and never waits for it', async () => {
    const redis = await startRedis();
    cleanups.push(redis.stop);
    const a = limits({ url: redis.url, prefix: 'outage' });
    const b = limits({ url: redis.url, prefix: 'outage' });
    expect(await consume(a, 'alpha')).toBe('allowed');
    await redis.kill();

    for (let call = 0; call < PER_MINUTE; call++) {
      expect(await consume(a, 'alpha')).toBe('allowed');
    }
    expectRateLimited(await consume(a, 'alpha'));
    // Each replica counts on its own meanwhile.
    expect(await consume(b, 'alpha')).toBe('allowed');
  });

  it('prefixes are separate budgets', async () => {
    const one = createRedisPrefix();
    const two = createRedisPrefix();
    cleanups.push(one.drop, two.drop);
    const a = limits({ url: REDIS_URL, prefix: one.prefix });
    const b = limits({ url: REDIS_URL, prefix: two.prefix });
    for (let call = 0; call < PER_MINUTE; call++) {
      expect(await consume(a, 'alpha')).toBe('allowed');
    }
    expectRateLimited(await consume(a, 'alpha'));
    expect(await consume(b, 'alpha')).toBe('allowed');
  });
});

describe('createLimits in memory', () => {
  it('gives each instance its own budget per client', async () => {
    const a = limits();
    const b = limits();
    for (let call = 0; call < PER_MINUTE; call++) {
      expect(await consume(a, 'alpha')).toBe('allowed');
      expect(await consume(b, 'alpha')).toBe('allowed');
    }
    expectRateLimited(await consume(a, 'alpha'));
    expectRateLimited(await consume(b, 'alpha'));
    expect(await consume(a, 'beta')).toBe('allowed');
  });
});
