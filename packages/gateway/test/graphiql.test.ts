/** GraphiQL at /graphql, in Debian's Chromium: served from here (no CDN), and it runs a subscription. */
import { launchChromium } from '@wan-video/test-utils';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATE, type Stack, smallInput, startStack } from './support/stack.js';

let stack: Stack;
let browser: Browser;
beforeAll(async () => {
  stack = await startStack();
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('GraphiQL', () => {
  it('loads without leaving this machine and runs a subscription to the end', async () => {
    const { body } = await stack.gql(GENERATE, { input: smallInput({ steps: 30, seed: 71 }) });
    const id = body.data.generateVideo.id as string;
    const page = await browser.newPage();
    const outside: string[] = [];
    const errors: string[] = [];
    page.on('request', (request) => {
      const url = request.url();
      if (
        !url.startsWith(stack.gateway.url) &&
        !url.startsWith('data:') &&
        !url.startsWith('blob:')
      )
        outside.push(url);
    });
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      // What a person would type, given to GraphiQL the way it keeps a tab between visits.
      const query = `subscription Watch { videoTask(id: "${id}") { status progressPercent } }`;
      await page.addInitScript((text) => {
        localStorage.setItem('graphiql:query', text);
        localStorage.removeItem('graphiql:tabState');
      }, query);
      await page.goto(stack.gateway.graphqlUrl, { waitUntil: 'load' });
      await page.locator('.graphiql-container').first().waitFor({ timeout: 20_000 });
      await page.getByText('subscription Watch').first().waitFor();
      await page.locator('.graphiql-execute-button').first().click();
      await page.getByText('"SUCCEEDED"').first().waitFor({ timeout: 20_000 });
      expect(outside).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
