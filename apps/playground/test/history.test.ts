/**
 * The history: every task of this key, 20 at a time with "Load more", kept live (unfinished tasks
 * follow their subscription; the tab regaining focus brings new ones), a poster frame for each
 * finished video, and "Hide", remembered across a reload.
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
} from './support/playground.js';
import { GENERATED } from './support/videos.js';

let server: PlaygroundServer;
let browser: Browser;
/** The tasks made through the API, oldest first. */
const created: string[] = [];

const MUTATION = `mutation ($input: GenerateVideoInput!) { generateVideo(input: $input) { id } }`;

/** Starts the pre-rendered video through the API, as another program of this key would. */
async function createTask(): Promise<string> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: MUTATION, variables: { input: GENERATED } }),
  });
  const body = (await response.json()) as { data?: { generateVideo: { id: string } } };
  if (!body.data) throw new Error(`generateVideo failed: ${JSON.stringify(body)}`);
  return body.data.generateVideo.id;
}

beforeAll(async () => {
  server = await startPlayground({ MUTATIONS_PER_MINUTE: '1000', MAX_IN_FLIGHT_TASKS: '100' });
  browser = await launchChromium();
  // More than a page. One at a time, so "newest first" is the reverse of this order.
  for (let i = 0; i < 23; i++) created.push(await createTask());
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

const hrefOf = (id: string) => `/tasks/${id}`;

describe('the history', () => {
  it('lists every task, newest first, 20 at a time, live and with posters', async () => {
    const { page, problems } = await openPage(browser, server.url, { width: 1440, height: 900 });
    try {
      const items = page.locator('a[data-testid="history-item"]');
      await page.getByRole('button', { name: 'Load more' }).waitFor();
      await expect(items.count()).resolves.toBe(20);
      await page.getByRole('button', { name: 'Load more' }).click();
      await page.getByRole('button', { name: 'Load more' }).waitFor({ state: 'detached' });
      const hrefs = await items.evaluateAll((links) => links.map((a) => a.getAttribute('href')));
      expect(hrefs).toEqual([...created].reverse().map(hrefOf));

      // Unfinished when listed, each follows its subscription to the end, with a poster frame.
      await page.waitForFunction(
        (count) => document.querySelectorAll('[data-testid="history-poster"]').length >= count,
        created.length,
      );
      const poster = page.getByTestId('history-poster').first();
      await expect(poster.getAttribute('src')).resolves.toMatch(/#t=0\.5$/);
      await page.waitForFunction(
        () =>
          ((document.querySelector('[data-testid="history-poster"]') as HTMLVideoElement | null)
            ?.readyState ?? 0) >= 1,
      );

      // Made elsewhere while the page is open: the tab regaining focus lists it.
      const elsewhere = await createTask();
      created.push(elsewhere);
      await page.evaluate(() => window.dispatchEvent(new Event('focus')));
      await page.locator(`a[data-testid="history-item"][href="${hrefOf(elsewhere)}"]`).waitFor();
      await expect(items.first().getAttribute('href')).resolves.toBe(hrefOf(elsewhere));
      await shot(page, 'history');
      await page
        .getByRole('complementary', { name: 'History' })
        .evaluate((element) => element.scrollIntoView({ block: 'start' }));
      await docsShot(page, 'playground-history');
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('hides an item, and it stays hidden after a reload', async () => {
    const { page, problems } = await openPage(browser, server.url);
    try {
      const target = created[0];
      if (!target) throw new Error('no task made');
      // The oldest is on the second page.
      await page.getByRole('button', { name: 'Load more' }).click();
      const item = page.locator(`a[data-testid="history-item"][href="${hrefOf(target)}"]`);
      await item.waitFor();
      await page
        .locator('li.history-entry', { has: item })
        .getByRole('button', { name: /^Hide/ })
        .click();
      await item.waitFor({ state: 'detached' });
      await page.reload();
      await page.getByRole('button', { name: 'Load more' }).click();
      await page.getByRole('button', { name: 'Load more' }).waitFor({ state: 'detached' });
      await expect(item.count()).resolves.toBe(0);
      // Still there to bring back.
      await page.getByRole('button', { name: 'Show 1 hidden' }).click();
      await item.waitFor();
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
