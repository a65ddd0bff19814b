import { createRequire } from 'node:module';
import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

const require = createRequire(import.meta.url);

export default mergeConfig(sharedConfig('cli'), {
  // gateway-help.test.ts reads the gateway's readConfig: one copy of graphql for it and Pothos.
  resolve: { alias: { graphql: require.resolve('graphql') } },
  test: {
    server: { deps: { inline: ['@pothos/core'] } },
    // The gateway's and the CLI's bins are bundled once here; every test runs them as children.
    globalSetup: ['test/support/global-setup.ts'],
  },
});
