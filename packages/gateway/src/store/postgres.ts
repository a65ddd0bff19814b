import type { ResolvedVideoInput, TaskSnapshot, VideoAsset } from '@wan-video/core';
import pg from 'pg';
import { createPostgresWebhookStore, insertPostgresWebhook } from '../webhooks/postgres-store.js';
import type { WebhookStore } from '../webhooks/types.js';
import { POSTGRES_MIGRATIONS, type PostgresMigration } from './postgres-migrations.js';
import type {
  InsertResult,
  NewTask,
  StoredStatus,
  TaskPage,
  TaskRecord,
  TaskStore,
} from './types.js';

export interface PostgresTaskStoreOptions {
  /**
   * Connections this replica keeps open at most.
   * @default 20
   */
  readonly poolSize?: number;
  /**
   * The name the connections show in `pg_stat_activity`.
   * @default 'wan-video-gateway'
   */
  readonly applicationName?: string;
  /**
   * How long a query waits for a connection before it rejects (so `ping` fails rather than hangs
   * when the server is gone).
   * @default 5000
   */
  readonly connectionTimeoutMs?: number;
  /**
   * Called when an idle connection breaks (the server restarted, the network dropped). The pool
   * has already discarded it and the next query connects again; without a listener pg would throw
   * the error out of the process.
   * @default ignores it
   */
  readonly onError?: (error: Error) => void;
}

/** Why the Postgres store refused to open or could not find a task. Never holds the URL's secrets. */
export class PostgresStoreError extends Error {
  override name = 'PostgresStoreError' as const;
  readonly code: PostgresStoreErrorCode;

  constructor(code: PostgresStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export const POSTGRES_STORE_ERROR_CODES = {
  /** The server could not be reached, or refused the connection or the migrations. */
  UNAVAILABLE: 'UNAVAILABLE',
  /** The database was migrated by a newer gateway than this one. */
  SCHEMA_TOO_NEW: 'SCHEMA_TOO_NEW',
  /** A write named a task the store does not hold. */
  TASK_NOT_FOUND: 'TASK_NOT_FOUND',
} as const;
export type PostgresStoreErrorCode = keyof typeof POSTGRES_STORE_ERROR_CODES;

/** Works across realms and copies of this module: it checks the name, not the prototype. */
export const isPostgresStoreError = (value: unknown): value is PostgresStoreError =>
  value instanceof Error && value.name === 'PostgresStoreError';

/** A row as pg returns it: BIGINT comes back as a string (it may not fit a JS number). */
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
  seed_used: string | null;
  webhook_secret_hash: string | null;
  version: number;
  created_at: string;
  updated_at: string;
  completed_at: string | null;
  deadline_at: string;
}

const TABLE = 'wan_video_tasks';
const TERMINAL = "('SUCCEEDED', 'FAILED')";
/** The owner's unfinished tasks, counted: the owner is the parameter `owner` names (`$1`…). */
const inFlightOf = (owner: string) =>
  `SELECT COUNT(*)::integer FROM ${TABLE} WHERE owner = ${owner} AND status NOT IN ${TERMINAL}`;
/**
 * The migrations' lock, in the two-key space of advisory locks: it cannot collide with an owner's
 * insert lock, which uses the one-key (bigint) space.
 */
const MIGRATION_LOCK = "hashtext('wan_video_migrations'), 0";

/** Something to run a query on: the pool, or a connection inside a transaction. */
interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** A BIGINT column's text as a number, refusing what a JS number cannot hold exactly. */
function toInteger(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`${text} is not a safe integer`);
  return value;
}

const toIntegerOrNull = (text: string | null): number | null =>
  text === null ? null : toInteger(text);

/**
 * Postgres TEXT cannot hold U+0000, which an upstream's failure reason might carry: it becomes
 * U+FFFD rather than making the write fail forever. (The JSON columns need nothing: JSON escapes it.)
 */
const storable = (text: string | null): string | null =>
  text?.replaceAll('\u0000', '\uFFFD') ?? null;

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
    seedUsed: toIntegerOrNull(row.seed_used),
    webhookSecretHash: row.webhook_secret_hash,
    version: row.version,
    createdAt: toInteger(row.created_at),
    updatedAt: toInteger(row.updated_at),
    completedAt: toIntegerOrNull(row.completed_at),
    deadlineAt: toInteger(row.deadline_at),
  };
}

/** Where a URL points, for messages: host, port and database, never the user or the password. */
function describeTarget(url: string): string {
  try {
    const { hostname, port, pathname } = new URL(url);
    return `${hostname || 'localhost'}:${port || '5432'}${pathname}`;
  } catch {
    return '(an unparseable URL)';
  }
}

/** Runs `work` in a transaction on one connection; rolls back when it throws. */
async function inTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // A connection that cannot even roll back is in an unknown state: destroy it, do not pool it.
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken = rollbackError;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/**
 * Brings the schema up to the last of `migrations`, in one transaction under an advisory lock: two
 * replicas starting together queue here, and the second finds nothing left to do.
 */
async function migrate(pool: pg.Pool, migrations: readonly PostgresMigration[]): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS wan_video_migrations (
         version INTEGER PRIMARY KEY,
         name TEXT NOT NULL,
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number }>(
      'SELECT COALESCE(MAX(version), 0) AS version FROM wan_video_migrations',
    );
    const current = rows[0]?.version ?? 0;
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new PostgresStoreError(
        'SCHEMA_TOO_NEW',
        `the database's schema is at version ${current}, newer than this gateway knows (${latest}): run a gateway at least as new as the one that migrated it`,
      );
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO wan_video_migrations (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
  });
}

/**
 * The shared store of several gateway replicas: one Postgres database. Every method is one
 * statement or one transaction, so it is atomic across replicas; the in-flight limit holds across
 * them through a per-owner advisory lock.
 */
export class PostgresTaskStore implements TaskStore {
  readonly #pool: pg.Pool;
  #closed = false;
  readonly webhooks: WebhookStore;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
    this.webhooks = createPostgresWebhookStore(pool);
  }

  /** Connects and migrates the schema; resolves once the store can be used. */
  static async open(
    url: string,
    options: PostgresTaskStoreOptions = {},
  ): Promise<PostgresTaskStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 20,
      application_name: options.applicationName ?? 'wan-video-gateway',
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    });
    pool.on('error', options.onError ?? (() => {}));
    try {
      await migrate(pool, POSTGRES_MIGRATIONS);
    } catch (error) {
      await pool.end().catch(() => {});
      if (isPostgresStoreError(error)) throw error;
      // pg's own messages hold no password (its URL parser redacts, too); ours name the target
      // by host, port and database only.
      const reason = error instanceof Error ? error.message : String(error);
      throw new PostgresStoreError(
        'UNAVAILABLE',
        `cannot open the Postgres store at ${describeTarget(url)}: ${reason}`,
        { cause: error },
      );
    }
    return new PostgresTaskStore(pool);
  }

  async insert(task: NewTask, limits: { readonly maxInFlight: number }): Promise<InsertResult> {
    return inTransaction(this.#pool, async (client) => {
      // Every insert of this owner, on every replica, queues here, so the count below cannot go
      // stale before the insert. The lock is its own statement on purpose: under READ COMMITTED a
      // statement sees what committed before it began, so the count must begin after the lock.
      // A bounded wait: a connection queued here holds a pool slot, and a slow database must
      // not starve the writes that record paid tasks (the service retries those for 60 s). 15 s
      // lets a burst of one client's creates queue through on a busy machine (90 at once took
      // more than 6 s at load 5) rather than be refused.
      await client.query("SET LOCAL lock_timeout = '15s'");
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [task.owner]);
      // A second round only when the key's holder was discarded between the conflict and the read.
      for (let round = 0; round < 3; round++) {
        // The count and the insert in one statement: the owner's lock is held for two round trips
        // (this and the commit), so a burst from one client queues briefly. The unique index
        // decides whether the key is taken, not a read before the write.
        const { rows } = await client.query<Row>(
          `INSERT INTO ${TABLE} (id, owner, idempotency_key, input_hash, input_json, status,
               webhook_secret_hash, created_at, updated_at, deadline_at)
             SELECT $1, $2, $3, $4, $5, 'CREATING', $6, $7, $7, $8
              WHERE (${inFlightOf('$2')}) < $9
             ON CONFLICT (owner, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
             RETURNING *`,
          [
            task.id,
            task.owner,
            task.idempotencyKey,
            task.inputHash,
            JSON.stringify(task.input),
            task.webhookSecretHash,
            task.createdAt,
            task.deadlineAt,
            limits.maxInFlight,
          ],
        );
        const inserted = rows[0];
        if (inserted) {
          if (task.webhook) {
            await insertPostgresWebhook(client, task.id, task.owner, task.webhook, task.createdAt);
          }
          return { outcome: 'created', task: toRecord(inserted) };
        }
        // Nothing inserted: the key is taken (its holder answers), or the owner is at the limit.
        const holder =
          task.idempotencyKey === null
            ? undefined
            : await findByKey(client, task.owner, task.idempotencyKey);
        if (holder) return { outcome: 'exists', task: holder };
        if ((await countInFlight(client, task.owner)) >= limits.maxInFlight) {
          return { outcome: 'in_flight_limit' };
        }
      }
      throw new Error(`task ${task.id}: its idempotency key kept being freed and taken again`);
    });
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    const { rows } = await this.#pool.query<Row>(`SELECT * FROM ${TABLE} WHERE id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }

  async findByIdempotencyKey(owner: string, key: string): Promise<TaskRecord | undefined> {
    return findByKey(this.#pool, owner, key);
  }

  async list(
    owner: string,
    first: number,
    after?: { createdAt: number; id: string },
  ): Promise<TaskPage> {
    const { rows } = after
      ? await this.#pool.query<Row>(
          `SELECT * FROM ${TABLE} WHERE owner = $1 AND (created_at, id) < ($2, $3)
             ORDER BY created_at DESC, id DESC LIMIT $4`,
          [owner, after.createdAt, after.id, first + 1],
        )
      : await this.#pool.query<Row>(
          `SELECT * FROM ${TABLE} WHERE owner = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
          [owner, first + 1],
        );
    return { tasks: rows.slice(0, first).map(toRecord), hasNextPage: rows.length > first };
  }

  async markCreated(id: string, upstreamTaskId: string, now: number): Promise<TaskRecord> {
    const { rows } = await this.#pool.query<Row>(
      `UPDATE ${TABLE} SET upstream_task_id = $1, status = 'QUEUED', updated_at = $2,
           version = version + 1
         WHERE id = $3 AND status = 'CREATING' RETURNING *`,
      [upstreamTaskId, now, id],
    );
    return rows[0] ? toRecord(rows[0]) : this.#must(id);
  }

  async adopt(id: string, upstreamTaskId: string, now: number): Promise<TaskRecord | undefined> {
    const { rows } = await this.#pool.query<Row>(
      `UPDATE ${TABLE} SET upstream_task_id = $1, status = 'QUEUED', failure_reason = NULL,
           eta_seconds = NULL, completed_at = NULL, updated_at = $2, version = version + 1
         WHERE id = $3 AND upstream_task_id IS NULL AND status IN ('CREATING', 'FAILED')
           AND NOT EXISTS (SELECT 1 FROM ${TABLE} AS other WHERE other.upstream_task_id = $1)
         RETURNING *`,
      [upstreamTaskId, now, id],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async applySnapshot(
    id: string,
    snapshot: TaskSnapshot,
    now: number,
    expectedVersion: number,
  ): Promise<TaskRecord | undefined> {
    const terminal = snapshot.status === 'SUCCEEDED' || snapshot.status === 'FAILED';
    const { rows } = await this.#pool.query<Row>(
      `UPDATE ${TABLE} SET status = $1, progress_percent = $2, eta_seconds = $3,
           failure_reason = $4, videos_json = $5, seed_used = COALESCE($6, seed_used),
           updated_at = $7, version = version + 1,
           completed_at = CASE WHEN $8::boolean AND completed_at IS NULL THEN $7 ELSE completed_at END
         WHERE id = $9 AND version = $10 RETURNING *`,
      [
        snapshot.status,
        snapshot.progressPercent,
        snapshot.etaSeconds,
        storable(snapshot.failureReason),
        JSON.stringify(snapshot.videos),
        snapshot.seed,
        now,
        terminal,
        id,
        expectedVersion,
      ],
    );
    return rows[0] && toRecord(rows[0]);
  }

  async fail(id: string, reason: string, now: number): Promise<TaskRecord> {
    const { rows } = await this.#pool.query<Row>(
      `UPDATE ${TABLE} SET status = 'FAILED', failure_reason = $1, eta_seconds = NULL,
           updated_at = $2, completed_at = $2, version = version + 1
         WHERE id = $3 AND status NOT IN ${TERMINAL} RETURNING *`,
      [storable(reason), now, id],
    );
    return rows[0] ? toRecord(rows[0]) : this.#must(id);
  }

  async discard(id: string): Promise<void> {
    await this.#pool.query(`DELETE FROM ${TABLE} WHERE id = $1 AND status = 'CREATING'`, [id]);
  }

  async unfinished(): Promise<readonly TaskRecord[]> {
    const { rows } = await this.#pool.query<Row>(
      `SELECT * FROM ${TABLE} WHERE status NOT IN ${TERMINAL} ORDER BY created_at, id`,
    );
    return rows.map(toRecord);
  }

  async countInFlight(owner: string): Promise<number> {
    return countInFlight(this.#pool, owner);
  }

  async countByStatus(): Promise<Readonly<Record<StoredStatus, number>>> {
    const counts: Record<StoredStatus, number> = {
      CREATING: 0,
      QUEUED: 0,
      PROCESSING: 0,
      SUCCEEDED: 0,
      FAILED: 0,
    };
    const { rows } = await this.#pool.query<{ status: StoredStatus; n: number }>(
      `SELECT status, COUNT(*)::integer AS n FROM ${TABLE} GROUP BY status`,
    );
    for (const row of rows) counts[row.status] = row.n;
    return counts;
  }

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  async #must(id: string): Promise<TaskRecord> {
    const task = await this.get(id);
    if (!task) throw new PostgresStoreError('TASK_NOT_FOUND', `task ${id} is not in the store`);
    return task;
  }
}

async function findByKey(
  db: Queryable,
  owner: string,
  key: string,
): Promise<TaskRecord | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT * FROM ${TABLE} WHERE owner = $1 AND idempotency_key = $2`,
    [owner, key],
  );
  return rows[0] && toRecord(rows[0]);
}

async function countInFlight(db: Queryable, owner: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT (${inFlightOf('$1')}) AS n`, [owner]);
  return rows[0]?.n ?? 0;
}
