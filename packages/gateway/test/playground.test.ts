/** Serving the built playground at `/` (PLAYGROUND_DIR), without shadowing the API. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.js';

let stack: Stack;
let site: string;
beforeAll(async () => {
  site = await mkdtemp(join(tmpdir(), 'wan-playground-site-'));
  await mkdir(join(site, 'assets'));
  await writeFile(join(site, 'index.html'), '<!doctype html><title>playground</title>');
  await writeFile(join(site, 'assets', 'app-1234.js'), 'console.log("app")');
  stack = await startStack({ env: { PLAYGROUND_DIR: site } });
});
afterAll(async () => {
  await stack.stop();
  await rm(site, { recursive: true, force: true });
});

/** A raw GET, so that a path like /../x reaches the server as written. */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(stack.gateway.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (chunk) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the playground at /', () => {
  it('serves index.html at / and for the app routes, revalidated', async () => {
    for (const path of ['/', '/history', '/tasks/abc']) {
      const response = await fetch(`${stack.gateway.url}${path}`);
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('<title>playground</title>');
      expect(response.headers.get('cache-control')).toBe('no-cache');
    }
  });

  it('serves hashed assets, cached for good', async () => {
    const response = await fetch(`${stack.gateway.url}/assets/app-1234.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${stack.gateway.url}/assets/missing.js`)).status).toBe(404);
  });

  it('keeps the API where it was, and nothing outside the directory is reachable', async () => {
    expect((await fetch(`${stack.gateway.url}/healthz`)).status).toBe(200);
    const gql = await stack.gql('{ gateway { emulated } }');
    expect(gql.body.data.gateway.emulated).toBe(false);
    for (const path of [
      '/../../../etc/passwd',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/assets/../../index.html.bak',
    ]) {
      const response = await rawGet(path);
      expect(response.body).not.toContain('root:');
      expect([200, 400, 403, 404]).toContain(response.status);
    }
  });
});
