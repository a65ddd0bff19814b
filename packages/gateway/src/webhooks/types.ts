/** Where a delivery of a task's final event stands. */
export const WEBHOOK_DELIVERY_STATUSES = ['PENDING', 'DELIVERED', 'FAILED'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

/** One try to deliver an event. */
export interface WebhookAttempt {
  /** 1 to `MAX_ATTEMPTS`. */
  readonly attempt: number;
  /** When it was made (epoch ms). */
  readonly at: number;
  /** The receiver's HTTP status, when it answered. */
  readonly statusCode: number | null;
  /** Why the try failed (null when it was delivered). */
  readonly error: string | null;
  readonly durationMs: number;
}

/** A client's webhook for one task, as the outbox keeps it. */
export interface WebhookDeliveryRecord {
  readonly taskId: string;
  readonly owner: string;
  readonly url: string;
  /** The origin of the video links in the event (the one the client reached at create time). */
  readonly origin: string;
  /** A test event: no upstream task was made. */
  readonly test: boolean;
  readonly status: WebhookDeliveryStatus;
  readonly attempts: readonly WebhookAttempt[];
  /** When the next try is due, once the task has ended (epoch ms). */
  readonly nextAttemptAt: number;
  readonly createdAt: number;
}

/** The webhook a new task is created with, written in the task's own insert. */
export interface NewWebhook {
  readonly url: string;
  readonly origin: string;
  readonly test: boolean;
}

/** A delivery taken by one dispatcher until `claimedUntil`; `token` proves whose claim it is. */
export interface ClaimedDelivery extends WebhookDeliveryRecord {
  readonly token: string;
}

/** What a try changed. */
export interface DeliveryOutcome {
  readonly status: WebhookDeliveryStatus;
  readonly attempts: readonly WebhookAttempt[];
  readonly nextAttemptAt: number;
}

/**
 * The outbox of signed webhooks to clients, beside the tasks (the same database, so a delivery
 * row is written with its task, and a task reaching its final state is what makes it due).
 * One seam, one implementation per store.
 */
export interface WebhookStore {
  /** A shared setting: the stored value, or `create()`'s, stored first if none was (atomic). */
  setting(name: string, create: () => string): Promise<string>;
  delivery(taskId: string): Promise<WebhookDeliveryRecord | undefined>;
  /**
   * Claims up to `limit` deliveries that are due (PENDING, their task ended, `nextAttemptAt` past)
   * and not claimed by anyone else, until `claimedUntil`: one dispatcher at a time, across
   * processes sharing the store. Deliveries of the owners in `skipOwners` are left for later
   * (they have their share of tries in flight already).
   */
  claimDue(
    now: number,
    claimedUntil: number,
    token: string,
    limit: number,
    skipOwners?: readonly string[],
  ): Promise<readonly ClaimedDelivery[]>;
  /** Records a try and releases the claim; `false` when the claim was no longer `token`'s. */
  record(taskId: string, token: string, outcome: DeliveryOutcome): Promise<boolean>;
  /** Lets go of a claim without recording a try (shutdown cut it short). */
  release(taskId: string, token: string): Promise<void>;
  /** Lets go of every claim: only for a store this process alone writes (SQLite, at start). */
  releaseAll(): Promise<void>;
  /** When the earliest PENDING delivery of an ended task is due (or its claim ends), if any. */
  nextDueAt(): Promise<number | undefined>;
}
