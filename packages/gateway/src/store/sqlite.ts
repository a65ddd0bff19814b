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

const TERMINAL = "('SUCCEEDED', 'FAILED')";

/**
 * Each owner's unfinished tasks, counted as they change: the in-flight limit reads one row
 * instead of counting the owner's unfinished tasks on every insert (a count that grows with the
 * limit: at 1,000 in flight it was a tenth of a mutation's CPU). Triggers keep it in the same
 * statement as the change, whatever writes the row.
 */
const IN_FLIGHT_SCHEMA = `
CREATE TABLE IF NOT EXISTS owners_in_flight (
  owner TEXT PRIMARY KEY,
  tasks INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS tasks_in_flight_insert AFTER INSERT ON tasks
  WHEN NEW.status NOT IN ${TERMINAL}
BEGIN
  INSERT INTO owners_in_flight (owner, tasks) VALUES (NEW.owner, 1)
    ON CONFLICT (owner) DO UPDATE SET tasks = tasks + 1;
END;
CREATE TRIGGER IF NOT EXISTS tasks_in_flight_update AFTER UPDATE OF status ON tasks
  WHEN (OLD.status IN ${TERMINAL}) IS NOT (NEW.status IN ${TERMINAL})
BEGIN
  UPDATE owners_in_flight SET tasks = tasks + (CASE WHEN NEW.status IN ${TERMINAL} THEN -1 ELSE 1 END)
    WHERE owner = NEW.owner;
END;
CREATE TRIGGER IF NOT EXISTS tasks_in_flight_delete AFTER DELETE ON tasks
  WHEN OLD.status NOT IN ${TERMINAL}
BEGIN
  UPDATE owners_in_flight SET tasks = tasks - 1 WHERE owner = OLD.owner;
END;
`;

/**
 * The tasks by status, counted the same way, for `/metrics`: a scrape reads five rows instead of
 * counting every task, and no index on `status` is kept up on every write for it.
 */
const STATUS_COUNT_SCHEMA = `
CREATE TABLE IF NOT EXISTS status_counts (
  status TEXT PRIMARY KEY,
  tasks INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS tasks_status_insert AFTER INSERT ON tasks
BEGIN
  INSERT INTO status_counts (status, tasks) VALUES (NEW.status, 1)
    ON CONFLICT (status) DO UPDATE SET tasks = tasks + 1;
END;
CREATE TRIGGER IF NOT EXISTS tasks_status_update AFTER UPDATE OF status ON tasks
  WHEN OLD.status IS NOT NEW.status
BEGIN
  UPDATE status_counts SET tasks = tasks - 1 WHERE status = OLD.status;
  INSERT INTO status_counts (status, tasks) VALUES (NEW.status, 1)
    ON CONFLICT (status) DO UPDATE SET tasks = tasks + 1;
END;
CREATE TRIGGER IF NOT EXISTS tasks_status_delete AFTER DELETE ON tasks
BEGIN
  UPDATE status_counts SET tasks = tasks - 1 WHERE status = OLD.status;
END;
`;

/** Each count table, and how to count what a database made before it already holds. */
const COUNTS = [
  {
    table: 'owners_in_flight',
    backfill: `INSERT INTO owners_in_flight (owner, tasks)
      SELECT owner, COUNT(*) FROM tasks WHERE status NOT IN ${TERMINAL} GROUP BY owner`,
  },
  {
    table: 'status_counts',
    backfill: `INSERT INTO status_counts (status, tasks)
      SELECT status, COUNT(*) FROM tasks GROUP BY status`,
  },
] as const;

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
DROP INDEX IF EXISTS tasks_owner_unfinished;
DROP INDEX IF EXISTS tasks_status;
${IN_FLIGHT_SCHEMA}
${STATUS_COUNT_SCHEMA}
`;

/** A prepared statement, typed by its parameters and row. */
interface Statement<P extends unknown[], R> {
  run(...params: P): { changes: number };
  get(...params: P): R | undefined;
  all(...params: P): R[];
}

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

/** A write waiting for the end of the turn, and its caller's promise. */
interface QueuedWrite {
  run(): unknown;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/**
 * The embedded store: one SQLite file in WAL mode, so a task written before the process dies
 * (even by SIGKILL) is there after it. The driver is synchronous; the methods answer promises to
 * fit the one `TaskStore` seam that Postgres also implements.
 *
 * Writes are group-committed: a write is queued, and at the end of the turn of the event loop
 * (`setImmediate`) every write queued during it runs in one transaction (BEGIN IMMEDIATE …
 * COMMIT), in the order they came. Each write's promise settles after that COMMIT, with its own
 * result or error, so no caller answers, publishes or pays upstream on a write that is not in
 * the WAL, and a read never sees a change that is not committed. Under load this turns one WAL
 * commit per write (each writing every page it changed: the row's, its indexes' and the count
 * rows', mostly the same pages from one write to the next) into one per turn (`bench/`).
 * The transaction is open only while the queue runs, synchronously: it never waits on the
 * event loop, so another connection (another store on the file, the checkpointer) waits at
 * most that long for the write lock.
 */
export class SqliteTaskStore implements TaskStore {
  readonly #db: InstanceType<typeof Database>;
  readonly #get: Statement<[string], Row>;
  /** Statements are prepared once and reused: preparing is most of a small query's cost. */
  readonly #statements = new Map<string, ReturnType<InstanceType<typeof Database>['prepare']>>();
  readonly #checkpointer: Checkpointer | undefined;
  #queue: QueuedWrite[] = [];
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
    // In one transaction, so that each count is filled exactly once, by whoever creates it.
    this.#db
      .transaction(() => {
        const exists = this.#db.prepare(
          "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
        );
        const missing = COUNTS.filter((count) => !exists.get(count.table));
        this.#db.exec(SCHEMA);
        for (const count of missing) this.#db.exec(count.backfill);
        this.#db.exec(WEBHOOK_SQLITE_SCHEMA);
      })
      .immediate();
    this.webhooks = createSqliteWebhookStore(this.#db);
    if (path !== ':memory:') {
      this.#db.pragma('wal_autocheckpoint = 0');
      this.#checkpointer = startCheckpointer(path);
    }
    this.#get = this.#prepare<[string], Row>('SELECT * FROM tasks WHERE id = ?');
  }

  /**
   * One unit in the turn's transaction (a savepoint, undone alone if it throws): the key check,
   * the in-flight count and the insert cannot interleave with another write. The one-writer
   * lock (`lock.ts`) keeps other processes out; BEGIN IMMEDIATE holds SQLite's write lock.
   */
  #insert(task: NewTask, maxInFlight: number): InsertResult {
    this.#prepare('SAVEPOINT task_insert').run();
    try {
      const result = this.#insertNow(task, maxInFlight);
      this.#prepare('RELEASE task_insert').run();
      return result;
    } catch (error) {
      this.#prepare('ROLLBACK TO task_insert').run();
      this.#prepare('RELEASE task_insert').run();
      throw error;
    }
  }

  #insertNow(task: NewTask, maxInFlight: number): InsertResult {
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
  }

  async findByIdempotencyKey(owner: string, key: string): Promise<TaskRecord | undefined> {
    return this.#findByKey(owner, key);
  }

  insert(task: NewTask, limits: { readonly maxInFlight: number }): Promise<InsertResult> {
    return this.#write(() => this.#insert(task, limits.maxInFlight));
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

  markCreated(id: string, upstreamTaskId: string, now: number): Promise<TaskRecord> {
    return this.#write(() => {
      const row = this.#prepare<[string, number, string], Row>(
        `UPDATE tasks SET upstream_task_id = ?, status = 'QUEUED', updated_at = ?, version = version + 1
           WHERE id = ? AND status = 'CREATING' RETURNING *`,
      ).get(upstreamTaskId, now, id);
      return row ? toRecord(row) : this.#must(id);
    });
  }

  adopt(id: string, upstreamTaskId: string, now: number): Promise<TaskRecord | undefined> {
    return this.#write(() => {
      const row = this.#prepare<[string, number, string, string], Row>(
        `UPDATE tasks SET upstream_task_id = ?, status = 'QUEUED', failure_reason = NULL,
           eta_seconds = NULL, completed_at = NULL, updated_at = ?, version = version + 1
         WHERE id = ? AND upstream_task_id IS NULL AND status IN ('CREATING', 'FAILED')
           AND NOT EXISTS (SELECT 1 FROM tasks AS other WHERE other.upstream_task_id = ?)
         RETURNING *`,
      ).get(upstreamTaskId, now, id, upstreamTaskId);
      return row ? toRecord(row) : undefined;
    });
  }

  applySnapshot(
    id: string,
    snapshot: TaskSnapshot,
    now: number,
    expectedVersion: number,
  ): Promise<TaskRecord | undefined> {
    const terminal = snapshot.status === 'SUCCEEDED' || snapshot.status === 'FAILED';
    return this.#write(() => {
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
    });
  }

  fail(id: string, reason: string, now: number): Promise<TaskRecord> {
    return this.#write(() => {
      const row = this.#prepare<[string, number, number, string], Row>(
        `UPDATE tasks SET status = 'FAILED', failure_reason = ?, eta_seconds = NULL, updated_at = ?,
             completed_at = ?, version = version + 1
           WHERE id = ? AND status NOT IN ${TERMINAL} RETURNING *`,
      ).get(reason, now, now, id);
      return row ? toRecord(row) : this.#must(id);
    });
  }

  discard(id: string): Promise<void> {
    return this.#write(() => {
      this.#prepare("DELETE FROM tasks WHERE id = ? AND status = 'CREATING'").run(id);
    });
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
    const rows = this.#prepare<[], { status: StoredStatus; tasks: number }>(
      'SELECT status, tasks FROM status_counts',
    ).all();
    for (const row of rows) counts[row.status] = row.tasks;
    return counts;
  }

  async ping(): Promise<void> {
    this.#prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (!this.#db.open) return;
    this.#flush();
    await this.#checkpointer?.stop();
    this.#db.pragma('wal_checkpoint(TRUNCATE)');
    this.#db.close();
  }

  /** Queues `write` for the end of the turn; answers its result once it has committed. */
  #write<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#queue.length === 0) setImmediate(() => this.#flush());
      this.#queue.push({ run: write, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /** Runs the queued writes in one transaction and settles each once it has committed, or not. */
  #flush(): void {
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      this.#prepare('BEGIN IMMEDIATE').run();
      for (const write of queue) {
        try {
          results.push({ ok: true, value: write.run() });
        } catch (error) {
          // A failed statement is undone alone; an I/O error or a full disk can make SQLite
          // roll the whole transaction back, and with it the writes before this one.
          if (!this.#db.inTransaction) throw error;
          results.push({ ok: false, value: error });
        }
      }
      this.#prepare('COMMIT').run();
    } catch (error) {
      try {
        if (this.#db.inTransaction) this.#prepare('ROLLBACK').run();
      } catch {
        // The connection is unusable: the next BEGIN tells the next writes so.
      }
      for (const write of queue) write.reject(error);
      return;
    }
    queue.forEach((write, i) => {
      const result = results[i] as { ok: boolean; value: unknown };
      if (result.ok) write.resolve(result.value);
      else write.reject(result.value);
    });
  }

  #findByKey(owner: string, key: string): TaskRecord | undefined {
    const row = this.#prepare<[string, string], Row>(
      'SELECT * FROM tasks WHERE owner = ? AND idempotency_key = ?',
    ).get(owner, key);
    return row ? toRecord(row) : undefined;
  }

  #countInFlight(owner: string): number {
    const row = this.#prepare<[string], { tasks: number }>(
      'SELECT tasks FROM owners_in_flight WHERE owner = ?',
    ).get(owner);
    return row?.tasks ?? 0;
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
