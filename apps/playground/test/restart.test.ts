/**
 * The embedded default across restarts, in Chromium, as `pnpm start` runs it (no key, the
 * emulator mounted on the gateway's origin with its state beside the database): generate, restart
 * the gateway mid-task, and the task still finishes; the video link is the gateway's and plays
 * after another restart; a reload on the task's link keeps it; a link whose video is gone shows a
 * message, never a blank player.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium } from '@wan-video/test-utils';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fillForm,
  openPage,
  type PlaygroundServer,
  startPlayground,
  waitForVideo,
} from './support/playground.js';
import { GENERATED, PROMPT } from './support/videos.js';

let server: PlaygroundServer;
let browser: Browser;

beforeAll(async () => {
  server = await startPlayground();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const videoSrc = (page: import('playwright-core').Page) =>
  page.getByTestId('result-video').getAttribute('src');

describe('restarts of the embedded default', () => {
  it('finishes a task across a restart mid-task, and its link plays after another', async () => {
    const { page, problems } = await openPage(browser, server.url, { allowConsoleErrors: true });
    await fillForm(page, { ...GENERATED, prompt: PROMPT, steps: 30 });
    await page.getByRole('button', { name: 'Generate video' }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    const taskPath = new URL(page.url()).pathname;
    await page
      .getByTestId('task-status')
      .filter({ hasText: /QUEUED|PROCESSING/ })
      .waitFor();

    await server.restart();
    await waitForVideo(page);
    const link = await videoSrc(page);
    expect(link).toBe(`${server.url}/videos/${taskPath.split('/')[2]}/0.mp4`);

    await server.restart();
    await page.reload();
    await waitForVideo(page);
    expect(await videoSrc(page)).toBe(link);
    expect(new URL(page.url()).pathname).toBe(taskPath);
    expect(problems.filter((problem) => !problem.startsWith('console'))).toEqual([]);
  }, 60_000);

  it('shows why a link does not play, never a blank player', async () => {
    const { page } = await openPage(browser, server.url, { allowConsoleErrors: true });
    await fillForm(page, { ...GENERATED, prompt: PROMPT, steps: 4 });
    await page.getByRole('button', { name: 'Generate video' }).click();
    await waitForVideo(page);
    // The emulator forgets its tasks, as an upstream that dropped the video would.
    await server.restart({
      between: () => rm(join(server.dir, 'db.sqlite-emulator', 'tasks.jsonl')),
    });
    await page.reload();
    const message = page.getByTestId('video-unavailable');
    await message.waitFor();
    expect(await message.textContent()).toMatch(/cannot be played.*HTTP 404/s);
  }, 60_000);
});
