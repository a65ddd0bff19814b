/**
 * The hooks as a user gets them: core and the hooks packed with `pnpm pack`, installed with npm
 * from the registry into a new Vite + React app outside the repository, the README's quick start
 * pasted as it is written, the app type-checked (strict) and built, served on an origin of its
 * own, and played in Chromium against a real gateway (embedded emulator) on another origin.
 *
 * The README's code talks to `http://localhost:4000/graphql`, as written, from a page on
 * `http://localhost:5173` (Vite's dev server): Chromium maps both to free ports taken by the test
 * (`--host-resolver-rules`), so no fixed port is used, and the browser's own CORS and WebSocket
 * rules meet the gateway's default configuration.
 *
 * The pack and the install are network- and CPU-bound steps done once in `beforeAll`, each with a
 * hook timeout of its own; every test stays under the 30 s ceiling.
 */
import { execFile } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, normalize, sep } from 'node:path';
import { Writable } from 'node:stream';
import { createGateway, type Gateway, readConfig } from '@wan-video/gateway';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '@wan-video/test-utils';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const HOOKS_DIR = join(import.meta.dirname, '..');
const CORE_DIR = join(HOOKS_DIR, '../core');
const OPERATIONS_DIR = join(HOOKS_DIR, '../operations');
const README = join(HOOKS_DIR, 'README.md');

/** The README's code blocks that name their file: ```tsx title="src/App.tsx" … ``` */
function readmeFiles(markdown: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const match of markdown.matchAll(/^```\w+ title="([^"]+)"\n([\s\S]*?)^```$/gm)) {
    files.set(match[1] ?? '', match[2] ?? '');
  }
  return files;
}

describe('the README quick start', () => {
  it('is examples/App.tsx and examples/main.tsx, as they are (type-checked by pnpm typecheck)', async () => {
    const files = readmeFiles(await readFile(README, 'utf8'));
    expect([...files.keys()]).toEqual(['src/App.tsx', 'src/main.tsx']);
    for (const [path, code] of files) {
      const example = await readFile(join(HOOKS_DIR, 'examples', basename(path)), 'utf8');
      expect(code, `README's ${path} against examples/${basename(path)}`).toBe(example);
    }
  });
});

/** Only what npm, pnpm, tsc and Vite need: none of vitest's NODE_ENV, npm_config_* or VITEST. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'USER', 'LANG', 'TZ', 'TMPDIR', 'CI'];
  return {
    ...Object.fromEntries(
      keep.flatMap((key) => (process.env[key] ? [[key, process.env[key]]] : [])),
    ),
    ...extra,
  };
}

/** Runs a command; fails with the end of its output. */
function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? cleanEnv(),
        timeout: options.timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const output = `${stdout}\n${stderr}`.trim().split('\n').slice(-40).join('\n');
        reject(new Error(`${command} ${args.join(' ')} failed (${error.message}):\n${output}`));
      },
    );
  });
}

interface Packed {
  readonly file: string;
  readonly entries: readonly string[];
  readonly manifest: Record<string, unknown> & { version: string };
}

/** `pnpm pack` (its prepack builds `dist/`), then the tarball's file list and package.json. */
async function pack(packageDir: string, destination: string): Promise<Packed> {
  await mkdir(destination, { recursive: true });
  await run('pnpm', ['pack', '--pack-destination', destination], {
    cwd: packageDir,
    timeoutMs: 110_000,
  });
  const [name] = (await readdir(destination)).filter((file) => file.endsWith('.tgz'));
  if (!name) throw new Error(`pnpm pack wrote no tarball in ${destination}`);
  const file = join(destination, name);
  const list = await run('tar', ['-tzf', file], { cwd: destination, timeoutMs: 10_000 });
  const manifest = await run('tar', ['-xzOf', file, 'package/package.json'], {
    cwd: destination,
    timeoutMs: 10_000,
  });
  return {
    file,
    entries: list.split('\n').filter(Boolean),
    manifest: JSON.parse(manifest) as Packed['manifest'],
  };
}

/** Every file a packed package.json points at (`main`, `types`, each `exports` target). */
function pointedAt(manifest: Record<string, unknown>): string[] {
  const targets: string[] = [];
  const walk = (value: unknown): void => {
    if (typeof value === 'string') targets.push(value);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  walk([manifest.main, manifest.types, manifest.exports]);
  return targets.map((target) => `package/${normalize(target)}`);
}

/** The app `npm create vite@latest -- --template react-ts` makes (create-vite 9.3), trimmed. */
function appFiles(core: Packed, operations: Packed, hooks: Packed): Record<string, string> {
  return {
    'package.json': JSON.stringify(
      {
        name: 'wan-video-tarball-app',
        private: true,
        version: '0.0.0',
        type: 'module',
        dependencies: {
          '@wan-video/core': `file:${core.file}`,
          '@wan-video/operations': `file:${operations.file}`,
          '@wan-video/react-hooks': `file:${hooks.file}`,
          react: '^19.3.1',
          'react-dom': '^19.3.1',
        },
        devDependencies: {
          '@types/react': '^19.3.0',
          '@types/react-dom': '^19.3.0',
          '@vitejs/plugin-react': '^6.1.2',
          typescript: '~7.0.2',
          vite: '^8.3.4',
        },
      },
      null,
      2,
    ),
    // The template's tsconfig.app.json, with `strict` spelled out.
    'tsconfig.json': JSON.stringify(
      {
        compilerOptions: {
          target: 'es2023',
          lib: ['ES2023', 'DOM'],
          module: 'esnext',
          types: ['vite/client'],
          skipLibCheck: true,
          moduleResolution: 'bundler',
          allowImportingTsExtensions: true,
          verbatimModuleSyntax: true,
          moduleDetection: 'force',
          noEmit: true,
          jsx: 'react-jsx',
          strict: true,
          noUnusedLocals: true,
          noUnusedParameters: true,
          erasableSyntaxOnly: true,
          noFallthroughCasesInSwitch: true,
        },
        include: ['src'],
      },
      null,
      2,
    ),
    'vite.config.ts': [
      "import react from '@vitejs/plugin-react';",
      "import { defineConfig } from 'vite';",
      '',
      'export default defineConfig({ plugins: [react()] });',
      '',
    ].join('\n'),
    'index.html': [
      '<!doctype html>',
      '<html lang="en">',
      '  <head>',
      '    <meta charset="UTF-8" />',
      '    <link rel="icon" href="data:," />',
      '    <title>wan-video tarball app</title>',
      '  </head>',
      '  <body>',
      '    <div id="root"></div>',
      '    <script type="module" src="/src/main.tsx"></script>',
      '  </body>',
      '</html>',
      '',
    ].join('\n'),
  };
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** A static server for the built app (what `vite preview` or any host does), on loopback. */
async function serveStatic(root: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://app.invalid').pathname;
      const file = normalize(join(root, path === '/' ? 'index.html' : decodeURIComponent(path)));
      const info = file.startsWith(root + sep)
        ? await stat(file).catch(() => undefined)
        : undefined;
      if (!info?.isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, {
        'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': info.size,
      });
      createReadStream(file).pipe(res);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('the packed packages in a new Vite + React app', () => {
  let temp: string;
  let app: string;
  let core: Packed;
  let operations: Packed;
  let hooks: Packed;
  let built = false;

  beforeAll(async () => {
    // Outside the repository: no workspace, no hoisted node_modules above it.
    temp = await mkdtemp(join(tmpdir(), 'wan-hooks-tarball-'));
    app = join(temp, 'app');
    // One after the other: the hooks' prepack builds core and operations too.
    core = await pack(CORE_DIR, join(temp, 'packs', 'core'));
    operations = await pack(OPERATIONS_DIR, join(temp, 'packs', 'operations'));
    hooks = await pack(HOOKS_DIR, join(temp, 'packs', 'react-hooks'));
  }, 120_000);

  beforeAll(async () => {
    await mkdir(join(app, 'src'), { recursive: true });
    for (const [path, content] of Object.entries(appFiles(core, operations, hooks))) {
      await writeFile(join(app, path), content);
    }
    // The README's blocks, pasted as they are written.
    for (const [path, code] of readmeFiles(await readFile(README, 'utf8'))) {
      await mkdir(dirname(join(app, path)), { recursive: true });
      await writeFile(join(app, path), code);
    }
    // From the registry, with a cache of its own inside the temporary directory.
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: app,
      env: cleanEnv({
        npm_config_cache: join(temp, 'npm-cache'),
        npm_config_update_notifier: 'false',
      }),
      timeoutMs: 170_000,
    });
  }, 180_000);

  afterAll(async () => {
    if (temp) await rm(temp, { recursive: true, force: true });
  });

  it('packs dist with types, versions instead of workspace: ranges, react as a peer', () => {
    for (const packed of [core, operations, hooks]) {
      const { manifest, entries } = packed;
      expect(JSON.stringify(manifest)).not.toContain('workspace:');
      expect(entries).toEqual(
        expect.arrayContaining(['package/dist/index.js', 'package/dist/index.d.ts']),
      );
      // Each file the manifest points at is in the tarball, the source condition's src too.
      expect(entries).toEqual(expect.arrayContaining(pointedAt(manifest)));
      const root = (manifest.exports as Record<string, Record<string, string>>)['.'] ?? {};
      const published = Object.keys(root).filter((condition) => condition !== '@wan-video/source');
      expect(published[0]).toBe('types');
      expect(root).toMatchObject({ types: './dist/index.d.ts', import: './dist/index.js' });
      expect(manifest.publishConfig).toEqual({ access: 'public' });
    }
    expect(hooks.manifest.dependencies).toMatchObject({
      '@wan-video/core': core.manifest.version,
      '@wan-video/operations': operations.manifest.version,
    });
    // tsc does not emit the generated introspection (a .d.ts); the build copies it.
    expect(operations.entries).toContain('package/dist/graphql-env.d.ts');
    expect(hooks.manifest.peerDependencies).toEqual({ react: '^18.2.0 || ^19.0.0' });
    expect(hooks.manifest.dependencies).not.toHaveProperty('react');
    expect(core.manifest.dependencies).toEqual({ zod: expect.any(String) });
  });

  it('installs core once, from its tarball, and Node resolves both without the source condition', async () => {
    const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; resolved?: string }>;
    };
    const installed = Object.keys(lock.packages).filter((path) =>
      path.endsWith('node_modules/@wan-video/core'),
    );
    expect(installed).toEqual(['node_modules/@wan-video/core']);
    expect(lock.packages['node_modules/@wan-video/core']?.resolved).toMatch(/^file:.*\.tgz$/);
    const script = [
      "const core = await import('@wan-video/core');",
      "const hooks = await import('@wan-video/react-hooks');",
      'console.log(typeof core.safeParseVideoInput, typeof hooks.useGenerateVideo);',
    ].join('\n');
    const output = await run('node', ['--input-type=module', '-e', script], {
      cwd: app,
      timeoutMs: 20_000,
    });
    expect(output.trim()).toBe('function function');
  });

  it('type-checks strictly with the template compiler options', async () => {
    await run(join(app, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], {
      cwd: app,
      timeoutMs: 25_000,
    });
  });

  it('builds with vite build', async () => {
    await run(join(app, 'node_modules/.bin/vite'), ['build', '--logLevel', 'error'], {
      cwd: app,
      timeoutMs: 25_000,
    });
    expect(existsSync(join(app, 'dist/index.html'))).toBe(true);
    built = true;
  });

  describe('in Chromium, from localhost:5173, against a real gateway on localhost:4000', () => {
    let gateway: Gateway;
    let site: { server: Server; port: number };
    let browser: Browser;
    let page: Page;
    /** What went wrong on the page: errors, failed requests, HTTP errors. */
    const problems: string[] = [];

    beforeAll(async () => {
      if (!built) return;
      const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
      // The gateway's defaults (CORS, auth, loopback), with the embedded emulator.
      gateway = createGateway(
        readConfig({
          PORT: '0',
          DATABASE_PATH: join(temp, 'gateway.sqlite'),
          EMULATOR_TIME_SCALE: '20',
          LOG_LEVEL: 'warn',
        }),
        {
          logDestination: sink,
          pollPolicy: { minIntervalMs: 50, maxIntervalMs: 250, idleIntervalMs: 50 },
          emulator: { storageDir: join(temp, 'videos') },
        },
      );
      await gateway.start();
      site = await serveStatic(join(app, 'dist'));
      const rules = [
        `MAP localhost:4000 127.0.0.1:${new URL(gateway.url).port}`,
        `MAP localhost:5173 127.0.0.1:${site.port}`,
      ];
      browser = await chromium.launch({
        executablePath: CHROMIUM_PATH,
        headless: true,
        args: [...CHROMIUM_ARGS, `--host-resolver-rules=${rules.join(',')}`],
      });
      page = await browser.newPage();
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('requestfailed', (request) => {
        const reason = request.failure()?.errorText;
        // A video's first range request is cancelled by Chromium itself once it knows the size.
        if (request.resourceType() === 'media' && reason === 'net::ERR_ABORTED') return;
        problems.push(`${request.url()}: ${reason}`);
      });
      page.on('response', (response) => {
        if (response.status() >= 400) problems.push(`${response.url()}: ${response.status()}`);
      });
    });

    afterAll(async () => {
      await browser?.close();
      await new Promise((resolve) => (site ? site.server.close(resolve) : resolve(undefined)));
      await gateway?.stop();
    });

    /** Fails with what the page shows and what went wrong on it. */
    const explain = async (what: string, error: unknown): Promise<never> => {
      const shown = await page
        .locator('body')
        .textContent({ timeout: 1_000 })
        .catch(() => '?');
      throw new Error(
        `${what} (${(error as Error).message}); the page shows "${shown}"; problems: ${problems.join('; ') || 'none'}`,
      );
    };

    it('loads the app, whose history query reaches the gateway across origins', async () => {
      expect(built, 'the app was built').toBe(true);
      const history = page.waitForResponse(
        (response) => response.url() === 'http://localhost:4000/graphql' && response.ok(),
        { timeout: 20_000 },
      );
      await page.goto('http://localhost:5173/');
      await history.catch((error: unknown) => explain('no answer from the gateway', error));
      await page.getByRole('button', { name: 'Generate' }).waitFor({ timeout: 5_000 });
    });

    it('generates: the mutation is accepted and progress comes over the WebSocket', async () => {
      await page.getByRole('button', { name: 'Generate' }).click();
      await page
        .getByText(/^(QUEUED|PROCESSING|SUCCEEDED) \d+%/)
        .waitFor({ timeout: 20_000 })
        .catch((error: unknown) => explain('no progress', error));
    });

    it('plays the video once it is rendered, and lists the task as SUCCEEDED', async () => {
      // The emulator renders the video with ffmpeg: seconds, more on a busy machine.
      await page
        .waitForFunction(() => (document.querySelector('video')?.readyState ?? 0) >= 2, undefined, {
          timeout: 25_000,
        })
        .catch((error: unknown) => explain('no playing video', error));
      await page.getByText('a lighthouse at dusk, waves: SUCCEEDED').waitFor({ timeout: 3_000 });
      expect(problems).toEqual([]);
    });
  });
});
