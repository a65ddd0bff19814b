/**
 * vitest global setup: the run's video directory, holding the videos the tests wait for
 * (PRERENDERED), rendered from the same requests the gateway sends. Every live gateway's
 * emulator keeps its videos there (see live-gateway.ts).
 */
import { parseVideoInput, toCreateTaskRequest } from '@wan-video/core';
import { startEmulator } from '@wan-video/emulator';
import { videoDirSetup } from '@wan-video/test-utils/video-dir';
import { PRERENDERED } from './videos.js';

export default videoDirSetup(
  'hooks',
  startEmulator,
  PRERENDERED.map((input) => toCreateTaskRequest(parseVideoInput(input))),
);
