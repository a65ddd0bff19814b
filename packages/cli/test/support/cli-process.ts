/**
 * The CLI as users run it: a child process (`node bin.js …`), its stdout, stderr and exit code
 * kept. The binary is one ESM bundle of `src/bin.ts` made by `bundleCliBin` in the global setup
 * (workspace packages inlined from source, npm packages imported from where they are installed).
 */

import { mkdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runToExit } from '@wan-video/test-utils/gateway-process';

export const CLI_DIR = join(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * esbuild, from test-utils (which depends on it to bundle the gateway's bin for the same reason):
 * the CLI package itself has no build tool but tsc (typed loosely: esbuild's types are not its to import).
 */
async function loadEsbuild(): Promise<any> {
  const require = createRequire(import.meta.url);
  const fromTestUtils = createRequire(require.resolve('@wan-video/test-utils/gateway-process'));
  return import(fromTestUtils.resolve('esbuild'));
}

/** Bundles `src/bin.ts`, sets `WAN_CLI_TEST_BIN` to the file, and returns its remover. */
export async function bundleCliBin(): Promise<() => Promise<void>> {
  const esbuild = await loadEsbuild();
  const outDir = join(CLI_DIR, 'node_modules', '.cache', 'wan-video-test-bin');
  await mkdir(outDir, { recursive: true });
  const outfile = join(outDir, `cli-${process.pid}.mjs`);
  await esbuild.build({
    entryPoints: [join(CLI_DIR, 'src/bin.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    conditions: ['@wan-video/source'],
    mainFields: ['main'],
    sourcemap: 'inline',
    logLevel: 'error',
    plugins: [
      {
        // npm packages stay external, by the absolute path they resolve to from their importer.
        name: 'external-dependencies',
        setup(build: any) {
          build.onResolve({ filter: /^[^./]/ }, async (args: any) => {
            if (args.path.startsWith('@wan-video/') || args.path.startsWith('node:')) return;
            if (args.pluginData === 'resolving') return;
            const resolved = await build.resolve(args.path, {
              kind: args.kind,
              resolveDir: args.resolveDir,
              importer: args.importer,
              pluginData: 'resolving',
            });
            if (resolved.errors.length > 0) return { errors: resolved.errors };
            return { path: resolved.path, external: true };
          });
        },
      },
    ],
  });
  process.env.WAN_CLI_TEST_BIN = outfile;
  return async () => {
    await rm(outfile, { force: true });
  };
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment a CLI child gets: this one's, without any WAN_VIDEO_* or NODE_OPTIONS. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key.startsWith('WAN_VIDEO_') || key === 'NODE_OPTIONS') delete env[key];
  }
  return { ...env, ...extra };
}

/** The command that runs the bundled CLI: `node --enable-source-maps <bundle>`. */
export function cliCommand(): [string, string[]] {
  const bin = process.env.WAN_CLI_TEST_BIN;
  if (!bin) throw new Error('WAN_CLI_TEST_BIN is unset: the global setup did not run');
  return [process.execPath, ['--enable-source-maps', bin]];
}

/** Runs `wan-video …args` to its exit, stdout and stderr piped (not a terminal). */
export function runCli(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliRun> {
  const [command, prefix] = cliCommand();
  return runToExit(command, [...prefix, ...args], {
    cwd: options.cwd ?? CLI_DIR,
    env: cliEnv(options.env),
  });
}
