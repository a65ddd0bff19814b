import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ResolvedVideoInput, TaskSnapshot, VideoAsset } from '@wan-video/core';
import Database from 'libsql';
import {
  createSqliteWebhookStore,
  insertSqliteWebhook,
  WEBHOOK_SQLITE_SCHEMA,
} from '../webhooks/sqlite-store.js';
import type { WebhookStore } from '../webhooks/types.js';
import { type Checkpointer, startCheckpointer } from './sqlite-checkpointer.js';
import type {
  InsertResult,
  NewTask,
  StoredStatus,
  TaskPage,
  TaskRecord,
  TaskStore,
} from './types.js';

interface Row {
  id: string;
  owner: string;
  idempotency_key: string | null;
  input_hash: string;
  input_json: string;
  upstream_task_id: string | null;
  status: StoredStatus;
  progress_percent: number;
  eta_seconds: number | null;
  failure_reason: string | null;
  videos_json: string;
  seed_used: number | null;
  webhook_secret_hash: string | null;
  version: number;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
  deadline_at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  idempotency_key TEXT,
  input_hash TEXT NOT NULL,
  input_json TEXT NOT NULL,
  upstream_task_id TEXT,
  status TEXT NOT NULL,
  progress_percent INTEGER NOT NULL DEFAULT 0,
  eta_seconds INTEGER,
  failure_reason TEXT,
  videos_json TEXT NOT NULL DEFAULT '[]',
  seed_used INTEGER,
  webhook_secret_hash TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  completed_at INTEGER,
  deadline_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_idempotency ON tasks (owner, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS tasks_owner_created ON tasks (owner, created_at DESC, id DESC);
DROP INDEX IF EXISTS tasks_unfinished;
CREATE INDEX IF NOT EXISTS tasks_owner_unfinished ON tasks (owner) WHERE status NOT IN ('SUCCEEDED', 'FAILED');
CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status);
`;

/** A prepared statement, typed by its parameters and row. */
interface Statement<P extends unknown[], R> {
  run(...params: P): { changes: number };
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

const TERMINAL = "('SUCCEEDED', 'FAILED')";

function toRecord(row: Row): TaskRecord {
  return {
    id: row.id,
    owner: row.owner,
    idempotencyKey: row.idempotency_key,
    inputHash: row.input_hash,
    input: JSON.parse(row.input_json) as ResolvedVideoInput,
    upstreamTaskId: row.upstream_task_id,
    status: row.status,
    progressPercent: row.progress_percent,
    etaSeconds: row.eta_seconds,
    failureReason: row.failure_reason,
    videos: JSON.parse(row.videos_json) as VideoAsset[],
    seedUsed: row.seed_used,
    webhookSecretHash: row.webhook_secret_hash,
    version: row.version,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    completedAt: row.completed_at,
    deadlineAt: row.deadline_at,
  };
}

/**
 * The embedded store: one SQLite file in WAL mode, so a task written before the process dies
 * (even by SIGKILL) is there after it. The driver is synchronous; the methods answer promises to
 * fit the one `TaskStore` seam that Postgres also implements.
 */
export class SqliteTaskStore implements TaskStore {
  readonly #db: InstanceType<typeof Database>;
  readonly #get: Statement<[string], Row>;
  /** Statements are prepared once and reused: preparing is most of a small query's cost. */
  readonly #statements = new Map<string, ReturnType<InstanceType<typeof Database>['prepare']>>();
  readonly #insert: (task: NewTask, maxInFlight: number) => InsertResult;
  readonly #checkpointer: Checkpointer | undefined;
  readonly webhooks: WebhookStore;

  constructor(path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.#db = new Database(path);
    // Wait for a lock rather than fail at once, from the first statement on (switching to WAL
    // takes one too, and a process just stopping may still be checkpointing).
    this.#db.pragma('busy_timeout = 5000');
    this.#db.pragma('journal_mode = WAL');
    // WAL with synchronous NORMAL: a commit is in the WAL before the call returns, so it
    // survives the process being killed (SIGKILL included); only a power cut or an OS crash can
    // lose the last commits. FULL would fsync every commit: about 15x slower here (bench/).
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(SCHEMA);
    this.#db.exec(WEBHOOK_SQLITE_SCHEMA);
    this.webhooks = createSqliteWebhookStore(this.#db);
    if (path !== ':memory:') {
      this.#db.pragma('wal_autocheckpoint = 0');
      this.#checkpointer = startCheckpointer(path);
    }
    this.#get = this.#prepare<[string], Row>('SELECT * FROM tasks WHERE id = ?');
    // One IMMEDIATE transaction (the write lock first, so another process waits on busy_timeout
    // instead of failing): the key check, the in-flight count and the insert cannot interleave
    // with another writer's.
    const insert = this.#db.transaction((task: NewTask, maxInFlight: number): InsertResult => {
      if (task.idempotencyKey !== null) {
        const existing = this.#findByKey(task.owner, task.idempotencyKey);
        if (existing) return { outcome: 'exists', task: existing };
      }
      if (this.#countInFlight(task.owner) >= maxInFlight) return { outcome: 'in_flight_limit' };
      const row = this.#prepare<unknown[], Row>(
        `INSERT INTO tasks (id, owner, idempotency_key, input_hash, input_json, status, webhook_secret_hash,
             created_at, updated_at, deadline_at)
           VALUES (?, ?, ?, ?, ?, 'CREATING', ?, ?, ?, ?) RETURNING *`,
      ).get(
        task.id,
        task.owner,
        task.idempotencyKey,
        task.inputHash,
        JSON.stringify(task.input),
        task.webhookSecretHash,
        task.createdAt,
        task.createdAt,
        task.deadlineAt,
      );
      if (!row) throw new Error(`task ${task.id} was not inserted`);
      if (task.webhook)
        insertSqliteWebhook(this.#db, task.id, task.owner, task.webhook, task.createdAt);
      return { outcome: 'created', task: toRecord(row) };
    });
    this.#insert = insert.immediate as unknown as (
      task: NewTask,
      maxInFlight: number,
    ) => InsertResult;
  }

  async findByIdempotencyKey(owner: string, key: string): Promise<TaskRecord | undefined> {
    return this.#findByKey(owner, key);
  }

  async insert(task: NewTask, limits: { readonly maxInFlight: number }): Promise<InsertResult> {
    return this.#insert(task, limits.maxInFlight);
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const row = this.#get.get(id);
    return row ? toRecord(row) : undefined;
  }

  async list(
    owner: string,
    first: number,
    after?: { createdAt: number; id: string },
  ): Promise<TaskPage> {
    const rows = after
      ? this.#prepare<[string, number, number, string, number], Row>(
          `SELECT * FROM tasks WHERE owner = ? AND (created_at < ? OR (created_at = ? AND id < ?))
             ORDER BY created_at DESC, id DESC LIMIT ?`,
        ).all(owner, after.createdAt, after.createdAt, after.id, first + 1)
      : this.#prepare<[string, number], Row>(
          'SELECT * FROM tasks WHERE owner = ? ORDER BY created_at DESC, id DESC LIMIT ?',
        ).all(owner, first + 1);
    return { tasks: rows.slice(0, first).map(toRecord), hasNextPage: rows.length > first };
  }

  async markCreated(id: string, upstreamTaskId: string, now: number): Promise<TaskRecord> {
    const row = this.#prepare<[string, number, string], Row>(
      `UPDATE tasks SET upstream_task_id = ?, status = 'QUEUED', updated_at = ?, version = version + 1
         WHERE id = ? AND status = 'CREATING' RETURNING *`,
    ).get(upstreamTaskId, now, id);
    return row ? toRecord(row) : this.#must(id);
  }

  async adopt(id: string, upstreamTaskId: string, now: number): Promise<TaskRecord | undefined> {
    const row = this.#prepare<[string, number, string, string], Row>(
      `UPDATE tasks SET upstream_task_id = ?, status = 'QUEUED', failure_reason = NULL,
           eta_seconds = NULL, completed_at = NULL, updated_at = ?, version = version + 1
         WHERE id = ? AND upstream_task_id IS NULL AND status IN ('CREATING', 'FAILED')
           AND NOT EXISTS (SELECT 1 FROM tasks AS other WHERE other.upstream_task_id = ?)
         RETURNING *`,
    ).get(upstreamTaskId, now, id, upstreamTaskId);
    return row ? toRecord(row) : undefined;
  }

  async applySnapshot(
    id: string,
    snapshot: TaskSnapshot,
    now: number,
    expectedVersion: number,
  ): Promise<TaskRecord | undefined> {
    const terminal = snapshot.status === 'SUCCEEDED' || snapshot.status === 'FAILED';
    const row = this.#prepare<unknown[], Row>(
      `UPDATE tasks SET status = ?, progress_percent = ?, eta_seconds = ?, failure_reason = ?,
           videos_json = ?, seed_used = COALESCE(?, seed_used), updated_at = ?, version = version + 1,
           completed_at = CASE WHEN ? AND completed_at IS NULL THEN ? ELSE completed_at END
         WHERE id = ? AND version = ? RETURNING *`,
    ).get(
      snapshot.status,
      snapshot.progressPercent,
      snapshot.etaSeconds,
      snapshot.failureReason,
      JSON.stringify(snapshot.videos),
      snapshot.seed,
      now,
      terminal ? 1 : 0,
      now,
      id,
      expectedVersion,
    );
    return row ? toRecord(row) : undefined;
  }

  async fail(id: string, reason: string, now: number): Promise<TaskRecord> {
    const row = this.#prepare<[string, number, number, string], Row>(
      `UPDATE tasks SET status = 'FAILED', failure_reason = ?, eta_seconds = NULL, updated_at = ?,
           completed_at = ?, version = version + 1
         WHERE id = ? AND status NOT IN ${TERMINAL} RETURNING *`,
    ).get(reason, now, now, id);
    return row ? toRecord(row) : this.#must(id);
  }

  async discard(id: string): Promise<void> {
    this.#prepare("DELETE FROM tasks WHERE id = ? AND status = 'CREATING'").run(id);
  }

  async unfinished(): Promise<readonly TaskRecord[]> {
    return this.#prepare<[], Row>(
      `SELECT * FROM tasks WHERE status NOT IN ${TERMINAL} ORDER BY created_at`,
    )
      .all()
      .map(toRecord);
  }

  async countInFlight(owner: string): Promise<number> {
    return this.#countInFlight(owner);
  }

  async countByStatus(): Promise<Readonly<Record<StoredStatus, number>>> {
    const counts: Record<StoredStatus, number> = {
      CREATING: 0,
      QUEUED: 0,
      PROCESSING: 0,
      SUCCEEDED: 0,
      FAILED: 0,
    };
    const rows = this.#prepare<[], { status: StoredStatus; n: number }>(
      'SELECT status, COUNT(*) AS n FROM tasks GROUP BY status',
    ).all();
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  async ping(): Promise<void> {
    this.#prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (!this.#db.open) return;
    await this.#checkpointer?.stop();
    this.#db.pragma('wal_checkpoint(TRUNCATE)');
    this.#db.close();
  }

  #findByKey(owner: string, key: string): TaskRecord | undefined {
    const row = this.#prepare<[string, string], Row>(
      'SELECT * FROM tasks WHERE owner = ? AND idempotency_key = ?',
    ).get(owner, key);
    return row ? toRecord(row) : undefined;
  }

  #countInFlight(owner: string): number {
    const row = this.#prepare<[string], { n: number }>(
      `SELECT COUNT(*) AS n FROM tasks WHERE owner = ? AND status NOT IN ${TERMINAL}`,
    ).get(owner);
    return row?.n ?? 0;
  }

  #prepare<P extends unknown[], R>(sql: string): Statement<P, R> {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement as unknown as Statement<P, R>;
  }

  #must(id: string): TaskRecord {
    const row = this.#get.get(id);
    if (!row) throw new Error(`task ${id} is not in the store`);
    return toRecord(row);
  }
}
