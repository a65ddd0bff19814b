import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isTerminalStatus,
  reduceTask,
  TASK_STATUSES,
  type TaskSnapshot,
  type TaskStatus,
} from '../src/index.js';

const base: TaskSnapshot = {
  taskId: 't1',
  status: 'QUEUED',
  progressPercent: 0,
  etaSeconds: null,
  failureReason: null,
  videos: [],
  seed: null,
};
const at = (patch: Partial<TaskSnapshot>): TaskSnapshot => ({ ...base, ...patch });
const video = (url: string, expiresAt: number) => ({ url, type: 'mp4', expiresAt });

const snapshotArb: fc.Arbitrary<TaskSnapshot> = fc
  .record({
    status: fc.constantFrom(...TASK_STATUSES),
    progressPercent: fc.integer({ min: 0, max: 100 }),
    etaSeconds: fc.option(fc.integer({ min: 1, max: 600 }), { nil: null }),
    seed: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: null }),
    url: fc.constantFrom('https://a/1.mp4', 'https://a/2.mp4'),
    expiresAt: fc.integer({ min: 1, max: 10 }),
  })
  .map(({ url, expiresAt, ...s }) => ({
    ...base,
    ...s,
    failureReason: s.status === 'FAILED' ? 'boom' : null,
    videos: s.status === 'SUCCEEDED' ? [video(url, expiresAt)] : [],
  }));

describe('reduceTask', () => {
  it('takes the first snapshot as it is', () => {
    expect(reduceTask(undefined, at({ progressPercent: 5 }))).toEqual({
      outcome: 'changed',
      snapshot: at({ progressPercent: 5 }),
    });
  });

  it('moves forward: QUEUED to PROCESSING to SUCCEEDED', () => {
    const processing = reduceTask(
      base,
      at({ status: 'PROCESSING', progressPercent: 10, etaSeconds: 9 }),
    );
    expect(processing.outcome).toBe('changed');
    const done = reduceTask(
      processing.snapshot,
      at({ status: 'SUCCEEDED', progressPercent: 100, videos: [video('u', 1)] }),
    );
    expect(done).toEqual({
      outcome: 'changed',
      snapshot: at({ status: 'SUCCEEDED', progressPercent: 100, videos: [video('u', 1)] }),
    });
  });

  it('drops duplicates', () => {
    const s = at({ status: 'PROCESSING', progressPercent: 40, etaSeconds: 3 });
    expect(reduceTask(s, { ...s })).toEqual({ outcome: 'duplicate', snapshot: s });
  });

  it('never lets progress go backwards', () => {
    const s = at({ status: 'PROCESSING', progressPercent: 60, etaSeconds: 8 });
    const r = reduceTask(s, at({ status: 'PROCESSING', progressPercent: 50, etaSeconds: 7 }));
    expect(r).toEqual({
      outcome: 'changed',
      snapshot: at({ status: 'PROCESSING', progressPercent: 60, etaSeconds: 7 }),
    });
    expect(
      reduceTask(s, at({ status: 'PROCESSING', progressPercent: 10, etaSeconds: 8 })).outcome,
    ).toBe('duplicate');
  });

  it('rejects a status going back, and anything leaving a terminal status', () => {
    const processing = at({ status: 'PROCESSING', progressPercent: 10 });
    expect(reduceTask(processing, base)).toMatchObject({
      outcome: 'rejected',
      snapshot: processing,
    });
    for (const terminal of ['SUCCEEDED', 'FAILED'] as const) {
      const done = at({ status: terminal, progressPercent: 100 });
      for (const other of TASK_STATUSES.filter((s) => s !== terminal)) {
        const r = reduceTask(done, at({ status: other }));
        expect(r).toMatchObject({ outcome: 'rejected', snapshot: done });
        expect(r.outcome === 'rejected' && r.reason).toContain(`already ${terminal}`);
      }
    }
  });

  it('rejects a snapshot of another task', () => {
    expect(reduceTask(base, at({ taskId: 'other' })).outcome).toBe('rejected');
  });

  it('lets a SUCCEEDED task refresh its video links, keeping the first expiry of a known URL', () => {
    const done = at({ status: 'SUCCEEDED', progressPercent: 100, videos: [video('u1', 1000)] });
    expect(reduceTask(done, { ...done, videos: [video('u1', 5000)] }).outcome).toBe('duplicate');
    expect(reduceTask(done, { ...done, videos: [video('u2', 5000)] })).toEqual({
      outcome: 'changed',
      snapshot: { ...done, videos: [video('u2', 5000)] },
    });
    const failed = at({ status: 'FAILED', failureReason: 'first' });
    expect(reduceTask(failed, at({ status: 'FAILED', failureReason: 'second' })).outcome).toBe(
      'duplicate',
    );
  });

  it('keeps its laws over any sequence of readings', () => {
    const rank: Record<TaskStatus, number> = { QUEUED: 0, PROCESSING: 1, SUCCEEDED: 2, FAILED: 2 };
    fc.assert(
      fc.property(fc.array(snapshotArb, { minLength: 1, maxLength: 30 }), (readings) => {
        let state: TaskSnapshot | undefined;
        for (const reading of readings) {
          const before = state;
          const r = reduceTask(state, reading);
          if (r.outcome !== 'changed') expect(r.snapshot).toBe(before);
          if (before) {
            expect(r.snapshot.progressPercent).toBeGreaterThanOrEqual(before.progressPercent);
            expect(rank[r.snapshot.status]).toBeGreaterThanOrEqual(rank[before.status]);
            if (isTerminalStatus(before.status)) expect(r.snapshot.status).toBe(before.status);
            if (r.outcome === 'changed') expect(r.snapshot).not.toEqual(before);
          }
          // Applying the result again changes nothing.
          expect(reduceTask(r.snapshot, r.snapshot).outcome).toBe('duplicate');
          state = r.snapshot;
        }
      }),
    );
  });
});
