import type pg from 'pg';
import type {
  ClaimedDelivery,
  NewWebhook,
  WebhookAttempt,
  WebhookDeliveryRecord,
  WebhookDeliveryStatus,
  WebhookStore,
} from './types.js';

/** The outbox's tables (migration 2 in `postgres-migrations.ts`). */
export const WEBHOOK_POSTGRES_MIGRATION_SQL = `
CREATE TABLE wan_video_webhook_deliveries (
  task_id TEXT COLLATE "C" PRIMARY KEY REFERENCES wan_video_tasks (id) ON DELETE CASCADE,
  owner TEXT NOT NULL,
  url TEXT NOT NULL,
  origin TEXT NOT NULL,
  test BOOLEAN NOT NULL DEFAULT false,
  status TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
  attempts_json TEXT NOT NULL DEFAULT '[]',
  next_attempt_at BIGINT NOT NULL DEFAULT 0,
  claimed_until BIGINT,
  claim_token TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX wan_video_webhook_deliveries_pending ON wan_video_webhook_deliveries (next_attempt_at)
  WHERE status = 'PENDING';
CREATE TABLE wan_video_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

const TABLE = 'wan_video_webhook_deliveries';
const TASKS = 'wan_video_tasks';

interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

interface Row {
  task_id: string;
  owner: string;
  url: string;
  origin: string;
  test: boolean;
  status: WebhookDeliveryStatus;
  attempts_json: string;
  next_attempt_at: string;
  created_at: string;
}

const toRecord = (row: Row): WebhookDeliveryRecord => ({
  taskId: row.task_id,
  owner: row.owner,
  url: row.url,
  origin: row.origin,
  test: row.test,
  status: row.status,
  attempts: JSON.parse(row.attempts_json) as WebhookAttempt[],
  nextAttemptAt: Number(row.next_attempt_at),
  createdAt: Number(row.created_at),
});

/** Writes a new task's delivery row: called inside the task's insert transaction. */
export async function insertPostgresWebhook(
  client: Queryable,
  taskId: string,
  owner: string,
  webhook: NewWebhook,
  now: number,
): Promise<void> {
  await client.query(
    `INSERT INTO ${TABLE} (task_id, owner, url, origin, test, created_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
    [taskId, owner, webhook.url, webhook.origin, webhook.test, now],
  );
}

/**
 * The outbox in Postgres, shared by replicas. A claim is one statement: the due rows are locked
 * with `FOR UPDATE SKIP LOCKED` (a replica claiming at the same moment skips them rather than
 * waits) and stamped with this dispatcher's token and a lease; a replica that dies mid-try leaves
 * a lease that runs out, and the delivery is tried again (at least once).
 */
export function createPostgresWebhookStore(pool: Queryable): WebhookStore {
  return {
    async setting(name, create) {
      await pool.query(
        'INSERT INTO wan_video_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
        [name, create()],
      );
      const { rows } = await pool.query<{ value: string }>(
        'SELECT value FROM wan_video_settings WHERE name = $1',
        [name],
      );
      const value = rows[0]?.value;
      if (value === undefined) throw new Error(`the setting ${name} was not stored`);
      return value;
    },
    async delivery(taskId) {
      const { rows } = await pool.query<Row>(`SELECT * FROM ${TABLE} WHERE task_id = $1`, [taskId]);
      return rows[0] && toRecord(rows[0]);
    },
    async claimDue(now, claimedUntil, token, limit, skipOwners = []) {
      const { rows } = await pool.query<Row>(
        `UPDATE ${TABLE} SET claimed_until = $2, claim_token = $3
           WHERE task_id IN (
             SELECT d.task_id FROM ${TABLE} d JOIN ${TASKS} t ON t.id = d.task_id
               WHERE d.status = 'PENDING' AND d.next_attempt_at <= $1
                 AND (d.claimed_until IS NULL OR d.claimed_until <= $1)
                 AND t.status IN ('SUCCEEDED', 'FAILED')
                 AND NOT (d.owner = ANY($5::text[]))
               ORDER BY d.next_attempt_at LIMIT $4
               FOR UPDATE OF d SKIP LOCKED)
           RETURNING *`,
        [now, claimedUntil, token, limit, skipOwners],
      );
      return rows.map((row): ClaimedDelivery => ({ ...toRecord(row), token }));
    },
    async record(taskId, token, outcome) {
      const result = await pool.query(
        `UPDATE ${TABLE} SET status = $1, attempts_json = $2, next_attempt_at = $3,
             claimed_until = NULL, claim_token = NULL
           WHERE task_id = $4 AND claim_token = $5`,
        [outcome.status, JSON.stringify(outcome.attempts), outcome.nextAttemptAt, taskId, token],
      );
      return result.rowCount === 1;
    },
    async release(taskId, token) {
      await pool.query(
        `UPDATE ${TABLE} SET claimed_until = NULL, claim_token = NULL
           WHERE task_id = $1 AND claim_token = $2`,
        [taskId, token],
      );
    },
    async releaseAll() {
      throw new Error('a shared outbox cannot release every claim: other replicas hold some');
    },
    async nextDueAt() {
      const { rows } = await pool.query<{ due: string | null }>(
        `SELECT MIN(GREATEST(d.next_attempt_at, COALESCE(d.claimed_until, 0))) AS due
           FROM ${TABLE} d JOIN ${TASKS} t ON t.id = d.task_id
           WHERE d.status = 'PENDING' AND t.status IN ('SUCCEEDED', 'FAILED')`,
      );
      const due = rows[0]?.due;
      return due === null || due === undefined ? undefined : Number(due);
    },
  };
}
