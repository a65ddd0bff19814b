// @vitest-environment happy-dom
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { UpstreamError } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, '../src/index.ts');
const scratch = join(here, '../.scratch');

/**
 * Bundles core for the browser, as Vite would for the playground. esbuild refuses to resolve
 * `node:` modules on the browser platform, so a Node-only import anywhere in core fails here.
 * Bundled once for both tests.
 */
let bundled: Promise<string> | undefined;
function browserBundle(): Promise<string> {
  bundled ??= bundle();
  return bundled;
}

async function bundle(): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const [file] = result.outputFiles;
  if (!file) throw new Error('esbuild produced no output');
  return file.text;
}

describe('core in a browser', () => {
  it('bundles for the browser platform with no Node-only import', async () => {
    const code = await browserBundle();
    expect(code).not.toMatch(/\bfrom\s*["']node:|require\(["']/);
  });

  it('runs in a DOM environment: validation, the reducer and the client', async () => {
    expect(typeof window).toBe('object');
    expect(typeof document.createElement).toBe('function');
    // Inside the package, where vitest may load from.
    await mkdir(scratch, { recursive: true });
    const dir = await mkdtemp(join(scratch, 'bundle-'));
    try {
      const file = join(dir, 'core.browser.mjs');
      await writeFile(file, await browserBundle());
      const core = (await import(/* @vite-ignore */ file)) as typeof import('../src/index.js');
      const bad = core.safeParseVideoInput({ prompt: 'x', width: 832, height: 832 });
      expect(!bad.success && bad.error.issues[0]?.message).toBe(
        'height must be 480 when width is 832',
      );
      const good = core.parseVideoInput({
        prompt: 'x',
        width: 1280,
        height: 720,
        seed: 9_999_999_999,
      });
      expect(core.toCreateTaskRequest(good)).toMatchObject({ seed: 9_999_999_999, steps: 30 });
      const client = new core.NovitaClient({
        apiKey: 'browser-key',
        baseUrl: 'https://api.example',
      });
      expect(String(client)).toBe('NovitaClient(https://api.example)');
      expect(core.isValidationError(bad.success ? null : bad.error)).toBe(true);
      const queued = {
        taskId: 't',
        status: 'QUEUED',
        progressPercent: 0,
        etaSeconds: null,
        failureReason: null,
        videos: [],
        seed: null,
      } as const;
      expect(core.reduceTask(queued, { ...queued, status: 'PROCESSING' }).outcome).toBe('changed');
      // The bundle is a second copy of the package: its guards still know our errors.
      const ours = new UpstreamError({
        operation: 'getTaskResult',
        kind: 'timeout',
        retryable: true,
        attempts: 1,
      });
      expect(ours instanceof core.UpstreamError).toBe(false);
      expect(core.isUpstreamError(ours)).toBe(true);
      expect(core.isWanVideoError(ours)).toBe(true);
      expect(core.isValidationError(ours)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
