import type { ResolvedVideoInput, TaskSnapshot, TaskStatus, VideoAsset } from '@wan-video/core';
import type { NewWebhook, WebhookStore } from '../webhooks/types.js';

/**
 * Internal states a task can be in before the upstream has it. `CREATING`: a row written before
 * the upstream create, so an idempotency key is taken before anything is paid for. Outside the
 * gateway a CREATING task reads as QUEUED.
 */
export type StoredStatus = TaskStatus | 'CREATING';

/** One task as the gateway keeps it. */
export interface TaskRecord {
  readonly id: string;
  /** The client that made it (a hash of its API key; `anonymous` without auth). */
  readonly owner: string;
  readonly idempotencyKey: string | null;
  /** A hash of the validated input, to tell a reused idempotency key with another input. */
  readonly inputHash: string;
  /** The request as accepted, defaults filled; `seed` as requested (`-1`: random). */
  readonly input: ResolvedVideoInput;
  readonly upstreamTaskId: string | null;
  readonly status: StoredStatus;
  readonly progressPercent: number;
  readonly etaSeconds: number | null;
  readonly failureReason: string | null;
  readonly videos: readonly VideoAsset[];
  /** The seed the upstream used, once known. */
  readonly seedUsed: number | null;
  /** The hash of the per-task webhook secret, when the task was created in webhook mode. */
  readonly webhookSecretHash: string | null;
  /** Grows by one with every change: a subscriber drops events older than what it has. */
  readonly version: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly completedAt: number | null;
  /** When the task is given up as FAILED if it has not finished. */
  readonly deadlineAt: number;
}

export interface NewTask {
  readonly id: string;
  readonly owner: string;
  readonly idempotencyKey: string | null;
  readonly inputHash: string;
  readonly input: ResolvedVideoInput;
  readonly webhookSecretHash: string | null;
  readonly createdAt: number;
  readonly deadlineAt: number;
  /** The client's webhook for the task's final event: its outbox row is written with the task. */
  readonly webhook?: NewWebhook | undefined;
}

export interface TaskPage {
  readonly tasks: readonly TaskRecord[];
  readonly hasNextPage: boolean;
}

/** What `insert` did. */
export type InsertResult =
  /** The task was written, CREATING. */
  | { readonly outcome: 'created'; readonly task: TaskRecord }
  /** The owner already used this idempotency key: the task that holds it. */
  | { readonly outcome: 'exists'; readonly task: TaskRecord }
  /** The owner has `maxInFlight` unfinished tasks already: nothing was written. */
  | { readonly outcome: 'in_flight_limit' };

/**
 * Where tasks live. One seam: SQLite is the embedded default, Postgres the shared store of
 * several replicas. Every method is atomic, also across processes sharing the store.
 */
export interface TaskStore {
  /**
   * Inserts a CREATING task, unless the owner already used `idempotencyKey` (the existing task is
   * returned) or already has `maxInFlight` unfinished tasks. The key's uniqueness and the count
   * are enforced by the database, not by a read before the write.
   */
  insert(task: NewTask, limits: { readonly maxInFlight: number }): Promise<InsertResult>;
  get(id: string): Promise<TaskRecord | undefined>;
  findByIdempotencyKey(owner: string, key: string): Promise<TaskRecord | undefined>;
  /** The owner's tasks, newest first, after the cursor task (exclusive): keyset pagination. */
  list(owner: string, first: number, after?: { createdAt: number; id: string }): Promise<TaskPage>;
  /** Records the upstream's id: a CREATING task becomes QUEUED. Returns the task as it is now. */
  markCreated(id: string, upstreamTaskId: string, now: number): Promise<TaskRecord>;
  /**
   * Writes a new snapshot (already reduced) and bumps the version, only if the stored version is
   * still `expectedVersion`; `undefined` when another writer got there first (read and reduce
   * again).
   */
  applySnapshot(
    id: string,
    snapshot: TaskSnapshot,
    now: number,
    expectedVersion: number,
  ): Promise<TaskRecord | undefined>;
  /**
   * Records the upstream id of a task that never got one (CREATING, or FAILED without an upstream
   * id: its create was interrupted or unconfirmed), after the upstream proved it has the task (a
   * webhook confirmed by a read). The task becomes QUEUED: failure reason, eta and completion
   * cleared, version bumped. `undefined`, changing nothing, when the task is unknown, already has
   * an upstream id, is in any other state, or when another task already holds `upstreamTaskId`.
   */
  adopt(id: string, upstreamTaskId: string, now: number): Promise<TaskRecord | undefined>;
  /** Ends a task as FAILED with a reason, unless it already ended. Returns the task as it is now. */
  fail(id: string, reason: string, now: number): Promise<TaskRecord>;
  /** Removes a CREATING task the upstream provably never created, freeing its idempotency key. */
  discard(id: string): Promise<void>;
  /** Tasks not yet terminal (CREATING included), oldest first: what to resume at start. */
  unfinished(): Promise<readonly TaskRecord[]>;
  /** How many of the owner's tasks are not terminal. */
  countInFlight(owner: string): Promise<number>;
  countByStatus(): Promise<Readonly<Record<StoredStatus, number>>>;
  /** Rejects when the store cannot be used. */
  ping(): Promise<void>;
  /** The outbox of signed webhooks to clients, in the same database (absent: no webhooks). */
  readonly webhooks?: WebhookStore;
  close(): Promise<void>;
}
