/**
 * One replica's BullMQ tracking as a process of its own, so that a test can SIGKILL it in the
 * middle of a read (a real death: no `finally`, no lock released). Configured by environment;
 * writes one JSON line per event to stdout: `{"event":"started"}`, then
 * `{"event":"reading","taskId":UPSTREAM_ID}` as each upstream read begins.
 *
 * Run: node --conditions=@wan-video/source --import tsx test/support/bullmq-worker-process.ts
 */
import { NovitaClient, type TaskReader } from '@wan-video/core';
import pino from 'pino';
import { LocalTaskEvents } from '../../src/events/local.js';
import { SqliteTaskStore } from '../../src/store/sqlite.js';
import { TaskWriter } from '../../src/task-writer.js';
import { BullMqTracking } from '../../src/tracking/bullmq.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};

const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const logger = pino({ level: 'silent' });
const store = new SqliteTaskStore(env('TRACKING_DATABASE_PATH'));
const writer = new TaskWriter({ store, events: new LocalTaskEvents(), logger });
const client = new NovitaClient({ apiKey: 'test-key', baseUrl: env('TRACKING_UPSTREAM_URL') });
const reader: TaskReader = {
  getTaskResult(taskId, options) {
    say({ event: 'reading', taskId });
    return client.getTaskResult(taskId, options);
  },
};
const tracking = new BullMqTracking({
  redis: { url: env('TRACKING_REDIS_URL'), prefix: env('TRACKING_REDIS_PREFIX') },
  store,
  writer,
  reader,
  logger,
  pollPolicy: JSON.parse(env('TRACKING_POLL_POLICY')),
  lockDurationMs: Number(env('TRACKING_LOCK_MS')),
  stalledIntervalMs: Number(env('TRACKING_STALLED_MS')),
});
await tracking.start();
say({ event: 'started' });

process.once('SIGTERM', () => {
  void tracking.stop().finally(() => process.exit(0));
});
