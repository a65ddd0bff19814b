import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BACKOFF,
  fullJitterDelay,
  isConnectionRefused,
  parseRetryAfter,
  RETRYABLE,
} from '../src/index.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  it('reads delta seconds and HTTP dates', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 1.5 ', now)).toBe(1500);
    expect(parseRetryAfter('Wed, 25 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 25 Nov 2026 11:00:00 GMT', now)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    for (const value of [undefined, null, '', 'soon', '-5', '1e3'])
      expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('fullJitterDelay', () => {
  it('stays within [0, min(max, base * 2^(retry-1)))', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, r) => {
          const delay = fullJitterDelay(retry, DEFAULT_BACKOFF, () => r);
          const ceiling = Math.min(
            DEFAULT_BACKOFF.maxDelayMs,
            DEFAULT_BACKOFF.baseDelayMs * 2 ** (retry - 1),
          );
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(ceiling);
        },
      ),
    );
  });
});

describe('RETRYABLE', () => {
  it('retries a create only when no task can exist', () => {
    const retried = Object.entries(RETRYABLE.createTask)
      .filter(([, yes]) => yes)
      .map(([failure]) => failure);
    expect(retried.sort()).toEqual(['connection_refused', 'rate_limited']);
  });
  it('retries every transient read failure', () => {
    const notRetried = Object.entries(RETRYABLE.getTaskResult)
      .filter(([, yes]) => !yes)
      .map(([failure]) => failure);
    expect(notRetried).toEqual(['client_error']);
  });
});

describe('isConnectionRefused', () => {
  it('needs every system error code in the chain to say "never sent"', () => {
    const refused = Object.assign(new Error('connect'), { code: 'ECONNREFUSED' });
    const reset = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    expect(isConnectionRefused(new TypeError('fetch failed', { cause: refused }))).toBe(true);
    expect(
      isConnectionRefused(
        new TypeError('fetch failed', { cause: new AggregateError([refused, refused]) }),
      ),
    ).toBe(true);
    expect(
      isConnectionRefused(
        new TypeError('fetch failed', { cause: new AggregateError([refused, reset]) }),
      ),
    ).toBe(false);
    expect(isConnectionRefused(new TypeError('fetch failed', { cause: reset }))).toBe(false);
    expect(isConnectionRefused(new TypeError('Failed to fetch'))).toBe(false);
  });
});
