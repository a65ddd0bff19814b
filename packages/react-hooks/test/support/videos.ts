/** The videos the hooks tests generate; no vitest import, so the global setup can use them. */
import type { VideoInput } from '@wan-video/core';

/** What the components generate. */
export const INPUT = {
  prompt: 'a lighthouse at dusk',
  width: 832,
  height: 480,
  steps: 10,
  seed: 3,
} as const;

/** The task the reconnect test follows: long upstream (steps 40), the smallest video. */
export const LONG_INPUT = { ...INPUT, steps: 40, seed: 43 } as const;

/**
 * The videos the tests wait for, rendered by the global setup (video-dir.ts) before the suites.
 * A render is the one slow step of a generation, and a busy machine makes it slower than a
 * test may take; these tests are about the hooks, not about rendering.
 */
export const PRERENDERED: readonly Partial<VideoInput>[] = [INPUT, LONG_INPUT];
