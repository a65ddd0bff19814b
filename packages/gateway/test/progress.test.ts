/**
 * Progress a person can watch: between upstream reads a subscriber is sent the progress and
 * ETA estimated for now (marked `progressEstimated`), never going backwards, the ETA counting
 * down, with no more upstream reads than before. The estimate's rules are property-tested; a
 * real task over graphql-ws shows them live.
 */
import { DEFAULT_POLL_POLICY } from '@wan-video/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskRecord } from '../src/store/types.js';
import { shownAt } from '../src/task.js';
import { GENERATE, readsOf, type Stack, smallInput, startStack } from './support/stack.js';

const SUBSCRIBE = /* GraphQL */ `
  subscription Watch($id: ID!) {
    videoTask(id: $id) { status progressPercent etaSeconds progressEstimated }
  }
`;

const record = (patch: Partial<TaskRecord>): TaskRecord => ({
  id: 't',
  owner: 'o',
  idempotencyKey: null,
  inputHash: 'h',
  input: {} as TaskRecord['input'],
  upstreamTaskId: 'u',
  status: 'PROCESSING',
  progressPercent: 40,
  etaSeconds: 10,
  failureReason: null,
  videos: [],
  seedUsed: null,
  webhookSecretHash: null,
  version: 3,
  createdAt: 0,
  updatedAt: 1_000_000,
  completedAt: null,
  deadlineAt: 10_000_000,
  ...patch,
});

describe('the estimate between reads', () => {
  const processing = fc.record({
    progressPercent: fc.integer({ min: 0, max: 99 }),
    etaSeconds: fc.integer({ min: 1, max: 3600 }),
  });

  it('moves forward with time, stays within [the last figure, 99], and counts the ETA down', () => {
    fc.assert(
      fc.property(
        processing,
        fc.integer({ min: 0, max: 4_000_000 }),
        fc.integer({ min: 0, max: 4_000_000 }),
        (figures, a, b) => {
          const task = record(figures);
          const [early, late] = [Math.min(a, b), Math.max(a, b)].map((ms) =>
            shownAt(task, task.updatedAt + ms),
          );
          if (!early || !late) throw new Error('unreachable');
          for (const shown of [early, late]) {
            expect(shown.progressPercent).toBeGreaterThanOrEqual(figures.progressPercent);
            expect(shown.progressPercent).toBeLessThanOrEqual(99);
            expect(shown.etaSeconds).toBeLessThanOrEqual(figures.etaSeconds);
            expect(shown.etaSeconds).toBeGreaterThanOrEqual(0);
          }
          expect(late.progressPercent).toBeGreaterThanOrEqual(early.progressPercent);
          expect(late.etaSeconds).toBeLessThanOrEqual(early.etaSeconds as number);
        },
      ),
    );
  });

  it('is the upstream figure itself within a second of a read, or without an ETA or PROCESSING', () => {
    fc.assert(
      fc.property(
        processing,
        fc.integer({ min: 0, max: 999 }),
        fc.constantFrom<Partial<TaskRecord>>(
          {},
          { etaSeconds: null },
          { status: 'QUEUED' },
          { status: 'SUCCEEDED', progressPercent: 100 },
        ),
        (figures, ms, patch) => {
          const task = record({ ...figures, ...patch });
          const later = Object.keys(patch).length === 0 ? ms : ms + 60_000;
          const shown = shownAt(task, task.updatedAt + later);
          expect(shown.progressEstimated).toBe(false);
          expect(shown.progressPercent).toBe(task.progressPercent);
          expect(shown.etaSeconds).toBe(task.etaSeconds);
        },
      ),
    );
  });

  it('never shows less than a subscriber was shown, until the task ends', () => {
    fc.assert(
      fc.property(processing, fc.integer({ min: 0, max: 99 }), (figures, floor) => {
        const task = record(figures);
        const shown = shownAt(task, task.updatedAt, floor);
        expect(shown.progressPercent).toBe(Math.max(floor, figures.progressPercent));
        expect(shown.progressEstimated).toBe(floor > figures.progressPercent);
        const failed = shownAt(record({ ...figures, status: 'FAILED' }), task.updatedAt, floor);
        expect(failed.progressPercent).toBe(figures.progressPercent);
      }),
    );
  });
});

describe('a task in progress, watched live', () => {
  let stack: Stack;
  beforeAll(async () => {
    // 832x480 at 30 steps: about 10 s upstream at this time scale, most of it PROCESSING;
    // core's default poll policy (the stack's own reads every few milliseconds).
    stack = await startStack({
      emulator: { timeScale: 2 },
      gateway: { pollPolicy: DEFAULT_POLL_POLICY },
    });
  });
  afterAll(() => stack?.stop());

  it('is sent estimates between reads: forward only, the ETA counting down, one final state', async () => {
    const input = smallInput({ steps: 30, seed: 91 });
    const { body } = await stack.gql(GENERATE, { input });
    expect(body.errors).toBeUndefined();
    const id = body.data.generateVideo.id as string;
    const client = stack.ws();
    const events: {
      status: string;
      progressPercent: number;
      etaSeconds: number | null;
      progressEstimated: boolean;
    }[] = [];
    await new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: SUBSCRIBE, variables: { id } },
        {
          next: (message) => {
            if (message.errors) reject(new Error(JSON.stringify(message.errors)));
            else events.push((message.data as any).videoTask);
          },
          error: reject,
          complete: resolve,
        },
      );
    });

    expect(events.at(-1)?.status).toBe('SUCCEEDED');
    expect(events.filter((event) => event.status === 'SUCCEEDED')).toHaveLength(1);
    const progress = events.map((event) => event.progressPercent);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const estimates = events.filter((event) => event.progressEstimated);
    expect(estimates.length).toBeGreaterThan(0);
    for (const estimate of estimates) {
      expect(estimate.status).toBe('PROCESSING');
      expect(estimate.progressPercent).toBeLessThanOrEqual(99);
    }
    // Estimates in a row count the ETA down.
    for (let index = 1; index < events.length; index++) {
      const [before, after] = [events[index - 1], events[index]];
      if (before?.progressEstimated && after?.progressEstimated) {
        expect(after.etaSeconds).toBeLessThanOrEqual(before.etaSeconds as number);
      }
    }
    // And the upstream was read no more than ceil(T / 3 s) + 3 times (T under 15 s here).
    const log = [...stack.emulator.requests()];
    const created = log.find((entry) => entry.method === 'POST' && entry.taskId);
    expect(readsOf(log, created?.taskId as string).length).toBeLessThanOrEqual(
      Math.ceil(15 / 3) + 3,
    );
  });
});
