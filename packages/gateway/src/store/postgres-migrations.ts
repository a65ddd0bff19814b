import { WEBHOOK_POSTGRES_MIGRATION_SQL } from '../webhooks/postgres-store.js';

/** One step of the Postgres schema. Applied once, in order, and recorded in `wan_video_migrations`. */
export interface PostgresMigration {
  /** 1, 2, 3…: strictly increasing, never reused or edited once released. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The Postgres schema, oldest first. Append a new migration to change it; never edit one that has
 * shipped (a database records only the version it ran).
 *
 * - The JSON columns (`input_json`, `videos_json`) are TEXT, not JSONB: a prompt is any string,
 *   and JSONB refuses the `\u0000` and lone-surrogate escapes `JSON.stringify` writes for it, where
 *   TEXT keeps exactly what SQLite keeps. No query reads inside them, so JSONB would buy nothing.
 * - `id` is `COLLATE "C"`: `list` orders by it, and byte order is SQLite's order whatever the
 *   database's default collation.
 * - Times are epoch milliseconds in BIGINT, as everywhere else in the gateway.
 * - Each index serves one query: the idempotency key (`findByIdempotencyKey` and `insert`'s
 *   `ON CONFLICT`), `list`'s keyset, `unfinished`, and the in-flight count. `countByStatus` reads
 *   the whole table whatever the index, so it has none.
 */
export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'tasks',
    sql: `
CREATE TABLE wan_video_tasks (
  id TEXT COLLATE "C" PRIMARY KEY,
  owner TEXT NOT NULL,
  idempotency_key TEXT,
  input_hash TEXT NOT NULL,
  input_json TEXT NOT NULL,
  upstream_task_id TEXT,
  status TEXT NOT NULL
    CHECK (status IN ('CREATING', 'QUEUED', 'PROCESSING', 'SUCCEEDED', 'FAILED')),
  progress_percent INTEGER NOT NULL DEFAULT 0,
  eta_seconds INTEGER,
  failure_reason TEXT,
  videos_json TEXT NOT NULL DEFAULT '[]',
  seed_used BIGINT,
  webhook_secret_hash TEXT,
  version INTEGER NOT NULL DEFAULT 1,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  completed_at BIGINT,
  deadline_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX wan_video_tasks_idempotency ON wan_video_tasks (owner, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX wan_video_tasks_owner_created ON wan_video_tasks (owner, created_at DESC, id DESC);
CREATE INDEX wan_video_tasks_unfinished ON wan_video_tasks (created_at, id)
  WHERE status NOT IN ('SUCCEEDED', 'FAILED');
CREATE INDEX wan_video_tasks_owner_unfinished ON wan_video_tasks (owner)
  WHERE status NOT IN ('SUCCEEDED', 'FAILED');
`,
  },
  // Signed webhooks to clients: the outbox (one row per task created with a webhook) and shared
  // settings (the generated master signing secret).
  { version: 2, name: 'webhook outbox', sql: WEBHOOK_POSTGRES_MIGRATION_SQL },
];
