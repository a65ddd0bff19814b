/** Task changes over Redis: every replica on one prefix delivers every change, in one order. */
import { parseVideoInput } from '@wan-video/core';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisTaskEvents, type RedisTaskEventsOptions } from '../src/events/redis.js';
import type { TaskEvent, TaskEventStream } from '../src/events/types.js';
import type { TaskRecord } from '../src/store/types.js';
import { createRedisPrefix, REDIS_URL, startRedis } from './support/services.js';

const input = parseVideoInput({ prompt: 'a lighthouse at dusk, waves', width: 832, height: 480 });

const record = (id: string, version: number): TaskRecord => ({
  id,
  owner: 'alpha',
  idempotencyKey: null,
  inputHash: 'hash',
  input,
  upstreamTaskId: `up-${id}`,
  status: 'PROCESSING',
  progressPercent: version,
  etaSeconds: null,
  failureReason: null,
  videos: [],
  seedUsed: null,
  webhookSecretHash: null,
  version,
  createdAt: 1,
  updatedAt: 1 + version,
  completedAt: null,
  deadlineAt: 1_000_000,
});

const event = (id: string, version: number): TaskEvent => ({
  record: record(id, version),
  observedAt: 1_000 + version + 0.25,
});

/** The stream's next event, or a failure after `ms`: nothing in these tests may hang. */
async function next(stream: TaskEventStream, ms = 5_000): Promise<TaskEvent> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
  });
  try {
    const result = await Promise.race([stream.next(), timeout]);
    if (result.done) throw new Error('the stream ended');
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly text: string;
}

/** A logger that keeps every line, as JSON text, to search. */
function captureLogger() {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (fields: unknown, message?: string): void => {
      lines.push({ level, text: JSON.stringify([fields, message]) });
    };
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

const open: RedisTaskEvents[] = [];
const cleanups: (() => Promise<void>)[] = [];

async function connect(options: RedisTaskEventsOptions): Promise<RedisTaskEvents> {
  const events = await RedisTaskEvents.connect(options);
  open.push(events);
  return events;
}

/** Two replicas on one fresh prefix of the shared Redis. */
async function twoReplicas() {
  const { prefix, drop } = createRedisPrefix();
  cleanups.push(drop);
  return Promise.all([connect({ url: REDIS_URL, prefix }), connect({ url: REDIS_URL, prefix })]);
}

/** Waits on `ready()` itself: polled every 20 ms, for at most 10 s. */
const until = (check: () => void) => vi.waitFor(check, { timeout: 10_000, interval: 20 });

afterEach(async () => {
  await Promise.all(open.splice(0).map((events) => events.close()));
  await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
});

describe('RedisTaskEvents', () => {
  it('is ready once connected, and delivers a change from A to subscribers on B and on A', async () => {
    const [a, b] = await twoReplicas();
    expect(a.ready()).toBe(true);
    expect(b.ready()).toBe(true);
    const onA = a.subscribe('t1');
    const onB = b.subscribe('t1');
    expect(a.count('t1')).toBe(1);
    expect(b.count('t1')).toBe(1);

    const sent = event('t1', 3);
    a.publish(sent);
    const received = await next(onB);
    expect(received).toEqual(sent);
    // Through JSON and back: the observedAt is the publisher's, fraction and all.
    expect(received.observedAt).toBe(1_003.25);
    expect(await next(onA)).toEqual(sent);
  });

  it('hands a subscriber only its own task', async () => {
    const [a, b] = await twoReplicas();
    const other = b.subscribe('t2');
    const mine = b.subscribe('t1');
    a.publish(event('t1', 1));
    a.publish(event('t2', 1));
    // Same channel, same order: had t1's change leaked to t2's subscriber, it would come first.
    expect((await next(other)).record.id).toBe('t2');
    expect((await next(mine)).record.id).toBe('t1');
  });

  it('keeps prefixes apart', async () => {
    const [a, b] = await twoReplicas();
    const elsewhere = createRedisPrefix();
    cleanups.push(elsewhere.drop);
    const c = await connect({ url: REDIS_URL, prefix: elsewhere.prefix });
    const onB = b.subscribe('t1');
    const onC = c.subscribe('t1');

    a.publish(event('t1', 1));
    expect((await next(onB)).record.version).toBe(1);
    // Redis had pushed A's message to every subscriber of its channel before B read it; C's own
    // publish comes after, so C's first event would be A's had the prefixes been shared.
    c.publish(event('t1', 99));
    expect((await next(onC)).record.version).toBe(99);
  });

  it('delivers many changes in one order on every replica, each publisher in its own order', async () => {
    const [a, b] = await twoReplicas();
    const onA = a.subscribe('t1');
    const onB = b.subscribe('t1');
    const total = 400;
    for (let version = 1; version <= total; version++) {
      (version % 2 === 0 ? a : b).publish(event('t1', version));
    }
    const seenA: number[] = [];
    const seenB: number[] = [];
    for (let index = 0; index < total; index++) {
      seenA.push((await next(onA)).record.version);
      seenB.push((await next(onB)).record.version);
    }
    expect(seenB).toEqual(seenA);
    expect(seenA.filter((version) => version % 2 === 0)).toEqual(
      Array.from({ length: total / 2 }, (_, index) => 2 * (index + 1)),
    );
    expect(seenA.filter((version) => version % 2 === 1)).toEqual(
      Array.from({ length: total / 2 }, (_, index) => 2 * index + 1),
    );
  });

  it('says why it is not ready while Redis is down, and delivers again once it is back', async () => {
    const redis = await startRedis();
    cleanups.push(redis.stop);
    const logA = captureLogger();
    const a = await connect({ url: redis.url, prefix: 'outage', logger: logA.logger });
    const b = await connect({ url: redis.url, prefix: 'outage' });
    const onB = b.subscribe('t1');
    const onA = a.subscribe('t1');

    await redis.kill();
    await until(() => {
      expect(a.ready()).toMatch(/^redis unavailable: /);
      expect(b.ready()).toMatch(/^redis unavailable: /);
    });
    expect(logA.lines).toContainEqual(
      expect.objectContaining({ level: 'warn', text: expect.stringContaining('Redis lost') }),
    );

    // Held in the offline queue: delivered late if the subscribers are back first, else lost
    // (readers recover it from the store). Either way it must not stop what follows.
    a.publish(event('t1', 5));

    await redis.restart();
    await until(() => {
      expect(a.ready()).toBe(true);
      expect(b.ready()).toBe(true);
    });
    expect(logA.lines).toContainEqual(
      expect.objectContaining({ level: 'info', text: expect.stringContaining('Redis is back') }),
    );

    a.publish(event('t1', 7));
    for (const stream of [onB, onA]) {
      const seen = [(await next(stream)).record.version];
      if (seen[0] === 5) seen.push((await next(stream)).record.version);
      expect(seen.at(-1)).toBe(7);
    }
    // The subscriptions outlived the outage: still one each, on the same streams.
    expect(a.count('t1')).toBe(1);
    expect(b.count('t1')).toBe(1);
  });

  it('never shows the password from the URL, in the reason or the logs', async () => {
    const redis = await startRedis();
    cleanups.push(redis.stop);
    const password = 'pw-s3cret-9f2c';
    // Set on this test's own server only; a killed server forgets it.
    const setter = new Redis(redis.url);
    await setter.config('SET', 'requirepass', password);
    setter.disconnect();

    const { lines, logger } = captureLogger();
    const events = await connect({
      url: `redis://:${password}@127.0.0.1:${redis.port}`,
      prefix: 'pw',
      logger,
    });
    expect(events.ready()).toBe(true);
    await redis.kill();
    await until(() => expect(events.ready()).toMatch(/^redis unavailable: /));
    expect(events.ready()).not.toContain(password);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.text).not.toContain(password);
  });

  it('connect gives up on a Redis that is not there, after its timeout', async () => {
    const redis = await startRedis();
    await redis.kill();
    await expect(
      RedisTaskEvents.connect({ url: redis.url, prefix: 'none', connectTimeoutMs: 300 }),
    ).rejects.toThrow(/no Redis after 300 ms: redis unavailable: /);
  });

  it('close drops the local subscriptions and says it is closed', async () => {
    const [a] = await twoReplicas();
    a.subscribe('t1');
    await a.close();
    expect(a.count('t1')).toBe(0);
    expect(a.ready()).toBe('redis task events are closed');
    a.publish(event('t1', 1));
  });
});
