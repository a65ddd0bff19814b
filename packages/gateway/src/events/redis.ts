import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';
import { LocalTaskEvents } from './local.js';
import type { TaskEvent, TaskEventStream, TaskEvents } from './types.js';

export interface RedisTaskEventsOptions {
  /** The Redis to meet on, `redis://[[user]:password@]host[:port][/db]`. */
  readonly url: string;
  /** Replicas with the same prefix share events; the channel is `${prefix}:task-events`. */
  readonly prefix: string;
  /** Where connection changes are logged: lost, restored, malformed messages. */
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  /**
   * How long `connect` waits for the subscription before it gives up and throws.
   * @default 10_000
   */
  readonly connectTimeoutMs?: number;
}

/** Wait before reconnect attempt `n`: 50 ms more each time, at most a second. */
const reconnectDelay = (attempt: number) => Math.min(attempt * 50, 1000);

/**
 * A publish made while Redis is down waits in the offline queue for up to this many reconnect
 * attempts (the first 21 take about ten seconds with `reconnectDelay`), then is dropped.
 */
const PUBLISH_RETRIES = 20;

/**
 * Task changes over one Redis pub/sub channel, `${prefix}:task-events`, so that a subscriber on
 * any replica sees the changes made on every replica. `publish` only sends to Redis; what arrives
 * on the channel, including this replica's own events, is handed to a {@link LocalTaskEvents},
 * so every replica delivers the same events in the same order. Each replica filters by task id
 * locally (as graphql-yoga's Redis event target does): one channel, one subscription per replica.
 *
 * Redis pub/sub delivers at most once, so an outage can lose events:
 * - While the subscriber connection is down (ioredis reconnects and this class subscribes again),
 *   `ready()` says why, and the gateway refuses new subscriptions.
 * - A publish while the publisher connection is down waits in ioredis's offline queue and goes out,
 *   in order, when it is back; if Redis stays away longer than a few seconds, the queue is dropped
 *   with a warning every {@link PUBLISH_RETRIES} + 1 reconnect attempts (first after about ten
 *   seconds, then every twenty), so it stays small. Either way, changes made after Redis returns
 *   flow again.
 * - A queued event is lost anyway for replicas that subscribe again after the publisher flushed.
 *
 * Nothing is lost for good: the gateway reads the stored task on every subscribe, and a
 * subscriber that hears nothing for `RESYNC_MS` reads it again, so a reader that missed an event
 * gets the state then (or when it subscribes again), and the next change is pushed.
 * Duplicates and late arrivals are harmless: subscribers drop a `record.version` they already
 * have. `observedAt` is delivered as it was sent.
 */
export class RedisTaskEvents implements TaskEvents {
  readonly #local = new LocalTaskEvents();
  readonly #channel: string;
  readonly #publisher: Redis;
  readonly #subscriber: Redis;
  readonly #logger: Pick<Logger, 'info' | 'warn' | 'error'> | undefined;
  readonly #redact: (text: string) => string;
  /** Whether the subscriber's SUBSCRIBE was confirmed on its current connection. */
  #subscribed = false;
  #lastError: string | undefined;
  /** What `ready()` was when last reported, to log changes only. */
  #wasReady = false;
  #closed = false;
  #onReady: (() => void) | undefined;

  /** Connects both connections and resolves once subscribed; throws (and closes) on timeout. */
  static async connect(options: RedisTaskEventsOptions): Promise<RedisTaskEvents> {
    const events = new RedisTaskEvents(options);
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        events.#onReady = resolve;
        timer = setTimeout(
          () => reject(new Error(`task events: no Redis after ${timeoutMs} ms: ${events.ready()}`)),
          timeoutMs,
        );
      });
    } catch (error) {
      await events.close();
      throw error;
    } finally {
      clearTimeout(timer);
      events.#onReady = undefined;
    }
    return events;
  }

  private constructor(options: RedisTaskEventsOptions) {
    this.#channel = `${options.prefix}:task-events`;
    this.#logger = options.logger;
    this.#redact = redactor(options.url);
    const common: RedisOptions = { retryStrategy: reconnectDelay };
    this.#publisher = new Redis(options.url, { ...common, maxRetriesPerRequest: PUBLISH_RETRIES });
    // Subscribed again by `#subscribe` on every `ready`, so `ready()` turns true only once the
    // server confirmed it (ioredis's own re-subscribe is sent after its `ready` event).
    this.#subscriber = new Redis(options.url, { ...common, autoResubscribe: false });

    for (const connection of [this.#publisher, this.#subscriber]) {
      connection.on('error', (error: Error) => {
        this.#lastError = this.#redact(error.message);
        this.#report();
      });
    }
    this.#publisher.on('ready', () => this.#report());
    this.#publisher.on('close', () => this.#report());
    this.#subscriber.on('ready', () => this.#subscribe());
    this.#subscriber.on('close', () => {
      this.#subscribed = false;
      this.#report();
    });
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#channel) this.#deliver(message);
    });
  }

  publish(event: TaskEvent): void {
    if (this.#closed) return;
    this.#publisher.publish(this.#channel, JSON.stringify(event)).catch((error: Error) => {
      if (this.#closed) return;
      this.#logger?.warn(
        {
          taskId: event.record.id,
          version: event.record.version,
          err: this.#redact(error.message),
        },
        'task events: a change could not be published to Redis; readers get it on their next read',
      );
    });
  }

  subscribe(taskId: string): TaskEventStream {
    return this.#local.subscribe(taskId);
  }

  count(taskId: string): number {
    return this.#local.count(taskId);
  }

  ready(): true | string {
    if (this.#closed) return 'redis task events are closed';
    const publisherUp = this.#publisher.status === 'ready';
    if (this.#subscribed && publisherUp) return true;
    const down = [this.#subscribed ? [] : ['subscriber'], publisherUp ? [] : ['publisher']].flat();
    return `redis unavailable: ${down.join(' and ')} not connected (${this.#lastError ?? 'connecting'})`;
  }

  /** Drops every local subscription (`LocalTaskEvents.close`) and closes both connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#subscribed = false;
    await this.#local.close();
    await Promise.all([quit(this.#publisher), quit(this.#subscriber)]);
  }

  #subscribe() {
    this.#subscriber.subscribe(this.#channel).then(
      () => {
        this.#subscribed = true;
        this.#lastError = undefined;
        this.#report();
      },
      (error: Error) => {
        // The connection went away again; its next `ready` subscribes again.
        if (this.#closed) return;
        this.#lastError = this.#redact(error.message);
        this.#logger?.warn({ err: this.#lastError }, 'task events: subscribing to Redis failed');
      },
    );
  }

  #deliver(message: string) {
    let event: unknown;
    try {
      event = JSON.parse(message);
    } catch {
      event = undefined;
    }
    if (!isTaskEvent(event)) {
      this.#logger?.error(
        { channel: this.#channel, length: message.length },
        'task events: dropped a message that is not a task event',
      );
      return;
    }
    this.#local.publish(event);
  }

  /** Logs when delivery stops or resumes, and wakes `connect`. */
  #report() {
    if (this.#closed) return;
    const ready = this.ready();
    if ((ready === true) === this.#wasReady) return;
    const first = this.#onReady !== undefined;
    this.#wasReady = ready === true;
    if (ready === true) {
      this.#logger?.info(
        { channel: this.#channel },
        first ? 'task events: subscribed to Redis' : 'task events: Redis is back',
      );
      this.#onReady?.();
    } else {
      this.#logger?.warn(
        { reason: ready },
        'task events: Redis lost; new subscriptions are refused until it is back',
      );
    }
  }
}

/**
 * Replaces the URL's password (as written and decoded) wherever it appears: for reasons and logs
 * about a Redis connection.
 */
export function redactor(url: string): (text: string) => string {
  let password = '';
  try {
    password = new URL(url).password;
  } catch {
    // Not a URL ioredis could use either: it says so itself, without our help.
  }
  const secrets = [password, safeDecode(password)].filter((secret) => secret.length > 0);
  return (text) => secrets.reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function isTaskEvent(value: unknown): value is TaskEvent {
  if (typeof value !== 'object' || value === null) return false;
  const { record, observedAt } = value as { record?: unknown; observedAt?: unknown };
  if (typeof observedAt !== 'number' || typeof record !== 'object' || record === null) return false;
  const { id, version } = record as { id?: unknown; version?: unknown };
  return typeof id === 'string' && typeof version === 'number';
}

/** QUIT when connected (pending publishes go out first), else just drop the connection. */
async function quit(connection: Redis): Promise<void> {
  if (connection.status === 'ready') {
    try {
      await connection.quit();
      return;
    } catch {
      // Lost while quitting: disconnect below.
    }
  }
  connection.disconnect();
}
