/**
 * vitest global setup: the run's video directory, holding the video the end-to-end test
 * generates (GENERATED), rendered from the request the gateway sends. The gateway's embedded
 * emulator keeps its videos there: the test is about the playground, and the emulator's suites
 * test rendering.
 */
import { parseVideoInput, toCreateTaskRequest } from '@wan-video/core';
import { startEmulator } from '@wan-video/emulator';
import { videoDirSetup } from '@wan-video/test-utils/video-dir';
import { GENERATED } from './videos.js';

export default videoDirSetup('playground', startEmulator, [
  toCreateTaskRequest(parseVideoInput(GENERATED)),
]);
