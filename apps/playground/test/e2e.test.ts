/**
 * The playground end to end, as a person uses it: Debian's Chromium (driven by playwright-core)
 * against the real gateway serving the built app, on its embedded emulator. Screenshots go to
 * test-artifacts/ (not committed).
 */
import { launchChromium } from '@wan-video/test-utils';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  docsShot,
  openPage,
  type PlaygroundServer,
  shot,
  startPlayground,
  waitForVideo,
} from './support/playground.js';
import { GENERATED, PROMPT } from './support/videos.js';

let server: PlaygroundServer;
let browser: Browser;

beforeAll(async () => {
  // No NOVITA_API_KEY: the gateway runs its embedded emulator, as the README's first command does.
  server = await startPlayground();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const open = (options: { width?: number; height?: number } = {}) =>
  openPage(browser, server.url, options);

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

      await waitForVideo(page);
      const video = page.getByTestId('result-video');
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
      await page.evaluate(() => window.scrollTo(0, 0));
      await docsShot(page, 'playground');
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
        'Steps must be between 1 and 40 (got 41)',
      );
      // The labels a person sees, not the API's names.
      await expect(page.getByTestId('error-guidanceScale').textContent()).resolves.toContain(
        'Guidance scale must be between 0 and 10',
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
