/** Request bodies the suites send; no vitest import, so the global setup can use them too. */

export const KEY = 'contract-test-key';
export const AUTH = { authorization: `Bearer ${KEY}` } as const;

/** A small valid create body: 832×480, few steps, so the task is quick. */
export const wire = (patch: Record<string, unknown> = {}) => ({
  model_name: 'wan2.1-t2v',
  width: 832,
  height: 480,
  seed: 1,
  prompt: 'a lighthouse at dusk, waves',
  steps: 4,
  ...patch,
});

/**
 * The videos that several tests ask for (`wire(patch)`): the global setup renders them once,
 * before the suites, into the run's video directory, where every emulator finds them. The
 * tests that need a video ask for one of these unless they are about another.
 */
export const SHARED_VIDEOS: readonly Record<string, unknown>[] = [{}, { width: 720, height: 1280 }];
