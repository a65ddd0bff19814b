import { createRequire } from 'node:module';
import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

const require = createRequire(import.meta.url);

export default mergeConfig(sharedConfig('gateway'), {
  // One copy of graphql for everyone (ours, Pothos, yoga): two realms would make yoga mask our errors.
  resolve: { alias: { graphql: require.resolve('graphql') } },
  test: {
    server: { deps: { inline: ['@pothos/core'] } },
    // Gateway child processes start from one esbuild bundle made here, not through tsx.
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
