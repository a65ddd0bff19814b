/**
 * A task's own page: the URL after Generate, a reload, history items, back and forward, an
 * unknown task; the progress in view after Generate on a desktop and a phone; the download; the
 * emulator's mark kept clear of the controls; and the form's labels.
 */
import { readFile } from 'node:fs/promises';
import { launchChromium } from '@wan-video/test-utils';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  docsShot,
  fillForm,
  inViewport,
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
  server = await startPlayground();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const TASK_PATH = /\/tasks\/([^/?#]+)$/;

/** Fills the form with the pre-rendered video's request and presses Generate; the task's id. */
async function generate(page: Page): Promise<string> {
  await fillForm(page, GENERATED);
  const before = page.url();
  await page.getByRole('button', { name: 'Generate video' }).click();
  // A new task's URL: not the one already shown (a second Generate starts on a task's page).
  await page.waitForURL((url) => TASK_PATH.test(url.pathname) && url.href !== before);
  const id = TASK_PATH.exec(new URL(page.url()).pathname)?.[1];
  if (!id) throw new Error(`no task id in ${page.url()}`);
  return decodeURIComponent(id);
}

describe('a URL per task', () => {
  it('gets the task URL after Generate; a reload keeps the video and refills the form', async () => {
    const { page, problems } = await openPage(browser, server.url);
    try {
      const id = await generate(page);
      await waitForVideo(page);
      await page.reload();
      await waitForVideo(page);
      expect(new URL(page.url()).pathname).toBe(`/tasks/${id}`);
      await expect(page.getByRole('textbox', { name: 'Prompt' }).inputValue()).resolves.toBe(
        PROMPT,
      );
      await expect(page.locator('#seed').inputValue()).resolves.toBe(String(GENERATED.seed));
      await expect(page.locator('#steps-value').inputValue()).resolves.toBe(
        String(GENERATED.steps),
      );

      // The link, opened in another browser context with the same (no) key, shows the task too.
      const other = await openPage(browser, server.url, { path: `/tasks/${id}` });
      try {
        await waitForVideo(other.page);
        expect(other.problems).toEqual([]);
      } finally {
        await other.page.close();
      }
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('opens history items at their URL; back and forward move between them', async () => {
    const { page, problems } = await openPage(browser, server.url);
    try {
      const first = await generate(page);
      await waitForVideo(page);
      const second = await generate(page);
      await page.getByTestId('task-status').waitFor();
      // The history lists both; opening the older one navigates to its URL.
      const older = page.locator(`a[data-testid="history-item"][href="/tasks/${first}"]`);
      expect(second).not.toBe(first);
      await older.click();
      await page.waitForURL(`**/tasks/${first}`);
      await page
        .locator(`a[data-testid="history-item"][href="/tasks/${first}"][aria-current="page"]`)
        .waitFor();
      await page.goBack();
      await page.waitForURL(`**/tasks/${second}`);
      await page
        .locator(`a[data-testid="history-item"][href="/tasks/${second}"][aria-current="page"]`)
        .waitFor();
      await page.goForward();
      await page.waitForURL(`**/tasks/${first}`);
      await waitForVideo(page);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('says so clearly for an unknown task', async () => {
    const { page } = await openPage(browser, server.url, {
      path: '/tasks/00000000-0000-4000-8000-000000000000',
    });
    try {
      const error = page.getByTestId('error-view');
      await error.waitFor();
      await expect(error.textContent()).resolves.toContain(
        'No task 00000000-0000-4000-8000-000000000000 for this API key',
      );
      await page.getByRole('button', { name: 'Start a new video' }).click();
      await page.waitForURL((url) => url.pathname === '/');
      await page.getByText('Your video appears here').waitFor();
    } finally {
      await page.close();
    }
  });
});

describe('progress in view', () => {
  for (const [name, viewport] of [
    ['desktop', { width: 1440, height: 900 }],
    ['phone', { width: 390, height: 844 }],
  ] as const) {
    it(`shows the progress within the viewport after Generate on a ${name}`, async () => {
      const { page, problems } = await openPage(browser, server.url, viewport);
      try {
        await fillForm(page, GENERATED);
        const button = page.getByRole('button', { name: 'Generate video' });
        // As a person does: scrolled down to the button, then press it.
        await button.scrollIntoViewIfNeeded();
        await button.click();
        await page.getByRole('progressbar').waitFor();
        await inViewport(page, '[role="progressbar"]');
        await shot(page, `progress-${name}`);
        await waitForVideo(page);
        if (name === 'phone') {
          await page.locator('#task-card').scrollIntoViewIfNeeded();
          await docsShot(page, 'playground-phone');
        }
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    });
  }
});

describe('the result', () => {
  it('downloads the MP4 without leaving the page', async () => {
    const { page, problems } = await openPage(browser, server.url);
    try {
      const id = await generate(page);
      await waitForVideo(page);
      const before = page.url();
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Download MP4' }).click(),
      ]);
      expect(download.suggestedFilename()).toBe(`wan-video-${id}.mp4`);
      const path = await download.path();
      const bytes = await readFile(path);
      // An MP4 starts with its `ftyp` box: 4 bytes of size, then the type.
      expect(bytes.subarray(4, 8).toString('latin1')).toBe('ftyp');
      expect(bytes.length).toBeGreaterThan(10_000);
      expect(page.url()).toBe(before);
      await page.getByTestId('result-video').waitFor();
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('keeps the bottom of the frame clear of the controls, with a caption', async () => {
    const { page, problems } = await openPage(browser, server.url);
    try {
      await generate(page);
      await waitForVideo(page);
      await expect(page.getByTestId('emulated-caption').textContent()).resolves.toContain(
        'Emulated video: procedural, not Wan output',
      );
      // The picture (832×480, contained at the top) ends at least 64 px above the player's bottom,
      // where the native controls are drawn.
      const strip = await page.getByTestId('result-video').evaluate((element) => {
        const video = element as HTMLVideoElement;
        const box = video.getBoundingClientRect();
        const scale = Math.min(box.width / video.videoWidth, box.height / video.videoHeight);
        return box.height - video.videoHeight * scale;
      });
      expect(strip).toBeGreaterThanOrEqual(64);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

describe('labels', () => {
  it('names every LoRA input and says problems in the words on the page', async () => {
    const { page, problems } = await openPage(browser, server.url);
    try {
      await page.getByRole('textbox', { name: 'Prompt' }).fill('a fox');
      await page.getByRole('button', { name: 'Add LoRA' }).click();
      await page.getByRole('button', { name: 'Add LoRA' }).click();
      // LoRA 1 keeps an empty path; LoRA 2's scale is not a number.
      await page.getByLabel('LoRA 2 path').fill('https://example.com/style.safetensors');
      await page.getByLabel('LoRA 2 scale').fill('');
      await page.getByLabel('LoRA 1 scale').fill('0.8');
      const errors = await page.getByTestId('error-loras').textContent();
      expect(errors).toContain('LoRA 1 path must not be empty');
      expect(errors).toContain('LoRA 2 scale must be');
      expect(errors).not.toContain('loras[');
      await shot(page, 'lora-labels');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
