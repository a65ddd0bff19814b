import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * What every package's vitest config shares: workspace packages are read from source (the
 * `@wan-video/source` export condition, so no build is needed before testing), and each run
 * writes a JSON report that `.ci/run` sums into one closing line.
 */
export function sharedConfig(name: string) {
  return defineConfig({
    resolve: { conditions: ['@wan-video/source'] },
    ssr: { resolve: { conditions: ['@wan-video/source'] } },
    // Where vitest itself loads a package's global setup: it reads workspace sources too, not
    // a dist/ that may be stale or missing.
    environments: {
      __vitest__: {
        resolve: { conditions: ['@wan-video/source', 'module', 'node', 'development|production'] },
      },
    },
    test: {
      name,
      include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
      // The ceiling for one test or hook, on a busy 2-core machine: tests wait on events, and
      // one that needs longer must do less work (see the README), not raise this.
      testTimeout: 30_000,
      hookTimeout: 30_000,
      reporters: [
        'default',
        ['json', { outputFile: join(import.meta.dirname, 'test-results', `${name}.json`) }],
      ],
    },
  });
}
