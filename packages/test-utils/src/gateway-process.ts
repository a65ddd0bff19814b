/**
 * The gateway as a real child process, as users run it: for crash, restart and attack suites
 * (SIGKILL is only a SIGKILL when there is a process to kill). Its output is kept line by line.
 *
 * The child runs the one-file bundle `bundleGatewayBin` made (quick to load on a busy machine:
 * about a second instead of 15 to 20 s of tsx transpiling), named by `WAN_GATEWAY_TEST_BIN`, or
 * `src/bin.ts` through tsx when there is none.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

/** The gateway package's folder (a sibling of this one in the workspace). */
export const GATEWAY_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../gateway');

/** A port that was free a moment ago (the OS picks it; it is closed again at once). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

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

/**
 * Bundles the gateway's `src/bin.ts` (and the workspace packages it reads from source) into one
 * ESM file, sets `WAN_GATEWAY_TEST_BIN` to it and returns a function that deletes it. npm
 * packages stay external, imported from their installed place by absolute path.
 * Meant for a vitest global setup.
 */
export async function bundleGatewayBin(): Promise<() => Promise<void>> {
  const outDir = join(GATEWAY_DIR, 'node_modules', '.cache', 'wan-video-test-bin');
  await mkdir(outDir, { recursive: true });
  const outfile = join(outDir, `bin-${process.pid}.mjs`);
  await build({
    entryPoints: [join(GATEWAY_DIR, 'src/bin.ts')],
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

function gatewayArgs(): string[] {
  const bin = process.env.WAN_GATEWAY_TEST_BIN;
  return bin
    ? ['--enable-source-maps', bin]
    : ['--conditions=@wan-video/source', '--import', 'tsx', 'src/bin.ts'];
}

function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _ignored, ...inherited } = process.env;
  return { ...inherited, ...env };
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** Runs a command to its exit, stdout and stderr piped (not a terminal) and kept whole. */
export function runToExit(
  command: string,
  args: readonly string[],
  options: { readonly cwd: string; readonly env: NodeJS.ProcessEnv },
): Promise<Exit & { stdout: string; stderr: string }> {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs the gateway binary expecting it to exit by itself (a bad configuration, say). */
export function runGatewayToExit(
  env: Record<string, string>,
): Promise<Exit & { stdout: string; stderr: string }> {
  return runToExit(process.execPath, gatewayArgs(), { cwd: GATEWAY_DIR, env: childEnv(env) });
}

export interface ChildGateway {
  readonly child: ChildProcess;
  readonly port: number;
  readonly url: string;
  readonly graphqlUrl: string;
  readonly wsUrl: string;
  /** Every non-empty line the process wrote to stdout, and to stderr. */
  readonly stdout: string[];
  readonly stderr: string[];
  /** The stdout lines that are JSON log records, parsed. */
  logs(): Record<string, any>[];
  /** Resolves when the process has exited and its output is all read. */
  readonly exited: Promise<Exit>;
  /** Sends a signal (unless it has exited) and waits for the exit. */
  kill(signal: NodeJS.Signals): Promise<Exit>;
  /** One GraphQL request over HTTP POST. */
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: { data?: T; errors?: any[] } }>;
}

/** Polls `check` until it resolves true, or rejects after `ms`. */
async function poll(check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= end) throw new Error(`not within ${ms} ms (last: ${String(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Starts the gateway with `env` on `port` and waits for `GET /healthz` to answer 200 (or for the
 * process to die, which rejects with its output). `healthyWithinMs` bounds the wait (20 s).
 */
export async function spawnGateway(
  port: number,
  env: Record<string, string>,
  options: { readonly healthyWithinMs?: number } = {},
): Promise<ChildGateway> {
  const child = spawn(process.execPath, gatewayArgs(), {
    cwd: GATEWAY_DIR,
    env: childEnv({ ...env, PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null, into: string[]) => {
    let buffer = '';
    const keep = (lines: string[]) => into.push(...lines.filter((line) => line.trim() !== ''));
    stream?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      keep(lines);
    });
    stream?.on('end', () => keep([buffer]));
  };
  collect(child.stdout, stdout);
  collect(child.stderr, stderr);
  let exitedWith: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      exitedWith = { code, signal };
      resolve(exitedWith);
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const gateway: ChildGateway = {
    child,
    port,
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    stdout,
    stderr,
    logs() {
      return stdout.flatMap((line) => {
        try {
          const record = JSON.parse(line);
          return typeof record === 'object' && record !== null ? [record] : [];
        } catch {
          return [];
        }
      });
    },
    exited,
    async kill(signal) {
      if (!exitedWith) child.kill(signal);
      return exited;
    },
    async gql(query, variables, headers = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return {
        status: response.status,
        body: (await response.json()) as { data?: any; errors?: any[] },
      };
    },
  };

  const healthy = poll(
    async () => (await fetch(`${url}/healthz`)).status === 200,
    options.healthyWithinMs ?? 20_000,
  );
  const died = exited.then((exit) => {
    throw new Error(
      `the gateway exited (${JSON.stringify(exit)}) before it was healthy:\n${[...stderr, ...stdout].join('\n')}`,
    );
  });
  try {
    await Promise.race([healthy, died]);
  } catch (error) {
    await gateway.kill('SIGKILL');
    throw error;
  } finally {
    died.catch(() => {});
    healthy.catch(() => {});
  }
  return gateway;
}
