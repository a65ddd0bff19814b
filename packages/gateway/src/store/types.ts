import type { ResolvedVideoInput, TaskSnapshot, TaskStatus, VideoAsset } from '@wan-video/core';

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
}

export interface TaskPage {
  readonly tasks: readonly TaskRecord[];
  readonly hasNextPage: boolean;
}

/**
 * Where tasks live. One seam: SQLite is the embedded default; another store (Redis, Postgres)
 * implements the same methods. Every method is atomic.
 */
export interface TaskStore {
  /**
   * Inserts a CREATING task, unless the owner already used `idempotencyKey`: then returns the
   * existing task instead (`created: false`).
   */
  insert(task: NewTask): { readonly created: boolean; readonly task: TaskRecord };
  get(id: string): TaskRecord | undefined;
  findByIdempotencyKey(owner: string, key: string): TaskRecord | undefined;
  /** The owner's tasks, newest first, after the cursor task (exclusive). */
  list(owner: string, first: number, after?: { createdAt: number; id: string }): TaskPage;
  /** Records the upstream's id: the task becomes QUEUED. */
  markCreated(id: string, upstreamTaskId: string, now: number): TaskRecord;
  /** Writes a new snapshot (already reduced); bumps the version. */
  applySnapshot(id: string, snapshot: TaskSnapshot, now: number): TaskRecord;
  /** Ends a task as FAILED with a reason, unless it already ended. */
  fail(id: string, reason: string, now: number): TaskRecord;
  /** Removes a CREATING task the upstream provably never created, freeing its idempotency key. */
  discard(id: string): void;
  /** Tasks not yet terminal (CREATING included), oldest first: what to resume at start. */
  unfinished(): readonly TaskRecord[];
  /** How many of the owner's tasks are not terminal. */
  countInFlight(owner: string): number;
  countByStatus(): Readonly<Record<StoredStatus, number>>;
  /** Throws when the store cannot be used. */
  ping(): void;
  close(): void;
}
