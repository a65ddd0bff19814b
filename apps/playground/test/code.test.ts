/**
 * The Code panel's snippets run as shown, against a real gateway (on its embedded emulator, with
 * an API key): curl in bash, the JavaScript in Node, the React component type-checked against the
 * real hooks and rendered. Then the panel in Chromium, and its Copy button.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseVideoInput } from '@wan-video/core';
import { launchChromium } from '@wan-video/test-utils';
import type { Browser } from 'playwright-core';
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  curlSnippet,
  javascriptSnippet,
  reactSnippet,
  type SnippetParams,
  snippetInput,
} from '../src/lib/snippets.js';
import {
  ARTIFACTS,
  docsShot,
  fillForm,
  openPage,
  PACKAGE_DIR,
  type PlaygroundServer,
  shot,
  startPlayground,
} from './support/playground.js';
import { GENERATED } from './support/videos.js';

const run = promisify(execFile);
const KEY = 'snippet-test-key-0123456789';

let server: PlaygroundServer;
let browser: Browser;
let params: SnippetParams;
/** Inside the package, so `graphql-request`, `graphql-ws`, `ws` and the hooks resolve from it. */
let scratch: string;

beforeAll(async () => {
  server = await startPlayground({ GATEWAY_API_KEYS: KEY });
  browser = await launchChromium();
  params = {
    url: `${server.url}/graphql`,
    apiKey: KEY,
    input: snippetInput(parseVideoInput(GENERATED)),
  };
  await mkdir(join(ARTIFACTS, 'snippets'), { recursive: true });
  scratch = await mkdtemp(join(ARTIFACTS, 'snippets', 'run-'));
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('the snippets run as shown', () => {
  it('curl starts a task', async () => {
    const { stdout } = await run('bash', ['-c', curlSnippet(params)], { timeout: 20_000 });
    const answer = JSON.parse(stdout) as {
      data?: { generateVideo?: { id: string; status: string } };
      errors?: unknown;
    };
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.generateVideo?.id).toMatch(/\S/);
    expect(answer.data?.generateVideo?.status).toBe('QUEUED');
  });

  it('curl without the key is refused, so the header is what lets it in', async () => {
    const { stdout } = await run('bash', ['-c', curlSnippet({ ...params, apiKey: null })], {
      timeout: 20_000,
    });
    expect(stdout).toContain('UNAUTHENTICATED');
  });

  it('the JavaScript (Node, graphql-request + graphql-ws on ws) follows a task to SUCCEEDED', async () => {
    const file = join(scratch, 'generate.mjs');
    await writeFile(file, javascriptSnippet(params));
    const { stdout } = await run(process.execPath, [file], { cwd: scratch, timeout: 25_000 });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^task \S+$/);
    expect(lines).toContain('SUCCEEDED 100%');
    expect(lines.at(-1)).toMatch(/^https?:\/\/\S+\.mp4/);
  });

  it('the React component type-checks against the real hooks and renders', async () => {
    const dir = join(scratch, 'react');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'App.tsx'), reactSnippet(params));
    await writeFile(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: join(PACKAGE_DIR, 'tsconfig.json'),
        compilerOptions: { noEmit: true, noUnusedLocals: true },
        include: ['App.tsx'],
      }),
    );
    const tsc = join(PACKAGE_DIR, '../../node_modules/.bin/tsc');
    await expect(
      run(tsc, ['-p', join(dir, 'tsconfig.json')], { cwd: PACKAGE_DIR, timeout: 25_000 }),
    ).resolves.toBeDefined();
    const module = (await import(/* @vite-ignore */ join(dir, 'App.tsx'))) as {
      App: () => unknown;
    };
    const html = renderToString(createElement(module.App as () => null));
    expect(html).toContain('Generate</button>');
  });
});

describe('the Code panel', () => {
  it('shows the snippets for the form and copies them', async () => {
    const { page, problems } = await openPage(browser, server.url, {
      width: 1440,
      height: 900,
      context: { permissions: ['clipboard-read', 'clipboard-write'] },
    });
    try {
      await page.locator('#api-key').fill(KEY);
      await page.getByText('Key accepted.').waitFor();
      await fillForm(page, GENERATED);
      const panel = page.getByTestId('code-panel');
      const snippet = panel.getByTestId('code-snippet');
      await expect(snippet.textContent()).resolves.toContain(`Authorization: Bearer ${KEY}`);
      await panel.getByRole('button', { name: 'Copy the curl snippet' }).click();
      await panel.getByText('Copied').waitFor();
      const copied = await page.evaluate(() => navigator.clipboard.readText());
      expect(copied).toBe(curlSnippet({ ...params, url: `${server.url}/graphql` }));

      await panel.getByRole('tab', { name: 'JavaScript' }).click();
      await expect(snippet.textContent()).resolves.toContain("import WebSocket from 'ws'");
      await panel.getByRole('tab', { name: 'React' }).click();
      await expect(snippet.textContent()).resolves.toContain('useVideoTask');
      await panel.getByRole('button', { name: 'Copy the React snippet' }).click();
      await panel.getByText('Copied').waitFor();
      await expect(page.evaluate(() => navigator.clipboard.readText())).resolves.toBe(
        reactSnippet(params),
      );
      await shot(page, 'code');
      await panel.scrollIntoViewIfNeeded();
      await page.evaluate(() => window.scrollBy(0, 200));
      await docsShot(page, 'playground-code');
      // The page's first request, before the key was entered, was refused (401): as it should be.
      const unexpected = problems.filter((problem) => !problem.includes('status of 401'));
      expect(unexpected, unexpected.join('\n')).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
