import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

/**
 * What every package's vitest config shares: workspace packages are read from source (the
 * `@wan-video/source` export condition, so no build is needed before testing), and each run
 * writes a JSON report that `.ci/run` sums into one closing line.
 */
export function sharedConfig(packageDir: string, name: string) {
  return defineConfig({
    resolve: { conditions: ['@wan-video/source'] },
    ssr: { resolve: { conditions: ['@wan-video/source'] } },
    test: {
      name,
      include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
      testTimeout: 15_000,
      reporters: [
        'default',
        ['json', { outputFile: join(packageDir, '../../test-results', `${name}.json`) }],
      ],
    },
  });
}
