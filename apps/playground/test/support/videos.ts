/** The video the end-to-end test generates; no vitest import, so the global setup can use it. */
import type { VideoInput } from '@wan-video/core';

export const PROMPT = 'a lighthouse at dusk, waves crashing on the rocks';

/** What the form sends for it: 832×480 landscape, 20 steps, seed 1234, the other fields left. */
export const GENERATED: VideoInput = {
  prompt: PROMPT,
  width: 832,
  height: 480,
  steps: 20,
  seed: 1234,
};
