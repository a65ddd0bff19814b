import type Database from 'libsql';
import type {
  ClaimedDelivery,
  DeliveryOutcome,
  NewWebhook,
  WebhookAttempt,
  WebhookDeliveryRecord,
  WebhookDeliveryStatus,
  WebhookStore,
} from './types.js';

type Db = InstanceType<typeof Database>;

/** A prepared statement, as libsql runs it (positional or named parameters). */
interface Statement {
  run(...params: unknown[]): { changes: number };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

/**
 * The outbox's tables in the SQLite file, created beside `tasks` at open. A task removed before
 * the upstream made it (`discard`) takes its delivery row with it (the trigger).
 */
export const WEBHOOK_SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS webhook_deliveries (
  task_id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  url TEXT NOT NULL,
  origin TEXT NOT NULL,
  test INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL DEFAULT 'PENDING',
  attempts_json TEXT NOT NULL DEFAULT '[]',
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  claimed_until INTEGER,
  claim_token TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_pending ON webhook_deliveries (next_attempt_at)
  WHERE status = 'PENDING';
CREATE TRIGGER IF NOT EXISTS webhook_deliveries_discard AFTER DELETE ON tasks
  BEGIN DELETE FROM webhook_deliveries WHERE task_id = OLD.id; END;
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

interface Row {
  task_id: string;
  owner: string;
  url: string;
  origin: string;
  test: number;
  status: WebhookDeliveryStatus;
  attempts_json: string;
  next_attempt_at: number;
  claim_token: string | null;
  created_at: number;
}

const toRecord = (row: Row): WebhookDeliveryRecord => ({
  taskId: row.task_id,
  owner: row.owner,
  url: row.url,
  origin: row.origin,
  test: row.test === 1,
  status: row.status,
  attempts: JSON.parse(row.attempts_json) as WebhookAttempt[],
  nextAttemptAt: row.next_attempt_at,
  createdAt: row.created_at,
});

/** Writes a new task's delivery row: called inside the task's insert transaction. */
export function insertSqliteWebhook(
  db: Db,
  taskId: string,
  owner: string,
  webhook: NewWebhook,
  now: number,
): void {
  db.prepare(
    `INSERT INTO webhook_deliveries (task_id, owner, url, origin, test, created_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
  ).run(taskId, owner, webhook.url, webhook.origin, webhook.test ? 1 : 0, now);
}

/** Due: PENDING, its task ended, its time come, no live claim. */
const DUE = `d.status = 'PENDING' AND d.next_attempt_at <= @now
  AND (d.claimed_until IS NULL OR d.claimed_until <= @now)
  AND EXISTS (SELECT 1 FROM tasks t WHERE t.id = d.task_id AND t.status IN ('SUCCEEDED', 'FAILED'))`;

/** The outbox in the SQLite file (one process writes it: claims only order this one's work). */
export function createSqliteWebhookStore(db: Db): WebhookStore {
  const statements = new Map<string, Statement>();
  const prepare = (sql: string): Statement => {
    let statement = statements.get(sql);
    if (!statement) {
      statement = db.prepare(sql) as unknown as Statement;
      statements.set(sql, statement);
    }
    return statement;
  };
  return {
    async setting(name, create) {
      prepare('INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)').run(name, create());
      const row = prepare('SELECT value FROM settings WHERE name = ?').get(name) as
        | { value: string }
        | undefined;
      if (!row) throw new Error(`the setting ${name} was not stored`);
      return row.value;
    },
    async delivery(taskId) {
      const row = prepare('SELECT * FROM webhook_deliveries WHERE task_id = ?').get(taskId) as
        | Row
        | undefined;
      return row && toRecord(row);
    },
    async claimDue(now, claimedUntil, token, limit, skipOwners = []) {
      const rows = prepare(
        `UPDATE webhook_deliveries SET claimed_until = @until, claim_token = @token
           WHERE task_id IN (SELECT d.task_id FROM webhook_deliveries d WHERE ${DUE}
             AND d.owner NOT IN (SELECT value FROM json_each(@skip))
             ORDER BY d.next_attempt_at LIMIT @limit)
           RETURNING *`,
      ).all({
        now,
        until: claimedUntil,
        token,
        limit,
        skip: JSON.stringify(skipOwners),
      }) as Row[];
      return rows.map((row): ClaimedDelivery => ({ ...toRecord(row), token }));
    },
    async record(taskId, token, outcome: DeliveryOutcome) {
      const result = prepare(
        `UPDATE webhook_deliveries SET status = ?, attempts_json = ?, next_attempt_at = ?,
             claimed_until = NULL, claim_token = NULL
           WHERE task_id = ? AND claim_token = ?`,
      ).run(outcome.status, JSON.stringify(outcome.attempts), outcome.nextAttemptAt, taskId, token);
      return result.changes === 1;
    },
    async release(taskId, token) {
      prepare(
        `UPDATE webhook_deliveries SET claimed_until = NULL, claim_token = NULL
           WHERE task_id = ? AND claim_token = ?`,
      ).run(taskId, token);
    },
    async releaseAll() {
      prepare(
        'UPDATE webhook_deliveries SET claimed_until = NULL, claim_token = NULL WHERE claim_token IS NOT NULL',
      ).run();
    },
    async nextDueAt() {
      const row = prepare(
        `SELECT MIN(MAX(d.next_attempt_at, COALESCE(d.claimed_until, 0))) AS due FROM webhook_deliveries d WHERE d.status = 'PENDING'
           AND EXISTS (SELECT 1 FROM tasks t WHERE t.id = d.task_id AND t.status IN ('SUCCEEDED', 'FAILED'))`,
      ).get() as { due: number | null } | undefined;
      return row?.due ?? undefined;
    },
  };
}
