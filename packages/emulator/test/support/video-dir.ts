/**
 * vitest global setup: one video directory for the whole run of this package's suites, so that
 * emulators asking for the same video (same parameters) render it once between them. The test
 * files run one after the other, each with its own emulators; they share only these files.
 *
 * The videos several tests ask for (SHARED_VIDEOS, one of them 720×1280) are rendered here,
 * before the suites, by an emulator like theirs: a render is the one slow step of a test, and a
 * busy machine makes a big one slower than a test may take. The tests then check the files the
 * emulator serves; the tests about rendering itself still render on demand.
 */
import type { CreateTaskRequestInput } from '@wan-video/core';
import { videoDirSetup } from '@wan-video/test-utils/video-dir';
import { startEmulator } from '../../src/index.js';
import { SHARED_VIDEOS, wire } from './wire.js';

export default videoDirSetup(
  'emulator',
  startEmulator,
  SHARED_VIDEOS.map((patch) => wire(patch) as CreateTaskRequestInput),
);
