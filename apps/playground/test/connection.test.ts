/**
 * The connection, seen on the page: the gateway stops mid-task and a new one starts on the same
 * port and database. Meanwhile the badge says "Reconnecting…" and the ETA keeps counting down;
 * an error from that time is cleared when the gateway is back, and the task finishes.
 */
import { type Emulator, startEmulator } from '@wan-video/emulator';
import { launchChromium } from '@wan-video/test-utils';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  fillForm,
  openPage,
  type PlaygroundServer,
  shot,
  startPlayground,
  waitForVideo,
} from './support/playground.js';
import { GENERATED } from './support/videos.js';

let emulator: Emulator;
let server: PlaygroundServer;
let browser: Browser;

beforeAll(async () => {
  // An upstream of its own, outside the gateway, so its tasks outlive the gateway's restart:
  // 832×480 at 20 steps takes about 9 s, long enough to drop the connection in the middle.
  emulator = await startEmulator({ timeScale: 1.5, storageDir: inject('videoDir') });
  server = await startPlayground({
    NOVITA_API_KEY: 'playground-test-novita-key',
    NOVITA_BASE_URL: emulator.url,
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await emulator?.close();
});

const secondsLeft = async (page: Page): Promise<number | null> => {
  const text = (await page.getByTestId('progress-text').textContent()) ?? '';
  const match = /about (\d+) s left/.exec(text);
  return match?.[1] === undefined ? null : Number(match[1]);
};

describe('the connection', () => {
  it('says "Reconnecting…" while the gateway is away, counts the ETA down, then clears stale errors', async () => {
    const { page } = await openPage(browser, server.url, { allowConsoleErrors: true });
    try {
      await fillForm(page, GENERATED);
      await page.getByRole('button', { name: 'Generate video' }).click();
      await page.waitForURL(/\/tasks\//);
      const taskUrl = page.url();
      const badge = page.getByTestId('live-badge');
      await badge.filter({ hasText: 'Live' }).waitFor();
      await page.getByTestId('task-status').filter({ hasText: 'PROCESSING' }).waitFor();

      await server.restart({
        between: async () => {
          // Away: the badge says so, and the ETA goes on counting down without pushes.
          await badge.filter({ hasText: 'Reconnecting…' }).waitFor();
          await page.waitForFunction(() =>
            /about \d+ s left/.test(
              document.querySelector('[data-testid="progress-text"]')?.textContent ?? '',
            ),
          );
          const before = await secondsLeft(page);
          expect(before).not.toBeNull();
          await page.waitForFunction((start) => {
            const text = document.querySelector('[data-testid="progress-text"]')?.textContent;
            const left = Number(/about (\d+) s left/.exec(text ?? '')?.[1] ?? Number.NaN);
            return left < start;
          }, before ?? 0);
          await shot(page, 'reconnecting');
          // A request meanwhile fails, and says why.
          await page.getByRole('button', { name: 'Generate video' }).click();
          await page
            .getByTestId('error-view')
            .filter({ hasText: 'Cannot reach the gateway' })
            .waitFor();
        },
      });

      // Back: the stale error goes by itself, the task's page shows again, live, to the end.
      await page.getByTestId('error-view').waitFor({ state: 'detached' });
      expect(page.url()).toBe(taskUrl);
      await waitForVideo(page);
      await expect(badge.count()).resolves.toBe(0);
    } finally {
      await page.close();
    }
  });
});
