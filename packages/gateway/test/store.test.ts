/**
 * The `TaskStore` seam: one conformance suite that both stores pass (SQLite on a temp file,
 * Postgres on a database of its own), then what several replicas sharing one store rely on: two
 * store instances on the same storage, racing.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseVideoInput, type TaskSnapshot } from '@wan-video/core';
import fc from 'fast-check';
import Database from 'libsql';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DatabaseLockedError, lockDatabase } from '../src/store/lock.js';
import { isPostgresStoreError, PostgresTaskStore } from '../src/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../src/store/postgres-migrations.js';
import { SqliteTaskStore } from '../src/store/sqlite.js';
import type { InsertResult, NewTask, TaskRecord, TaskStore } from '../src/store/types.js';
import { createTestDatabase, type TestDatabase } from './support/services.js';

/** Where a store keeps its tasks: every `open` is another instance on the same storage. */
interface Storage {
  open(): Promise<TaskStore>;
  drop(): Promise<void>;
}

async function sqliteStorage(): Promise<Storage> {
  const dir = mkdtempSync(join(tmpdir(), 'wan-video-store-'));
  const path = join(dir, 'tasks.db');
  return {
    open: async () => new SqliteTaskStore(path),
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresStorage(): Promise<Storage> {
  const database = await createTestDatabase();
  return {
    open: () => PostgresTaskStore.open(database.url, { poolSize: 8 }),
    drop: () => database.drop(),
  };
}

const BACKENDS = [
  // A failure reason holding U+0000, as each store reads it back. Neither text column can hold
  // U+0000: libsql cuts the text there; Postgres would refuse the write, so the store writes U+FFFD.
  { name: 'SqliteTaskStore', storage: sqliteStorage, reasonWithNul: 'bad' },
  { name: 'PostgresTaskStore', storage: postgresStorage, reasonWithNul: 'bad\uFFFDbyte' },
];

/** Past 2^32 ms, so a BIGINT that came back as a string or a truncated int would show. */
const T0 = 1_750_000_000_123;
const NO_LIMIT = { maxInFlight: 1_000_000 };

/** A prompt no JSON column may mangle: U+0000, a lone surrogate, an emoji, quotes. */
const INPUT = parseVideoInput({
  prompt: 'a lighthouse at dusk \u0000 \ud800 🌊 "quoted" \\ back',
  width: 832,
  height: 480,
  seed: 9_999_999_999,
  loras: [{ path: 'https://example.com/lora.safetensors', scale: 0.7 }],
});

let owners = 0;
/** An owner of the test's own: tests share one storage per backend but never see each other. */
const freshOwner = () => `owner-${++owners}-${randomUUID().slice(0, 8)}`;

function newTask(owner: string, overrides: Partial<NewTask> = {}): NewTask {
  return {
    id: `${owner}/${randomUUID()}`,
    owner,
    idempotencyKey: null,
    inputHash: 'hash-1',
    input: INPUT,
    webhookSecretHash: null,
    createdAt: T0,
    deadlineAt: T0 + 3_600_000,
    ...overrides,
  };
}

function snapshot(overrides: Partial<TaskSnapshot> = {}): TaskSnapshot {
  return {
    taskId: 'upstream-1',
    status: 'PROCESSING',
    progressPercent: 40,
    etaSeconds: 30,
    failureReason: null,
    videos: [],
    seed: null,
    ...overrides,
  };
}

function created(result: InsertResult): TaskRecord {
  if (result.outcome !== 'created') throw new Error(`expected created, got ${result.outcome}`);
  return result.task;
}

/** The owner's tasks, every page of `first`, following the cursor. */
async function allPages(store: TaskStore, owner: string, first: number) {
  const pages: TaskRecord[][] = [];
  let after: { createdAt: number; id: string } | undefined;
  for (;;) {
    const page = await store.list(owner, first, after);
    pages.push([...page.tasks]);
    const last = page.tasks.at(-1);
    if (!page.hasNextPage || !last) return pages;
    after = { createdAt: last.createdAt, id: last.id };
  }
}

/** Newest first, ties by id descending (ids here are ASCII, where JS order is byte order). */
const newestFirst = (a: TaskRecord, b: TaskRecord) =>
  b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

describe.each(BACKENDS)('$name', ({ storage: createStorage, reasonWithNul }) => {
  let storage: Storage;
  let store: TaskStore;
  /** A second instance on the same storage: another replica. */
  let replica: TaskStore;
  let owner: string;

  beforeAll(async () => {
    storage = await createStorage();
    store = await storage.open();
    replica = await storage.open();
  });
  afterAll(async () => {
    await store?.close();
    await replica?.close();
    await storage?.drop();
  });
  beforeEach(() => {
    owner = freshOwner();
  });

  describe('insert and get', () => {
    it('writes a CREATING task at version 1 and reads back exactly what it was given', async () => {
      const task = newTask(owner, {
        idempotencyKey: 'key-1',
        webhookSecretHash: 'secret-hash',
      });
      const result = await store.insert(task, NO_LIMIT);
      const expected: TaskRecord = {
        id: task.id,
        owner,
        idempotencyKey: 'key-1',
        inputHash: 'hash-1',
        input: INPUT,
        upstreamTaskId: null,
        status: 'CREATING',
        progressPercent: 0,
        etaSeconds: null,
        failureReason: null,
        videos: [],
        seedUsed: null,
        webhookSecretHash: 'secret-hash',
        version: 1,
        createdAt: T0,
        updatedAt: T0,
        completedAt: null,
        deadlineAt: T0 + 3_600_000,
      };
      expect(result).toEqual({ outcome: 'created', task: expected });
      expect(await replica.get(task.id)).toEqual(expected);
      expect((await replica.get(task.id))?.input.prompt).toBe(INPUT.prompt);
      expect(await store.get(`${owner}/missing`)).toBeUndefined();
    });

    it('returns the holder of a used idempotency key, per owner; null keys never clash', async () => {
      const first = created(await store.insert(newTask(owner, { idempotencyKey: 'k' }), NO_LIMIT));
      const again = await store.insert(
        newTask(owner, { idempotencyKey: 'k', inputHash: 'hash-2' }),
        NO_LIMIT,
      );
      expect(again).toEqual({ outcome: 'exists', task: first });
      expect(await store.findByIdempotencyKey(owner, 'k')).toEqual(first);
      expect(await store.findByIdempotencyKey(owner, 'other')).toBeUndefined();

      const someoneElse = freshOwner();
      expect(
        (await store.insert(newTask(someoneElse, { idempotencyKey: 'k' }), NO_LIMIT)).outcome,
      ).toBe('created');
      await store.insert(newTask(owner), NO_LIMIT);
      expect((await store.insert(newTask(owner), NO_LIMIT)).outcome).toBe('created');
    });

    it('refuses a task past maxInFlight and writes nothing, but still answers a used key', async () => {
      const limits = { maxInFlight: 2 };
      const held = created(await store.insert(newTask(owner, { idempotencyKey: 'a' }), limits));
      created(await store.insert(newTask(owner), limits));
      const refused = newTask(owner, { idempotencyKey: 'b' });
      expect(await store.insert(refused, limits)).toEqual({ outcome: 'in_flight_limit' });
      expect(await store.get(refused.id)).toBeUndefined();
      expect(await store.findByIdempotencyKey(owner, 'b')).toBeUndefined();
      expect(await store.insert(newTask(owner, { idempotencyKey: 'a' }), limits)).toEqual({
        outcome: 'exists',
        task: held,
      });

      await store.fail(held.id, 'gave up', T0 + 1);
      expect((await store.insert(newTask(owner), limits)).outcome).toBe('created');
    });
  });

  describe('markCreated', () => {
    it('turns CREATING into QUEUED once, bumping the version', async () => {
      const task = created(await store.insert(newTask(owner), NO_LIMIT));
      const queued = await store.markCreated(task.id, 'upstream-1', T0 + 10);
      expect(queued).toEqual({
        ...task,
        upstreamTaskId: 'upstream-1',
        status: 'QUEUED',
        updatedAt: T0 + 10,
        version: 2,
      });
      expect(await replica.markCreated(task.id, 'upstream-2', T0 + 20)).toEqual(queued);
    });

    it('rejects for a task the store does not hold', async () => {
      await expect(store.markCreated(`${owner}/missing`, 'up', T0)).rejects.toThrow(
        'is not in the store',
      );
    });
  });

  describe('applySnapshot', () => {
    it('writes the snapshot only at the expected version; the loser gets undefined', async () => {
      const task = await store.markCreated(
        created(await store.insert(newTask(owner), NO_LIMIT)).id,
        'upstream-1',
        T0,
      );
      const progress = snapshot({ progressPercent: 40, etaSeconds: 30, seed: 9_999_999_999 });
      const results = await Promise.all([
        store.applySnapshot(task.id, progress, T0 + 5, task.version),
        replica.applySnapshot(task.id, progress, T0 + 5, task.version),
      ]);
      const written = results.filter((result) => result !== undefined);
      expect(written).toHaveLength(1);
      expect(written[0]).toEqual({
        ...task,
        status: 'PROCESSING',
        progressPercent: 40,
        etaSeconds: 30,
        seedUsed: 9_999_999_999,
        updatedAt: T0 + 5,
        version: task.version + 1,
      });
      expect(await store.get(task.id)).toEqual(written[0]);
      expect(await store.applySnapshot(task.id, progress, T0 + 7, task.version)).toBeUndefined();
    });

    it('keeps a known seed, and sets completedAt at the first terminal snapshot only', async () => {
      const task = created(await store.insert(newTask(owner), NO_LIMIT));
      const seeded = await store.applySnapshot(task.id, snapshot({ seed: 42 }), T0 + 1, 1);
      const unseeded = await store.applySnapshot(task.id, snapshot({ seed: null }), T0 + 2, 2);
      expect(seeded?.seedUsed).toBe(42);
      expect(unseeded).toMatchObject({ seedUsed: 42, completedAt: null, version: 3 });

      const videos = [{ url: 'https://cdn.example/v.mp4?sig=a&b=c', type: 'mp4', expiresAt: T0 }];
      const done = snapshot({
        status: 'SUCCEEDED',
        progressPercent: 100,
        etaSeconds: null,
        videos,
      });
      const succeeded = await store.applySnapshot(task.id, done, T0 + 3, 3);
      expect(succeeded).toMatchObject({ status: 'SUCCEEDED', videos, completedAt: T0 + 3 });
      const refreshed = await store.applySnapshot(task.id, done, T0 + 4, 4);
      expect(refreshed).toMatchObject({ completedAt: T0 + 3, updatedAt: T0 + 4, version: 5 });
    });
  });

  describe('fail', () => {
    it('ends an unfinished task as FAILED, and leaves an ended task as it is', async () => {
      const task = created(await store.insert(newTask(owner), NO_LIMIT));
      await store.applySnapshot(task.id, snapshot({ etaSeconds: 12 }), T0 + 1, 1);
      const failed = await store.fail(task.id, 'deadline passed', T0 + 2);
      expect(failed).toMatchObject({
        status: 'FAILED',
        failureReason: 'deadline passed',
        etaSeconds: null,
        progressPercent: 40,
        updatedAt: T0 + 2,
        completedAt: T0 + 2,
        version: 3,
      });
      expect(await replica.fail(task.id, 'again', T0 + 3)).toEqual(failed);
      await expect(store.fail(`${owner}/missing`, 'x', T0)).rejects.toThrow('is not in the store');
    });

    it('writes a failure reason holding U+0000, from fail or a snapshot', async () => {
      const [a, b] = [
        created(await store.insert(newTask(owner), NO_LIMIT)),
        created(await store.insert(newTask(owner), NO_LIMIT)),
      ];
      const failed = await store.fail(a.id, 'bad\u0000byte', T0);
      const reported = await store.applySnapshot(
        b.id,
        snapshot({ status: 'FAILED', failureReason: 'bad\u0000byte', etaSeconds: null }),
        T0,
        1,
      );
      expect(failed.failureReason).toBe(reasonWithNul);
      expect(reported?.failureReason).toBe(reasonWithNul);
    });
  });

  describe('discard', () => {
    it('removes a CREATING task and frees its key; any other task stays', async () => {
      const creating = created(
        await store.insert(newTask(owner, { idempotencyKey: 'k' }), NO_LIMIT),
      );
      const queued = await store.markCreated(
        created(await store.insert(newTask(owner), NO_LIMIT)).id,
        'upstream-1',
        T0,
      );
      await store.discard(creating.id);
      await store.discard(queued.id);
      expect(await store.get(creating.id)).toBeUndefined();
      expect(await store.get(queued.id)).toEqual(queued);
      expect((await store.insert(newTask(owner, { idempotencyKey: 'k' }), NO_LIMIT)).outcome).toBe(
        'created',
      );
    });
  });

  describe('adopt', () => {
    it('gives a CREATING task the upstream id the upstream proved it has: QUEUED, version bumped', async () => {
      const task = created(await store.insert(newTask(owner), NO_LIMIT));
      const adopted = await replica.adopt(task.id, `${owner}-up`, T0 + 10);
      expect(adopted).toEqual({
        ...task,
        upstreamTaskId: `${owner}-up`,
        status: 'QUEUED',
        updatedAt: T0 + 10,
        version: 2,
      });
      expect(await store.get(task.id)).toEqual(adopted);
      // Once it has an id, nothing adopts it again: not the same id, not another.
      expect(await store.adopt(task.id, `${owner}-up`, T0 + 11)).toBeUndefined();
      expect(await store.adopt(task.id, `${owner}-other`, T0 + 11)).toBeUndefined();
      expect(await store.get(task.id)).toEqual(adopted);
    });

    it('brings back a task FAILED without an upstream id, clearing the failure', async () => {
      const task = created(await store.insert(newTask(owner), NO_LIMIT));
      const failed = await store.fail(task.id, 'interrupted while being created', T0 + 1);
      const adopted = await store.adopt(task.id, `${owner}-up`, T0 + 2);
      expect(adopted).toEqual({
        ...failed,
        upstreamTaskId: `${owner}-up`,
        status: 'QUEUED',
        failureReason: null,
        etaSeconds: null,
        completedAt: null,
        updatedAt: T0 + 2,
        version: failed.version + 1,
      });
      expect(await store.countInFlight(owner)).toBe(1);
      expect((await store.unfinished()).map((record) => record.id)).toContain(task.id);
    });

    it('leaves every other task as it is', async () => {
      const queued = await store.markCreated(
        created(await store.insert(newTask(owner), NO_LIMIT)).id,
        `${owner}-first`,
        T0,
      );
      const ended = await store.applySnapshot(
        queued.id,
        snapshot({ taskId: `${owner}-first`, status: 'FAILED', failureReason: 'upstream said no' }),
        T0 + 1,
        queued.version,
      );
      expect(await store.adopt(queued.id, `${owner}-second`, T0 + 2)).toBeUndefined();
      expect(await store.get(queued.id)).toEqual(ended);
      expect(await store.adopt(`${owner}/missing`, `${owner}-third`, T0 + 2)).toBeUndefined();
    });

    it('refuses an upstream id another task already holds', async () => {
      const holder = await store.markCreated(
        created(await store.insert(newTask(owner), NO_LIMIT)).id,
        `${owner}-held`,
        T0,
      );
      const task = created(await store.insert(newTask(owner), NO_LIMIT));
      expect(await store.adopt(task.id, `${owner}-held`, T0 + 1)).toBeUndefined();
      expect(await store.get(task.id)).toEqual(task);
      expect(await store.get(holder.id)).toEqual(holder);
    });

    it('lets exactly one of 10 concurrent adopts through', async () => {
      const task = created(await store.insert(newTask(owner), NO_LIMIT));
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? replica : store).adopt(task.id, `${owner}-race-${i}`, T0 + i),
        ),
      );
      const winners = results.filter((result) => result !== undefined);
      expect(winners).toHaveLength(1);
      expect(await store.get(task.id)).toEqual(winners[0]);
    });
  });

  describe('list', () => {
    it('pages newest first, ties broken by id, across pages of equal createdAt', async () => {
      const written: [string, number][] = [
        ['c', T0],
        ['a', T0 + 1],
        ['e', T0 + 1],
        ['b', T0 + 1],
        ['d', T0 + 1],
        ['f', T0 + 2],
        ['g', T0],
      ];
      for (const [id, createdAt] of written) {
        await store.insert(newTask(owner, { id: `${owner}/${id}`, createdAt }), NO_LIMIT);
      }
      const pages = await allPages(store, owner, 2);
      expect(pages.map((page) => page.map((task) => task.id.slice(owner.length + 1)))).toEqual([
        ['f', 'e'],
        ['d', 'b'],
        ['a', 'g'],
        ['c'],
      ]);
      expect(await store.list(owner, 7)).toMatchObject({ hasNextPage: false });
      expect(await store.list(owner, 6)).toMatchObject({ hasNextPage: true });
      expect(await store.list(freshOwner(), 5)).toEqual({ tasks: [], hasNextPage: false });
    });

    it('walks every task exactly once, in order, whatever the createdAt ties and page size', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(
            fc.record({
              id: fc.stringMatching(/^[A-Za-z0-9_-]{1,6}$/),
              createdAt: fc.integer({ min: 0, max: 4 }),
            }),
            { selector: (task) => task.id, maxLength: 12 },
          ),
          fc.integer({ min: 1, max: 5 }),
          async (tasks, first) => {
            const runOwner = freshOwner();
            const written: TaskRecord[] = [];
            for (const { id, createdAt } of tasks) {
              const task = newTask(runOwner, {
                id: `${runOwner}/${id}`,
                createdAt: T0 + createdAt,
              });
              written.push(created(await store.insert(task, NO_LIMIT)));
            }
            const pages = await allPages(store, runOwner, first);
            expect(pages.flat()).toEqual(written.sort(newestFirst));
            expect(pages.slice(0, -1).every((page) => page.length === first)).toBe(true);
          },
        ),
        { numRuns: 25 },
      );
    });
  });

  describe('unfinished and counts', () => {
    it('lists unfinished tasks oldest first, CREATING included, ended ones left out', async () => {
      const write = async (createdAt: number) =>
        created(await store.insert(newTask(owner, { createdAt }), NO_LIMIT));
      const creating = await write(T0 + 3);
      const queued = await store.markCreated((await write(T0 + 1)).id, 'up-q', T0 + 5);
      const processing = await store.applySnapshot((await write(T0 + 2)).id, snapshot(), T0, 1);
      await store.fail((await write(T0)).id, 'gone', T0 + 6);
      const succeeded = await write(T0 - 1);
      await store.applySnapshot(
        succeeded.id,
        snapshot({ status: 'SUCCEEDED', progressPercent: 100, etaSeconds: null }),
        T0 + 7,
        1,
      );

      const mine = (await replica.unfinished()).filter((task) => task.owner === owner);
      expect(mine).toEqual([queued, processing, creating]);
      expect(await replica.countInFlight(owner)).toBe(3);
      expect(await replica.countInFlight(freshOwner())).toBe(0);
    });

    it("keeps the owner's in-flight count through every change, as each instance sees it", async () => {
      const count = async () => [
        await store.countInFlight(owner),
        await replica.countInFlight(owner),
      ];
      const a = created(await store.insert(newTask(owner), NO_LIMIT));
      const b = created(await replica.insert(newTask(owner), NO_LIMIT));
      const c = created(await store.insert(newTask(owner), NO_LIMIT));
      expect(await count()).toEqual([3, 3]);
      const queued = await store.markCreated(a.id, `${owner}-a`, T0);
      const processing = await store.applySnapshot(a.id, snapshot(), T0, queued.version);
      expect(await count()).toEqual([3, 3]);
      const done = snapshot({ status: 'SUCCEEDED', progressPercent: 100, etaSeconds: null });
      await replica.applySnapshot(a.id, done, T0, (processing as TaskRecord).version);
      expect(await count()).toEqual([2, 2]);
      await store.fail(b.id, 'no', T0);
      await store.fail(b.id, 'again', T0);
      await store.fail(a.id, 'ended already', T0);
      expect(await count()).toEqual([1, 1]);
      // FAILED without an upstream id, then adopted: in flight again.
      await replica.adopt(b.id, `${owner}-b`, T0);
      expect(await count()).toEqual([2, 2]);
      await store.discard(c.id);
      expect(await count()).toEqual([1, 1]);
      const unfinished = (await store.unfinished()).filter((task) => task.owner === owner);
      expect(unfinished.map((task) => task.id)).toEqual([b.id]);
    });

    it('counts tasks by status, every status present', async () => {
      const before = await store.countByStatus();
      const a = created(await store.insert(newTask(owner), NO_LIMIT));
      const b = created(await store.insert(newTask(owner), NO_LIMIT));
      await store.insert(newTask(owner), NO_LIMIT);
      await store.markCreated(a.id, 'up-a', T0);
      await store.fail(b.id, 'no', T0);
      const after = await replica.countByStatus();
      expect(Object.keys(after).sort()).toEqual(
        ['CREATING', 'FAILED', 'PROCESSING', 'QUEUED', 'SUCCEEDED'].sort(),
      );
      expect(after).toEqual({
        CREATING: before.CREATING + 1,
        QUEUED: before.QUEUED + 1,
        PROCESSING: before.PROCESSING,
        SUCCEEDED: before.SUCCEEDED,
        FAILED: before.FAILED + 1,
      });
    });

    it('keeps the counts by status through every change, a write that loses included', async () => {
      const before = await store.countByStatus();
      const change = async (expected: Partial<Record<keyof typeof before, number>>) =>
        expect(await replica.countByStatus()).toEqual({ ...before, ...expected });
      const a = created(await store.insert(newTask(owner), NO_LIMIT));
      const b = created(await store.insert(newTask(owner), NO_LIMIT));
      const c = created(await store.insert(newTask(owner), NO_LIMIT));
      await change({ CREATING: before.CREATING + 3 });
      const queued = await store.markCreated(a.id, `${owner}-a`, T0);
      const processing = await store.applySnapshot(a.id, snapshot(), T0, queued.version);
      await change({ CREATING: before.CREATING + 2, PROCESSING: before.PROCESSING + 1 });
      // A stale version writes nothing, and counts nothing.
      expect(await store.applySnapshot(a.id, snapshot(), T0, queued.version)).toBeUndefined();
      const done = snapshot({ status: 'SUCCEEDED', progressPercent: 100, etaSeconds: null });
      await store.applySnapshot(a.id, done, T0, (processing as TaskRecord).version);
      await store.fail(b.id, 'no', T0);
      await change({
        CREATING: before.CREATING + 1,
        SUCCEEDED: before.SUCCEEDED + 1,
        FAILED: before.FAILED + 1,
      });
      await store.adopt(b.id, `${owner}-b`, T0);
      await store.discard(c.id);
      await change({ QUEUED: before.QUEUED + 1, SUCCEEDED: before.SUCCEEDED + 1 });
    });
  });

  describe('two instances racing (two replicas)', () => {
    it('gives one idempotency key to exactly one of 20 concurrent inserts', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? replica : store).insert(
            newTask(owner, { idempotencyKey: 'same', inputHash: `hash-${i}` }),
            NO_LIMIT,
          ),
        ),
      );
      const winners = results.filter((result) => result.outcome === 'created');
      expect(winners).toHaveLength(1);
      const winner = created(winners[0] as InsertResult);
      expect(results.filter((result) => result.outcome === 'exists')).toHaveLength(19);
      for (const result of results) expect(result).toMatchObject({ task: { id: winner.id } });
      expect((await store.list(owner, 100)).tasks).toEqual([winner]);
    });

    it('lets exactly maxInFlight of 20 concurrent inserts through', async () => {
      const limits = { maxInFlight: 3 };
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? replica : store).insert(newTask(owner), limits),
        ),
      );
      expect(results.filter((result) => result.outcome === 'created')).toHaveLength(3);
      expect(results.filter((result) => result.outcome === 'in_flight_limit')).toHaveLength(17);
      expect(await store.countInFlight(owner)).toBe(3);
      expect((await replica.list(owner, 100)).tasks).toHaveLength(3);
    });
  });

  it('answers ping, and close twice is fine', async () => {
    const extra = await storage.open();
    await expect(extra.ping()).resolves.toBeUndefined();
    await extra.close();
    await extra.close();
  });
});

describe('PostgresTaskStore only', () => {
  const databases: TestDatabase[] = [];
  const fresh = async () => {
    const database = await createTestDatabase();
    databases.push(database);
    return database;
  };
  afterAll(async () => {
    await Promise.all(databases.map((database) => database.drop()));
  });

  async function migrationRows(url: string) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: number; name: string; applied_at: Date }>(
        'SELECT version, name, applied_at FROM wan_video_migrations ORDER BY version',
      );
      return rows;
    } finally {
      await client.end();
    }
  }

  it('numbers its migrations 1, 2, 3… in order', () => {
    expect(POSTGRES_MIGRATIONS.map((migration) => migration.version)).toEqual(
      POSTGRES_MIGRATIONS.map((_, i) => i + 1),
    );
  });

  it('migrates once when two replicas open an empty database together; reopening adds nothing', async () => {
    const { url } = await fresh();
    const stores = await Promise.all([PostgresTaskStore.open(url), PostgresTaskStore.open(url)]);
    const first = await migrationRows(url);
    expect(first.map(({ version, name }) => ({ version, name }))).toEqual(
      POSTGRES_MIGRATIONS.map(({ version, name }) => ({ version, name })),
    );
    const again = await PostgresTaskStore.open(url);
    expect(await migrationRows(url)).toEqual(first);
    await Promise.all([...stores, again].map((store) => store.close()));
  });

  it('refuses a database migrated by a newer gateway', async () => {
    const { url } = await fresh();
    await (await PostgresTaskStore.open(url)).close();
    const future = (POSTGRES_MIGRATIONS.at(-1)?.version ?? 0) + 1;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('INSERT INTO wan_video_migrations (version, name) VALUES ($1, $2)', [
      future,
      'from the future',
    ]);
    await client.end();

    const opening = PostgresTaskStore.open(url);
    await expect(opening).rejects.toThrow(
      `schema is at version ${future}, newer than this gateway knows`,
    );
    await expect(opening).rejects.toMatchObject({ code: 'SCHEMA_TOO_NEW' });
  });

  it('names an unreachable server without its password', async () => {
    const error = await PostgresTaskStore.open('postgres://wan:s3cret-pw@127.0.0.1:1/tasks').catch(
      (caught: unknown) => caught,
    );
    expect(isPostgresStoreError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'UNAVAILABLE' });
    expect((error as Error).message).toContain('127.0.0.1:1/tasks');
    expect((error as Error).message).not.toContain('s3cret-pw');
    expect((error as Error).message).not.toContain('wan:');
  });
});

describe('SqliteTaskStore only', () => {
  it("counts a database's tasks once when it opens a file made before the counts", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wan-video-store-'));
    const path = join(dir, 'tasks.db');
    try {
      const owner = freshOwner();
      const old = new SqliteTaskStore(path);
      const tasks = [];
      for (let i = 0; i < 4; i++) tasks.push(created(await old.insert(newTask(owner), NO_LIMIT)));
      await old.fail((tasks[0] as TaskRecord).id, 'ended', T0);
      await old.close();
      // What a gateway before the counts left: no tables, no triggers.
      const raw = new Database(path);
      raw.exec(`DROP TRIGGER tasks_in_flight_insert; DROP TRIGGER tasks_in_flight_update;
        DROP TRIGGER tasks_in_flight_delete; DROP TABLE owners_in_flight;
        DROP TRIGGER tasks_status_insert; DROP TRIGGER tasks_status_update;
        DROP TRIGGER tasks_status_delete; DROP TABLE status_counts;`);
      raw.close();
      for (let open = 0; open < 2; open++) {
        const store = new SqliteTaskStore(path);
        expect(await store.countInFlight(owner)).toBe(3);
        expect(await store.countByStatus()).toEqual({
          CREATING: 3,
          QUEUED: 0,
          PROCESSING: 0,
          SUCCEEDED: 0,
          FAILED: 1,
        });
        await store.close();
      }
      const store = new SqliteTaskStore(path);
      await store.insert(newTask(owner), NO_LIMIT);
      expect(await store.countInFlight(owner)).toBe(4);
      expect(await store.insert(newTask(owner), { maxInFlight: 4 })).toEqual({
        outcome: 'in_flight_limit',
      });
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the SQLite file lock', () => {
  it('is refused while held and free the moment it is released, 100 times in one process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wan-video-lock-'));
    try {
      const path = join(dir, 'tasks.db');
      for (let round = 0; round < 100; round++) {
        const lock = lockDatabase(path);
        expect(() => lockDatabase(path)).toThrow(DatabaseLockedError);
        // libsql closes a connection only once its statements are collected: release must not
        // wait for the garbage collector (a restart in one process found the lock still held).
        lock.release();
        lockDatabase(path).release();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
