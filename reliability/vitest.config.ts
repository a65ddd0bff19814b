import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../vitest.shared.js';

export default mergeConfig(sharedConfig('reliability'), {
  test: {
    // The gateway processes start from one esbuild bundle made here, not through tsx.
    globalSetup: ['test/global-setup.ts'],
  },
});
