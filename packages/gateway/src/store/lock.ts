import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'libsql';

/**
 * One writer per SQLite file. The lock is SQLite's own (POSIX `fcntl`) exclusive lock, held on a
 * side file `<database>.lock` for as long as the process runs:
 *
 * - the operating system drops it when the process ends, however it ends (SIGKILL and crashes
 *   included), so a dead holder never leaves a stale lock to detect, and a reused pid cannot
 *   keep one alive, as a pid file can;
 * - it is on a side file, not the database: `locking_mode = EXCLUSIVE` on the database itself
 *   would also lock out every reader (a backup, `sqlite3` on the file, a test's check);
 * - SQLite tracks its locks per file across the connections of one process too, so a second
 *   gateway in the same process is refused as well.
 *
 * Like every SQLite lock it needs a local filesystem: NFS and other network filesystems may not
 * honour it. Several replicas share Postgres (`DATABASE_URL`) instead.
 */
export class DatabaseLockedError extends Error {
  override name = 'DatabaseLockedError' as const;
  readonly path: string;

  constructor(path: string, options?: { cause?: unknown }) {
    super(
      `Another gateway process is using the SQLite database ${path} (its lock ${lockPathOf(path)} is held). Run one process per DATABASE_PATH, or share Postgres (DATABASE_URL) between several.`,
      options,
    );
    this.path = path;
  }
}

/** Works across realms and copies of this module: it checks the name, not the prototype. */
export const isDatabaseLockedError = (value: unknown): value is DatabaseLockedError =>
  value instanceof Error && value.name === 'DatabaseLockedError';

export const lockPathOf = (databasePath: string) => `${databasePath}.lock`;

export interface DatabaseLock {
  /** Where the lock is held. */
  readonly path: string;
  /** Lets the next process in (also happens by itself when this one ends). */
  release(): void;
}

/**
 * Takes the exclusive lock on `databasePath`'s side file, or throws `DatabaseLockedError` at once
 * (no waiting) when another process, or another store of this one, holds it.
 */
export function lockDatabase(databasePath: string): DatabaseLock {
  const path = lockPathOf(databasePath);
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma('busy_timeout = 0');
    db.pragma('journal_mode = MEMORY');
    // Held from the first write until the connection closes, not only for one transaction.
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL, since TEXT NOT NULL)');
    db.exec('BEGIN EXCLUSIVE');
    db.prepare('DELETE FROM holder').run();
    db.prepare('INSERT INTO holder (pid, since) VALUES (?, ?)').run(
      process.pid,
      new Date().toISOString(),
    );
    db.exec('COMMIT');
  } catch (error) {
    db.close();
    if ((error as { code?: unknown }).code === 'SQLITE_BUSY') {
      throw new DatabaseLockedError(databasePath, { cause: error });
    }
    throw error;
  }
  return {
    path,
    release() {
      if (!db.open) return;
      // libsql's close() lets go of the connection only once its statements are collected, so
      // the lock would outlive it: drop the exclusive mode and touch the file, which unlocks it.
      try {
        db.pragma('locking_mode = NORMAL');
        db.prepare('SELECT COUNT(*) FROM holder').get();
      } finally {
        db.close();
      }
    },
  };
}
