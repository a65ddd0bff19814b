import { createRequire } from 'node:module';
import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

const require = createRequire(import.meta.url);

export default mergeConfig(sharedConfig('playground'), {
  // The tests start the real gateway in-process: one copy of graphql for it.
  resolve: { alias: { graphql: require.resolve('graphql') } },
  test: {
    environment: 'node',
    server: { deps: { inline: ['@pothos/core'] } },
    // Renders the video the end-to-end test generates, once, before it.
    globalSetup: ['./test/support/video-dir.ts'],
    // One browser at a time on a 2-core machine.
    fileParallelism: false,
  },
});
