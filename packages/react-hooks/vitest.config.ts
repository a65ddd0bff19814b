import { createRequire } from 'node:module';
import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

const require = createRequire(import.meta.url);

export default mergeConfig(sharedConfig('react-hooks'), {
  // The tests start the real gateway in-process: one copy of graphql for it and the hooks.
  resolve: { alias: { graphql: require.resolve('graphql') } },
  test: {
    // Node's environment, with a DOM from happy-dom added by the setup file (see there why).
    environment: 'node',
    setupFiles: ['./test/support/dom.ts'],
    // Renders the videos the tests wait for, once, before the suites.
    globalSetup: ['./test/support/video-dir.ts'],
    server: { deps: { inline: ['@pothos/core'] } },
  },
});
