/** An emulator video plays in Debian's Chromium: the codec and the container are what a browser takes. */

import { launchChromium } from '@wan-video/test-utils';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../src/index.js';
import { create, emulators, follow } from './support/harness.js';

const pool = emulators();
let emu: Emulator;
let browser: Browser;
beforeAll(async () => {
  emu = await pool.start();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await pool.stopAll();
});

describe('in Chromium', () => {
  it.each([
    [832, 480],
    [720, 1280],
  ])('a %ix%i video reaches readyState >= 2 with a duration near 5 s', async (width, height) => {
    // Two of the shared videos (SHARED_VIDEOS), which the contract suite checks too.
    const taskId = await create(emu.url, { width, height });
    const { final } = await follow(emu.url, taskId);
    const url = final.videos[0]?.url;
    expect(url).toBeDefined();
    const page = await browser.newPage();
    try {
      await page.goto(`${emu.url}/`);
      const state = await page.evaluate(
        (src) =>
          new Promise<{
            readyState: number;
            duration: number;
            width: number;
            height: number;
            error: string | null;
          }>((resolve) => {
            const video = document.createElement('video');
            video.muted = true;
            video.preload = 'auto';
            const done = () =>
              resolve({
                readyState: video.readyState,
                duration: video.duration,
                width: video.videoWidth,
                height: video.videoHeight,
                error: video.error ? `${video.error.code}: ${video.error.message}` : null,
              });
            video.addEventListener('loadeddata', done, { once: true });
            video.addEventListener('error', done, { once: true });
            video.src = src;
            document.body.append(video);
          }),
        url ?? '',
      );
      expect(state.error).toBeNull();
      expect(state.readyState).toBeGreaterThanOrEqual(2);
      expect(state.duration).toBeCloseTo(81 / 16, 1);
      expect([state.width, state.height]).toEqual([width, height]);
    } finally {
      await page.close();
    }
  });
});
