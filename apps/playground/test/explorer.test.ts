/**
 * The explorer: GraphiQL from the gateway, opened with the page's API key and the subscription
 * for the last task generated; and usable on a phone.
 */
import { launchChromium } from '@wan-video/test-utils';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fillForm,
  openPage,
  type PlaygroundServer,
  shot,
  startPlayground,
} from './support/playground.js';
import { GENERATED } from './support/videos.js';

const KEY = 'explorer-test-key-0123456789';

let server: PlaygroundServer;
let browser: Browser;

beforeAll(async () => {
  server = await startPlayground({ GATEWAY_API_KEYS: KEY });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** The page's first request, before the key is entered, is refused (401): as it should be. */
const unexpected = (problems: readonly string[]) =>
  problems.filter((problem) => !problem.includes('status of 401'));

describe('the explorer', () => {
  it('runs the subscription for the task just generated, with the page key', async () => {
    const { page, problems } = await openPage(browser, server.url);
    try {
      await page.locator('#api-key').fill(KEY);
      await page.getByText('Key accepted.').waitFor();
      await fillForm(page, GENERATED);
      await page.getByRole('button', { name: 'Generate video' }).click();
      await page.waitForURL(/\/tasks\//);
      const id = decodeURIComponent(new URL(page.url()).pathname.split('/').at(-1) ?? '');

      await page.getByRole('tab', { name: 'Explorer' }).click();
      const explorer = page.frameLocator('iframe[title="GraphQL explorer"]');
      await explorer.getByText('subscription Watch').first().waitFor();
      await explorer.locator('.graphiql-execute-button').first().click();
      // The subscription answers with the task (no UNAUTHENTICATED): the key went with it.
      const frame = page.frames().find((candidate) => candidate.url().endsWith('/graphql'));
      if (!frame) throw new Error('no explorer frame');
      // The response editor wraps long lines: read its text with the whitespace left out.
      await frame.waitForFunction((taskId) => {
        const response = document.querySelector('.graphiql-response') ?? document.body;
        const text = (response.textContent ?? '').replace(/\s+/g, '');
        return text.includes(`"id":"${taskId}"`) && text.includes('"status":"SUCCEEDED"');
      }, id);
      await shot(page, 'explorer');
      const unexpectedProblems = unexpected(problems);
      expect(unexpectedProblems, unexpectedProblems.join('\n')).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it('fits a phone, with a link to open it full screen', async () => {
    const { page, problems } = await openPage(browser, server.url, {
      width: 390,
      height: 844,
      path: '/#explorer',
      waitForForm: false,
    });
    try {
      const link = page.getByRole('link', { name: 'Open the explorer full screen' });
      await link.waitFor();
      await page
        .frameLocator('iframe[title="GraphQL explorer"]')
        .locator('.graphiql-container')
        .first()
        .waitFor();
      const overflow = await page.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      );
      expect(overflow).toBeLessThanOrEqual(0);
      await expect(link.getAttribute('href')).resolves.toBe('/graphql');
      await shot(page, 'explorer-phone');
      const unexpectedProblems = unexpected(problems);
      expect(unexpectedProblems, unexpectedProblems.join('\n')).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
