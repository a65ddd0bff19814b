import { randomUUID } from 'node:crypto';
import type { ValidationIssue } from '@wan-video/core';
import { badUserInput } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskRecord, TaskStore } from '../store/types.js';
import { taskResultEventOf, webhookIdOf } from './event.js';
import { sendSigned } from './send.js';
import { clientSecret, MASTER_SECRET_SETTING, newMasterSecret, signedHeaders } from './signing.js';
import {
  checkWebhookTarget,
  isWebhookUrlError,
  parseWebhookUrl,
  type ResolveHost,
} from './ssrf.js';
import type { ClaimedDelivery, DeliveryOutcome, WebhookDeliveryRecord } from './types.js';

/** Tries per event, the first included. */
export const MAX_ATTEMPTS = 5;
/** The wait after each failed try (1, 2, 4, 8 s), before `retryScale`. */
export const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000] as const;
/** How long a receiver has to answer one try. */
export const ATTEMPT_TIMEOUT_MS = 5000;
/** A claim outlives a try by this much; a dispatcher that died mid-try lets go after it. */
const LEASE_MARGIN_MS = 5000;
/** The most tries one dispatcher has in flight at once (a hanging receiver holds a slot 5 s). */
const CONCURRENCY = 64;
/**
 * The most of them for one client: receivers that hang hold that client's slots, never the
 * others'. A delivery claimed past it is let go at once, and taken again at a later look.
 */
const PER_OWNER = 8;
/** The longest between two looks at the outbox (tasks another replica ended, claims run out). */
const SWEEP_MS = 1000;
/**
 * Kicks this close together share one look at the outbox: under load that is one look (two
 * queries) per gap, not one per task ended, for at most this much more delay of a webhook.
 */
const KICK_GAP_MS = 20;

/** The test event a client may ask for instead of a task (the seed's `test_mode`). */
export type TestTaskStatus = 'TASK_STATUS_SUCCEED' | 'TASK_STATUS_FAILED';

/** `generate`'s webhook option, as REST and GraphQL pass it. */
export interface WebhookOption {
  readonly url: string;
  readonly testMode?: {
    readonly enabled: boolean;
    readonly returnTaskStatus?: TestTaskStatus | undefined;
  } | null;
}

export interface ClientWebhooksOptions {
  /** Tasks, to build each event from. */
  readonly tasks: TaskStore;
  readonly logger: Logger;
  /** WEBHOOK_ALLOW_PRIVATE: loopback and private receivers allowed (local development). */
  readonly allowPrivate: boolean;
  /** WEBHOOK_SIGNING_SECRET; unset: one made once and kept in the store. */
  readonly signingSecret: string | undefined;
  /** Whether other processes share the outbox (Postgres): claims are then left to run out. */
  readonly shared: boolean;
  /** Told the master secret once known, so that it is scrubbed from logs. */
  readonly onSecret?: (secret: string) => void;
  /** How host names are resolved (the operating system's DNS by default). */
  readonly resolve?: ResolveHost;
  /**
   * Multiplies the waits between tries (tests: 0.05 makes 1, 2, 4, 8 s into 50 to 400 ms).
   * @default 1
   */
  readonly retryScale?: number;
  /**
   * How long a receiver has to answer one try.
   * @default 5000
   */
  readonly timeoutMs?: number;
}

/**
 * Signed webhooks to clients: each client's secret, the check of a webhook URL when a task is
 * created, and the dispatcher of the persistent outbox. A task created with a webhook has its
 * outbox row written with it; the task reaching SUCCEEDED or FAILED makes the row due (no other
 * write, so nothing falls between the two). The dispatcher claims due rows (one dispatcher at a
 * time, across replicas), POSTs the seed's `ASYNC_TASK_RESULT` event signed per Standard
 * Webhooks with the owner's secret, and records each try: at least once, `MAX_ATTEMPTS` tries with
 * backoff, the same `webhook-id` on every one. It runs when a task ends here (`kick`), and looks
 * at the outbox every second anyway (tasks ended on another replica, tries that are due, claims of
 * a replica that died).
 */
export class ClientWebhooks {
  readonly #options: ClientWebhooksOptions;
  #master: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Tries in flight, each settled on its own: a slow one holds its slot, not the others. */
  readonly #trying = new Set<Promise<void>>();
  /** Tries in flight by owner. */
  readonly #tryingBy = new Map<string, number>();
  #again = false;
  /** Kicked while a round ran: look again once the gap since its start has passed. */
  #kicked = false;
  /** When the last round started, and when the timer is set to fire. */
  #roundAt = 0;
  #timerAt = Number.POSITIVE_INFINITY;
  #stopped = true;
  readonly #inFlight = new AbortController();

  constructor(options: ClientWebhooksOptions) {
    this.#options = options;
  }

  /** Whether the store keeps an outbox (both shipped stores do). */
  get available(): boolean {
    return this.#options.tasks.webhooks !== undefined;
  }

  /** Loads (or makes) the master secret and starts the dispatcher. */
  async start(): Promise<void> {
    const store = this.#options.tasks.webhooks;
    if (!store) return;
    this.#master =
      this.#options.signingSecret ?? (await store.setting(MASTER_SECRET_SETTING, newMasterSecret));
    this.#options.onSecret?.(this.#master);
    // One process per SQLite file: any claim left was this file's last process's, now dead.
    if (!this.#options.shared) await store.releaseAll();
    this.#stopped = false;
    this.kick();
  }

  /** Stops the dispatcher; a try in flight is cut short and tried again later (at least once). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#inFlight.abort();
    await this.#running;
    await Promise.all([...this.#trying]);
  }

  /** The owner's signing secret (`whsec_…`): only ever shown to that owner. */
  secretFor(owner: string): string {
    if (this.#master === undefined) throw new Error('client webhooks are not started');
    return clientSecret(this.#master, owner);
  }

  /** The delivery of a task's event, when the task was created with a webhook. */
  async delivery(taskId: string): Promise<WebhookDeliveryRecord | undefined> {
    return this.#options.tasks.webhooks?.delivery(taskId);
  }

  /**
   * Checks a webhook option at create time: the URL's syntax and scheme, and every address its
   * host resolves to (the SSRF guard); the test mode's status. Throws BAD_USER_INPUT naming
   * `webhook.url` (or `webhook.testMode…`); returns the URL to store.
   */
  async check(option: WebhookOption): Promise<string> {
    const issues: ValidationIssue[] = [];
    if (!this.available) {
      issues.push({ path: ['url'], rule: 'format', message: 'webhooks are not available' });
    }
    const testMode = option.testMode;
    if (testMode !== undefined && testMode !== null) {
      if (typeof testMode.enabled !== 'boolean') {
        issues.push({
          path: ['testMode', 'enabled'],
          rule: 'type',
          message: 'webhook.testMode.enabled must be true or false',
        });
      }
      const status = testMode.returnTaskStatus;
      if (
        status !== undefined &&
        status !== null &&
        status !== 'TASK_STATUS_SUCCEED' &&
        status !== 'TASK_STATUS_FAILED'
      ) {
        issues.push({
          path: ['testMode', 'returnTaskStatus'],
          rule: 'one_of',
          message:
            'webhook.testMode.returnTaskStatus must be TASK_STATUS_SUCCEED or TASK_STATUS_FAILED',
        });
      }
    }
    let url: URL | undefined;
    try {
      if (typeof option.url !== 'string') {
        issues.push({ path: ['url'], rule: 'type', message: 'webhook.url must be a string' });
      } else {
        url = parseWebhookUrl(option.url);
        await checkWebhookTarget(url, {
          allowPrivate: this.#options.allowPrivate,
          ...(this.#options.resolve ? { resolve: this.#options.resolve } : {}),
        });
      }
    } catch (error) {
      if (!isWebhookUrlError(error)) throw error;
      issues.push({
        path: ['url'],
        rule: 'format',
        message: error.message,
      });
    }
    if (issues.length > 0 || url === undefined) throw badUserInput('webhook', issues);
    return url.href;
  }

  /** A task ended on this process: look at the outbox now rather than at the next sweep. */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running !== undefined) {
      this.#kicked = true;
      return;
    }
    const at = Math.max(Date.now(), this.#roundAt + KICK_GAP_MS);
    if (at < this.#timerAt) this.#schedule(at - Date.now());
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timerAt = Number.POSITIVE_INFINITY;
    if (this.#stopped) return;
    this.#timerAt = Date.now() + delayMs;
    this.#timer = setTimeout(() => {
      this.#timerAt = Number.POSITIVE_INFINITY;
      this.#running = this.#round().finally(() => {
        this.#running = undefined;
      });
    }, delayMs);
    this.#timer.unref();
  }

  /** Claims what is due and tries it, until nothing is; then waits for the next due time. */
  async #round(): Promise<void> {
    const store = this.#options.tasks.webhooks;
    if (!store) return;
    let delay = SWEEP_MS;
    this.#roundAt = Date.now();
    this.#kicked = false;
    try {
      do {
        this.#again = false;
        const now = Date.now();
        const token = randomUUID();
        const lease = now + (this.#options.timeoutMs ?? ATTEMPT_TIMEOUT_MS) + LEASE_MARGIN_MS;
        const free = CONCURRENCY - this.#trying.size;
        if (free <= 0) break; // each try that ends looks again (kick)
        const full = [...this.#tryingBy].filter(([, n]) => n >= PER_OWNER).map(([owner]) => owner);
        const claimed = await store.claimDue(now, lease, token, free, full);
        // One batch may still hold more of an owner than its share: the rest go back at once.
        let started = 0;
        for (const delivery of claimed) {
          if ((this.#tryingBy.get(delivery.owner) ?? 0) >= PER_OWNER) {
            await store.release(delivery.taskId, delivery.token);
            continue;
          }
          this.#start(delivery);
          started++;
        }
        if (claimed.length === free && started > 0) this.#again = true;
      } while (this.#again && !this.#stopped);
      const due = await store.nextDueAt();
      if (due !== undefined) delay = Math.min(SWEEP_MS, Math.max(10, due - Date.now()));
    } catch (error) {
      this.#options.logger.warn(
        { err: error },
        'the webhook outbox could not be read; trying again',
      );
    } finally {
      const kickedAt = this.#roundAt + KICK_GAP_MS - Date.now();
      if (this.#again) delay = 0;
      else if (this.#kicked) delay = Math.max(0, Math.min(delay, kickedAt));
      if (!this.#stopped) this.#schedule(delay);
    }
  }

  /** Starts a try without waiting for it; when it ends, the outbox is looked at again. */
  #start(delivery: ClaimedDelivery): void {
    const owner = delivery.owner;
    this.#tryingBy.set(owner, (this.#tryingBy.get(owner) ?? 0) + 1);
    const trying = this.#attempt(delivery).finally(() => {
      this.#trying.delete(trying);
      const left = (this.#tryingBy.get(owner) ?? 1) - 1;
      if (left > 0) this.#tryingBy.set(owner, left);
      else this.#tryingBy.delete(owner);
      this.kick();
    });
    this.#trying.add(trying);
  }

  /** One try of one claimed delivery, recorded (or, cut short by shutdown, released). */
  async #attempt(delivery: ClaimedDelivery): Promise<void> {
    const { tasks, logger } = this.#options;
    const store = tasks.webhooks as NonNullable<TaskStore['webhooks']>;
    try {
      const task = await tasks.get(delivery.taskId);
      if (!task) {
        await store.release(delivery.taskId, delivery.token);
        return;
      }
      const at = Date.now();
      const result = await this.#send(delivery, task, at);
      if (result === undefined) {
        await store.release(delivery.taskId, delivery.token);
        return;
      }
      const attempt = delivery.attempts.length + 1;
      const attempts = [
        ...delivery.attempts,
        {
          attempt,
          at,
          statusCode: result.statusCode,
          error: result.error,
          durationMs: Date.now() - at,
        },
      ];
      const outcome: DeliveryOutcome = result.delivered
        ? { status: 'DELIVERED', attempts, nextAttemptAt: at }
        : attempt >= MAX_ATTEMPTS
          ? { status: 'FAILED', attempts, nextAttemptAt: at }
          : {
              status: 'PENDING',
              attempts,
              nextAttemptAt:
                Date.now() +
                (RETRY_DELAYS_MS[attempt - 1] ?? 8000) * (this.#options.retryScale ?? 1),
            };
      const recorded = await store.record(delivery.taskId, delivery.token, outcome);
      const fields = {
        taskId: task.id,
        owner: delivery.owner,
        attempt,
        statusCode: result.statusCode,
        error: result.error,
        delivery: outcome.status,
        recorded,
      };
      if (result.delivered) logger.info(fields, 'webhook delivered');
      else if (outcome.status === 'FAILED') logger.warn(fields, 'webhook failed: no tries left');
      else logger.info(fields, 'webhook try failed; trying again');
    } catch (error) {
      logger.warn(
        { err: error, taskId: delivery.taskId },
        'a webhook try could not be made or recorded; its claim runs out and it is tried again',
      );
    }
  }

  /** Signs and POSTs the event; `undefined` when shutdown cut the try short. */
  async #send(delivery: ClaimedDelivery, task: TaskRecord, at: number) {
    const body = JSON.stringify(taskResultEventOf(task, delivery.origin));
    const headers = signedHeaders(
      this.secretFor(delivery.owner),
      webhookIdOf(task),
      new Date(at),
      body,
    );
    const result = await sendSigned(delivery.url, headers, body, {
      allowPrivate: this.#options.allowPrivate,
      timeoutMs: this.#options.timeoutMs ?? ATTEMPT_TIMEOUT_MS,
      signal: this.#inFlight.signal,
      ...(this.#options.resolve ? { resolve: this.#options.resolve } : {}),
    });
    return this.#inFlight.signal.aborted && !result.delivered ? undefined : result;
  }
}
