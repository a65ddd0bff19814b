/**
 * What the browser suites share: the real gateway serving the built playground (on its embedded
 * emulator unless told otherwise), Debian's Chromium, pages whose waits end on events and give up
 * before the test timeout, and screenshots.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createGateway, type Gateway, readConfig } from '@wan-video/gateway';
import type { Browser, BrowserContextOptions, Page } from 'playwright-core';
import { inject } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
export const PACKAGE_DIR = join(here, '../..');
export const DIST = join(PACKAGE_DIR, 'dist');
export const ARTIFACTS = join(PACKAGE_DIR, 'test-artifacts');
/** The screenshots the README shows; written only with `PLAYGROUND_SCREENSHOTS=docs`. */
export const DOCS = join(PACKAGE_DIR, '../../docs');

export const FAST_POLL = { minIntervalMs: 100, maxIntervalMs: 300, idleIntervalMs: 100 } as const;

const silent = () => new Writable({ write: (_chunk, _encoding, done) => done() });

export interface PlaygroundServer {
  gateway: Gateway;
  readonly url: string;
  readonly dir: string;
  /** The gateway's configuration environment, to start another on the same port and database. */
  readonly env: Record<string, string>;
  /** Stops this gateway and starts a new one on the same port and database. */
  restart(options?: { between?: () => Promise<void> }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The gateway serving the built app on port 0 (its embedded emulator, or the upstream `env`
 * names), with a database of its own.
 */
export async function startPlayground(env: Record<string, string> = {}): Promise<PlaygroundServer> {
  if (!existsSync(join(DIST, 'index.html')))
    throw new Error('the playground is not built: run `pnpm --filter @wan-video/playground build`');
  await mkdir(ARTIFACTS, { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), 'wan-playground-e2e-'));
  const base = {
    PORT: '0',
    DATABASE_PATH: join(dir, 'db.sqlite'),
    // 832×480 at 20 steps takes 3.3 s: progress is seen between 0 and 100 on a busy machine.
    EMULATOR_TIME_SCALE: '4',
    PLAYGROUND_DIR: DIST,
    LOG_LEVEL: 'warn',
    ...env,
  };
  const make = (port: string) =>
    createGateway(readConfig({ ...base, PORT: port }), {
      logDestination: silent(),
      pollPolicy: FAST_POLL,
      // The run's video directory: the videos the tests wait for are rendered already.
      emulator: { storageDir: inject('videoDir') },
    });
  const first = make('0');
  await first.start();
  const url = first.url;
  const server: PlaygroundServer = {
    gateway: first,
    url,
    dir,
    env: base,
    async restart(options = {}) {
      await server.gateway.stop();
      await options.between?.();
      server.gateway = make(new URL(url).port);
      await server.gateway.start();
    },
    async stop() {
      await server.gateway.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}

export interface OpenedPage {
  readonly page: Page;
  /** Console errors, page errors and requests leaving this machine. */
  readonly problems: string[];
}

export interface OpenOptions {
  readonly width?: number;
  readonly height?: number;
  readonly path?: string;
  /** Wait for the form (default), or for nothing. */
  readonly waitForForm?: boolean;
  readonly context?: BrowserContextOptions;
  /** Console errors expected on this page (a gateway stopped on purpose). */
  readonly allowConsoleErrors?: boolean;
}

/**
 * A page in a context of its own (its own storage), whose every wait gives up before the 30 s
 * test timeout. Waits end on events (an element, a function turning true), never on time.
 */
export async function openPage(
  browser: Browser,
  baseUrl: string,
  options: OpenOptions = {},
): Promise<OpenedPage> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    ...options.context,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  // The context goes with its page (after the browser closed, there is nothing left to close).
  page.on('close', () => {
    context.close().catch(() => {});
  });
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && !options.allowConsoleErrors)
      problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  page.on('request', (request) => {
    const url = request.url();
    // The videos come from the embedded emulator, on another loopback port: still this machine.
    const local = /^(https?|wss?):\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(url);
    if (!local && !url.startsWith('data:') && !url.startsWith('blob:'))
      problems.push(`outside: ${url}`);
  });
  await page.goto(`${baseUrl}${options.path ?? '/'}`);
  if (options.waitForForm !== false) await page.getByRole('textbox', { name: 'Prompt' }).waitFor();
  return { page, problems };
}

/** A full-page screenshot in test-artifacts/ (not committed). */
export const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

/** With `PLAYGROUND_SCREENSHOTS=docs`, a screenshot of the viewport for the README, in docs/. */
export async function docsShot(page: Page, name: string) {
  if (process.env.PLAYGROUND_SCREENSHOTS !== 'docs') return;
  await page.screenshot({ path: join(DOCS, `${name}.png`) });
}

/** Whether the element is within the viewport, wholly. */
export function inViewport(page: Page, selector: string) {
  return page.waitForFunction((sel) => {
    const element = document.querySelector(sel);
    if (!element) return false;
    const box = element.getBoundingClientRect();
    return box.top >= 0 && box.bottom <= window.innerHeight && box.height > 0;
  }, selector);
}

/** Fills the form with `input`'s fields the tests use. */
export async function fillForm(
  page: Page,
  input: {
    prompt: string;
    width: number;
    height: number;
    steps?: number | null | undefined;
    seed?: number | null | undefined;
  },
) {
  await page.getByRole('textbox', { name: 'Prompt' }).fill(input.prompt);
  const orientation = input.width > input.height ? 'landscape' : 'portrait';
  await page.getByLabel(`${input.width}×${input.height} ${orientation}`).check();
  if (input.steps != null) await page.locator('#steps-value').fill(String(input.steps));
  if (input.seed != null) await page.locator('#seed').fill(String(input.seed));
}

/** Waits for the shown task to succeed and its video to be playable. */
export async function waitForVideo(page: Page) {
  await page.getByTestId('task-status').filter({ hasText: 'SUCCEEDED' }).waitFor();
  await page.getByTestId('result-video').waitFor();
  await page.waitForFunction(
    () =>
      ((document.querySelector('[data-testid="result-video"]') as HTMLVideoElement | null)
        ?.readyState ?? 0) >= 2,
  );
}
