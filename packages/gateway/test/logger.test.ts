/**
 * The logger never fails to log: errors whose `message` or `name` are prototype getters
 * (DOMException, and libraries' own classes) are serialised like any other, secrets scrubbed.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';

const SECRET = 'sk-logger-test-secret-0123';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', secrets: [SECRET], destination }) };
}

class GetterError extends Error {
  override get message() {
    return `the lock timed out for ${SECRET}`;
  }
  get code() {
    return '55P03';
  }
}

describe('the logger', () => {
  it('logs a DOMException and an error with getter-only fields, one JSON line each, scrubbed', () => {
    const { lines, logger } = capture();
    logger.warn({ err: new DOMException(`aborted with ${SECRET}`, 'AbortError') }, 'first');
    logger.warn({ err: new GetterError() }, 'second');
    logger.flush();
    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((line) => JSON.parse(line));
    expect(first.err).toMatchObject({ type: 'DOMException', message: 'aborted with [redacted]' });
    expect(second.err).toMatchObject({
      type: 'GetterError',
      message: 'the lock timed out for [redacted]',
    });
    expect(lines.join('\n')).not.toContain(SECRET);
  });
});
