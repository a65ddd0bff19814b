/**
 * Runs once before the gateway's test files: bundles `src/bin.ts` (and the workspace packages it
 * reads from source) into one ESM file with esbuild, so that each gateway child process a test
 * starts loads one file instead of transpiling hundreds with tsx. On a busy 2-core machine that
 * is the difference between a child being healthy in about a second and in 15 to 20 s.
 * npm packages stay external, imported from their installed place by absolute path.
 */
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../..');
const OUT_DIR = join(PACKAGE_DIR, 'node_modules', '.cache', 'wan-video-test-bin');

/** Bare imports other than our own packages: external, by the absolute path they resolve to. */
const externalDependencies: Plugin = {
  name: 'external-dependencies',
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.path.startsWith('@wan-video/') || args.path.startsWith('node:')) return undefined;
      if (args.pluginData === 'resolving') return undefined;
      const resolved = await pluginBuild.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: 'resolving',
      });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return { path: resolved.path, external: true };
    });
  },
};

export default async function setup(): Promise<() => Promise<void>> {
  await mkdir(OUT_DIR, { recursive: true });
  const outfile = join(OUT_DIR, `bin-${process.pid}.mjs`);
  await build({
    entryPoints: [join(PACKAGE_DIR, 'src/bin.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@wan-video/source'],
    // Resolve externals as Node's own ESM loader does: `exports` where a package has them, else
    // `main`, never `module` (graphql's index.mjs beside yoga's index.js would be two graphqls).
    mainFields: ['main'],
    // The schema's modules register their types by being imported (Pothos): keep them, whatever
    // `sideEffects: false` says.
    ignoreAnnotations: true,
    sourcemap: 'inline',
    logLevel: 'error',
    plugins: [externalDependencies],
  });
  process.env.WAN_GATEWAY_TEST_BIN = outfile;
  return async () => {
    await rm(outfile, { force: true });
  };
}
