/**
 * The playground end to end, as a person uses it: Debian's Chromium (driven by playwright-core)
 * against the real gateway serving the built app, on its embedded emulator. Screenshots go to
 * test-artifacts/ (not committed).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGateway, type Gateway, readConfig } from '@wan-video/gateway';
import { launchChromium } from '@wan-video/test-utils';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { GENERATED, PROMPT } from './support/videos.js';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = join(here, '../dist');
const ARTIFACTS = join(here, '../test-artifacts');

let gateway: Gateway;
let browser: Browser;
let dir: string;

beforeAll(async () => {
  if (!existsSync(join(DIST, 'index.html')))
    throw new Error('the playground is not built: run `pnpm --filter @wan-video/playground build`');
  await mkdir(ARTIFACTS, { recursive: true });
  dir = await mkdtemp(join(tmpdir(), 'wan-playground-e2e-'));
  // No NOVITA_API_KEY: the gateway runs its embedded emulator, as the README's first command does.
  const config = readConfig({
    PORT: '0',
    DATABASE_PATH: join(dir, 'db.sqlite'),
    // 832×480 at 20 steps takes 3.3 s: the first test sees the progress between 0 and 100
    // even when a busy machine delays the gateway's reads (its video is rendered already).
    EMULATOR_TIME_SCALE: '4',
    PLAYGROUND_DIR: DIST,
    LOG_LEVEL: 'warn',
  });
  gateway = createGateway(config, {
    logDestination: new Writable({ write: (_chunk, _encoding, done) => done() }),
    pollPolicy: { minIntervalMs: 100, maxIntervalMs: 300, idleIntervalMs: 100 },
    // The run's video directory, where the video the first test generates is already rendered.
    emulator: { storageDir: inject('videoDir') },
  });
  await gateway.start();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await gateway?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * A page whose every wait gives up before the 30 s test timeout, so that a failure says what it
 * was waiting for. Its waits end on events (an element, a function turning true), never on time.
 */
async function newPage(viewport = { width: 1280, height: 900 }) {
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(20_000);
  return page;
}

/** A page that records console errors and requests that leave this machine. */
async function open(options: { width?: number; height?: number } = {}) {
  const page = await newPage({ width: options.width ?? 1280, height: options.height ?? 900 });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  page.on('request', (request) => {
    const url = request.url();
    // The videos come from the embedded emulator, on another loopback port: still this machine.
    const local = /^(https?|wss?):\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(url);
    if (!local && !url.startsWith('data:') && !url.startsWith('blob:'))
      problems.push(`outside: ${url}`);
  });
  await page.goto(`${gateway.url}/`);
  await page.getByRole('textbox', { name: 'Prompt' }).waitFor();
  return { page, problems };
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

describe('the playground', () => {
  it('generates a video: form, submit, progress, then a playable 5 s video', async () => {
    const { page, problems } = await open();
    try {
      await expect(page.getByTestId('emulator-banner').isVisible()).resolves.toBe(true);
      await page.getByRole('textbox', { name: 'Prompt' }).fill(PROMPT);
      await expect(page.getByTestId('prompt-count').textContent()).resolves.toContain(
        `${[...PROMPT].length} / 2000`,
      );
      await page.getByLabel(`${GENERATED.width}×${GENERATED.height} landscape`).check();
      await page.locator('#steps-value').fill(String(GENERATED.steps));
      await page.locator('#seed').fill(String(GENERATED.seed));
      await shot(page, 'form');
      await page.getByRole('button', { name: 'Generate video' }).click();

      const bar = page.getByRole('progressbar');
      await bar.waitFor();
      // The bar moves: wait for a value strictly between 0 and 100.
      await page.waitForFunction(() => {
        const value = Number(
          document.querySelector('[role="progressbar"]')?.getAttribute('aria-valuenow'),
        );
        return value > 0 && value < 100;
      });
      await shot(page, 'progress');

      await page.getByTestId('task-status').filter({ hasText: 'SUCCEEDED' }).waitFor();
      const video = page.getByTestId('result-video');
      await video.waitFor();
      await page.waitForFunction(
        () =>
          ((document.querySelector('[data-testid="result-video"]') as HTMLVideoElement | null)
            ?.readyState ?? 0) >= 2,
      );
      const state = await video.evaluate((element: HTMLVideoElement) => ({
        readyState: element.readyState,
        duration: element.duration,
        error: element.error?.message ?? null,
      }));
      expect(state.error).toBeNull();
      expect(state.readyState).toBeGreaterThanOrEqual(2);
      expect(state.duration).toBeCloseTo(81 / 16, 1);
      await expect(page.getByTestId('result-params').textContent()).resolves.toContain(
        String(GENERATED.seed),
      );
      await expect(
        page.getByTestId('timeline').locator('li').count(),
      ).resolves.toBeGreaterThanOrEqual(2);
      await expect(
        page.getByRole('link', { name: 'Download MP4' }).getAttribute('download'),
      ).resolves.not.toBeNull();
      await shot(page, 'video');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('explains out-of-range values as you type and keeps the button disabled', async () => {
    const { page, problems } = await open();
    try {
      await page.getByRole('textbox', { name: 'Prompt' }).fill('a fox');
      await page.locator('#steps-value').fill('41');
      await page.locator('#guidance-scale-value').fill('11');
      await expect(page.getByTestId('error-steps').textContent()).resolves.toContain(
        'steps must be between 1 and 40 (got 41)',
      );
      await expect(page.getByTestId('error-guidanceScale').textContent()).resolves.toContain(
        'between 0 and 10',
      );
      await expect(page.getByRole('button', { name: 'Generate video' }).isDisabled()).resolves.toBe(
        true,
      );
      await expect(page.getByTestId('submit-reason').textContent()).resolves.toMatch(/steps/);
      await page.locator('#steps-value').fill('40');
      await page.locator('#guidance-scale-value').fill('10');
      await expect(page.getByRole('button', { name: 'Generate video' }).isDisabled()).resolves.toBe(
        false,
      );
      await page.getByRole('textbox', { name: 'Prompt' }).fill('');
      await expect(page.getByRole('button', { name: 'Generate video' }).isDisabled()).resolves.toBe(
        true,
      );
      await shot(page, 'validation');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('keeps the history across a reload, and a past task can be opened', async () => {
    const { page, problems } = await open();
    try {
      const item = page
        .getByTestId('history-item')
        .filter({ hasText: PROMPT.slice(0, 20) })
        .first();
      await item.waitFor();
      await page.reload();
      await item.waitFor();
      await item.click();
      await page.getByTestId('task-status').filter({ hasText: 'SUCCEEDED' }).waitFor();
      await page.getByTestId('result-video').waitFor();
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('runs a query in the explorer', async () => {
    const page = await newPage();
    try {
      // What a person would type in GraphiQL, given to it the way it keeps a tab between visits.
      await page.addInitScript(() => {
        localStorage.setItem('graphiql:query', '{ gateway { emulated authRequired } }');
        localStorage.removeItem('graphiql:tabState');
      });
      await page.goto(`${gateway.url}/`);
      await page.getByRole('tab', { name: 'Explorer' }).click();
      const explorer = page.frameLocator('iframe[title="GraphQL explorer"]');
      await explorer.locator('.graphiql-execute-button').first().click();
      await explorer.getByText('"emulated": true').first().waitFor();
      await shot(page, 'explorer');
    } finally {
      await page.close();
    }
  });

  it('is usable from the keyboard alone', async () => {
    const { page, problems } = await open();
    try {
      // Tab from the top of the page until the prompt has the focus.
      for (
        let i = 0;
        i < 15 && !(await page.evaluate(() => document.activeElement?.id === 'prompt'));
        i++
      ) {
        await page.keyboard.press('Tab');
      }
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('prompt');
      await page.keyboard.type('a paper boat on a pond');
      const onSubmit = () =>
        page.evaluate(() => document.activeElement?.textContent?.trim() === 'Generate video');
      for (let i = 0; i < 40 && !(await onSubmit()); i++) await page.keyboard.press('Tab');
      expect(await onSubmit()).toBe(true);
      await page.keyboard.press('Enter');
      await page
        .getByTestId('task-status')
        .filter({ hasText: /QUEUED|PROCESSING|SUCCEEDED/ })
        .waitFor();
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('fits a phone-sized screen', async () => {
    const { page, problems } = await open({ width: 390, height: 844 });
    try {
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await shot(page, 'phone');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
