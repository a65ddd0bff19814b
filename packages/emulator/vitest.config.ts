import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

export default mergeConfig(sharedConfig('emulator'), {
  // One video directory for every suite of the run: a video is rendered once, then reused.
  test: { globalSetup: ['./test/support/video-dir.ts'] },
});
