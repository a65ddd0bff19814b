/**
 * What a web page on another site, a spoofed Host and an anonymous scraper can do to the
 * gateway: pages of foreign origins create nothing (forms, fetches, WebSockets, in Chromium),
 * CORS answers only the allowed origins, a foreign Host is refused in loopback-only mode (HTTP
 * and WebSocket), `/metrics` takes METRICS_TOKEN, and with client keys GraphiQL runs nothing
 * without one and says where the key goes.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium } from '@wan-video/test-utils';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DEFAULT_CORS_ORIGINS } from '../src/config.js';
import { createRequestGuard } from '../src/http/security.js';
import { ALPHA_KEY, bearer, GATEWAY_API_KEYS } from './support/b-helpers.js';
import { creates, GENERATE, type Stack, smallInput, startStack } from './support/stack.js';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const MUTATION =
  'mutation { generateVideo(input: { prompt: "forged", width: 832, height: 480, steps: 10 }) { id } }';
const TASKS = 'query { videoTasks(first: 10) { edges { node { id } } } }';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP request with any headers (Host and Origin included), over loopback. */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = options.body ?? '';
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        headers: {
          ...(options.method === 'POST'
            ? { 'content-length': String(Buffer.byteLength(body)) }
            : {}),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/** A WebSocket handshake with any headers: open, or the HTTP status it was refused with. */
function upgrade(url: string, headers: Record<string, string>): Promise<number | 'open'> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', { headers });
    socket.once('open', () => {
      socket.close();
      resolve('open');
    });
    socket.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      socket.terminate();
    });
    socket.once('error', (error) => reject(error));
  });
}

/** A web server of its own origin serving one page (a site a visitor of the gateway opens). */
async function servePage(html: () => string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

const escapeAttr = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/** Three forms a page can submit to the gateway without asking anything: each into a frame. */
const attackPage = (graphqlUrl: string) => `<!doctype html>
<html><body>
<iframe name="sink"></iframe>
<form id="urlencoded" method="POST" action="${graphqlUrl}" target="sink">
  <input name="query" value="${escapeAttr(MUTATION)}">
</form>
<form id="plain" method="POST" action="${graphqlUrl}" target="sink" enctype="text/plain">
  <input name='{"query":"${escapeAttr(MUTATION.replace(/"/g, '\\"'))}","x":"' value='"}'>
</form>
<form id="multipart" method="POST" action="${graphqlUrl}" target="sink" enctype="multipart/form-data">
  <input name="query" value="${escapeAttr(MUTATION)}">
</form>
</body></html>`;

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe('no client keys (loopback only): pages of other origins and spoofed hosts', () => {
  let stack: Stack;
  let foreign: { server: Server; url: string };
  let allowed: { server: Server; url: string };
  let allowedOrigin: string;
  beforeAll(async () => {
    // Two other sites on this machine (other ports, so other origins); one of them is listed.
    foreign = await servePage(() => attackPage(stack.gateway.graphqlUrl));
    allowed = await servePage(() => '<!doctype html><title>an app of ours</title>');
    allowedOrigin = new URL(allowed.url).origin;
    stack = await startStack({ env: { CORS_ORIGINS: allowedOrigin } });
  });
  afterAll(async () => {
    await stack?.stop();
    foreign?.server.close();
    allowed?.server.close();
  });

  const anonymousTasks = async () => (await stack.gql(TASKS)).body.data.videoTasks.edges.length;

  it('GraphiQL cannot be framed by a page of another origin (a prefilled mutation, one click away)', async () => {
    const graphiql = `${stack.gateway.graphqlUrl}?query=${encodeURIComponent(MUTATION)}`;
    const response = await fetch(graphiql, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toBe("frame-ancestors 'self'");
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    await response.body?.cancel();
    const framing = await servePage(
      () => `<!doctype html><iframe id="f" src="${escapeAttr(graphiql)}"></iframe>`,
    );
    const page = await browser.newPage();
    try {
      await page.goto(framing.url);
      const frame = await (await page.waitForSelector('#f')).contentFrame();
      if (!frame) throw new Error('no frame');
      await frame.waitForLoadState('domcontentloaded');
      // Chromium shows its own error page in place of the framed one: no GraphiQL, no button.
      expect(frame.url()).toMatch(/^chrome-error:/);
      expect(await frame.locator('.graphiql-container, .graphiql-execute-button').count()).toBe(0);
    } finally {
      await page.close();
      framing.server.close();
    }
  });

  it('a page of another origin creates nothing: forms, fetches with credentials, a WebSocket', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(foreign.url);
      const answers: number[] = [];
      for (const form of ['urlencoded', 'plain', 'multipart']) {
        const answer = page.waitForResponse(
          (response) =>
            response.url() === stack.gateway.graphqlUrl && response.request().method() === 'POST',
          { timeout: 15_000 },
        );
        await page.evaluate(
          (id) => (document.getElementById(id) as HTMLFormElement).submit(),
          form,
        );
        answers.push((await answer).status());
      }
      expect(answers).toEqual([403, 403, 403]);

      const outcomes = await page.evaluate(
        async ({ url, wsUrl, mutation }) => {
          const attempt = async (init: RequestInit) => {
            try {
              const response = await fetch(url, { credentials: 'include', ...init });
              return response.type === 'opaque' ? 'opaque' : response.status;
            } catch {
              return 'blocked';
            }
          };
          const body = JSON.stringify({ query: mutation });
          const form = new URLSearchParams({ query: mutation });
          const ws = await new Promise<string>((resolve) => {
            const socket = new window.WebSocket(wsUrl, 'graphql-transport-ws');
            socket.onopen = () => {
              socket.send(JSON.stringify({ type: 'connection_init' }));
              socket.send(
                JSON.stringify({ id: '1', type: 'subscribe', payload: { query: mutation } }),
              );
              setTimeout(() => resolve('open'), 2000);
            };
            socket.onerror = () => resolve('refused');
          });
          return {
            json: await attempt({
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body,
            }),
            plain: await attempt({ method: 'POST', body }),
            noCors: await attempt({ method: 'POST', mode: 'no-cors', body }),
            formNoCors: await attempt({ method: 'POST', mode: 'no-cors', body: form }),
            ws,
          };
        },
        { url: stack.gateway.graphqlUrl, wsUrl: stack.gateway.wsUrl, mutation: MUTATION },
      );
      expect(outcomes).toEqual({
        json: 'blocked', // the preflight names no origin: the POST is never sent
        plain: 'blocked', // sent as text/plain, refused (403), unreadable
        noCors: 'opaque',
        formNoCors: 'opaque',
        ws: 'refused',
      });
      expect(creates(await stack.upstream())).toHaveLength(0);
      expect(await anonymousTasks()).toBe(0);
    } finally {
      await page.close();
    }
  });

  it('a page of a listed origin calls with credentials and creates its task', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(allowed.url);
      const result = await page.evaluate(
        async ({ url, body }) => {
          const response = await fetch(url, {
            method: 'POST',
            credentials: 'include',
            headers: { 'content-type': 'application/json' },
            body,
          });
          return { status: response.status, body: await response.json() };
        },
        {
          url: stack.gateway.graphqlUrl,
          body: JSON.stringify({ query: GENERATE, variables: { input: smallInput({ seed: 9 }) } }),
        },
      );
      expect(result.status).toBe(200);
      expect(result.body.data.generateVideo.status).toBe('QUEUED');
      expect(creates(await stack.upstream())).toHaveLength(1);
    } finally {
      await page.close();
    }
  });

  it('CSRF over the wire: form, multipart, text and untyped POSTs are refused; JSON and the header pass', async () => {
    const refused = [
      { 'content-type': 'application/x-www-form-urlencoded' },
      { 'content-type': 'multipart/form-data; boundary=x' },
      { 'content-type': 'text/plain;charset=UTF-8' },
      {},
    ];
    for (const headers of refused) {
      for (const path of ['/graphql', '/graphql/stream']) {
        const answer = await send(`${stack.gateway.url}${path}`, {
          method: 'POST',
          headers,
          body: `query=${encodeURIComponent(MUTATION)}`,
        });
        expect(answer.status, `${path} ${JSON.stringify(headers)}`).toBe(403);
        expect(JSON.parse(answer.body).errors[0].extensions.code).toBe('BAD_REQUEST');
      }
    }
    const before = creates(await stack.upstream()).length;
    // A client that cannot send JSON marks itself with the header (a page cannot, without CORS).
    const marked = await send(stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-graphql-yoga-csrf': '1',
      },
      body: `query=${encodeURIComponent(TASKS)}`,
    });
    expect(marked.status).toBe(200);
    const json = await send(stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: allowedOrigin },
      body: JSON.stringify({ query: TASKS }),
    });
    expect(json.status).toBe(200);
    expect(json.headers['access-control-allow-origin']).toBe(allowedOrigin);
    expect(json.headers['access-control-allow-credentials']).toBe('true');
    expect(creates(await stack.upstream())).toHaveLength(before);
  });

  it('preflights and answers name only allowed origins, credentials only for them', async () => {
    const preflight = (origin: string) =>
      send(stack.gateway.graphqlUrl, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type, authorization',
        },
      });
    const evil = await preflight('http://evil.example');
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    expect(evil.headers['access-control-allow-credentials']).toBeUndefined();
    const listed = await preflight(allowedOrigin);
    expect(listed.headers['access-control-allow-origin']).toBe(allowedOrigin);
    expect(listed.headers['access-control-allow-credentials']).toBe('true');
    // The gateway's own origin is always allowed.
    const own = await preflight(stack.gateway.url);
    expect(own.headers['access-control-allow-origin']).toBe(stack.gateway.url);

    const get = await send(`${stack.gateway.graphqlUrl}?query=${encodeURIComponent(TASKS)}`, {
      headers: { origin: 'http://evil.example', accept: 'application/json' },
    });
    expect(get.status).toBe(200);
    expect(get.headers['access-control-allow-origin']).toBeUndefined();
    expect(get.headers.vary).toMatch(/origin/i);
  });

  it('the default list is the gateway itself and Vite on this machine; * never with credentials', () => {
    const request = (origin: string) =>
      new Request('http://127.0.0.1:4000/graphql', {
        headers: { origin, host: '127.0.0.1:4000' },
      });
    const defaults = createRequestGuard({ corsOrigins: DEFAULT_CORS_ORIGINS, loopbackOnly: true });
    for (const origin of [
      'http://localhost:5173',
      'http://127.0.0.1:5173',
      'http://127.0.0.1:4000',
    ]) {
      expect(defaults.cors(request(origin))).toMatchObject({ origin: [origin], credentials: true });
    }
    expect(defaults.cors(request('http://localhost:3000'))).toBe(false);
    expect(defaults.cors(request('null'))).toBe(false);
    const any = createRequestGuard({ corsOrigins: '*', loopbackOnly: false });
    expect(any.cors(request('http://anything.example'))).toMatchObject({ credentials: false });
  });

  it('a spoofed Host (DNS rebinding) is refused over HTTP and WebSocket; loopback names pass', async () => {
    for (const host of [
      'evil.example',
      'evil.example:4000',
      '192.168.1.10',
      'localhost.evil.example',
    ]) {
      const answer = await send(`${stack.gateway.url}/healthz`, { headers: { host } });
      expect(answer.status, host).toBe(421);
      expect(JSON.parse(answer.body).errors[0].message).toContain('GATEWAY_API_KEYS');
      const graphql = await send(stack.gateway.graphqlUrl, {
        method: 'POST',
        headers: { host, 'content-type': 'application/json' },
        body: JSON.stringify({ query: MUTATION }),
      });
      expect(graphql.status).toBe(421);
      expect(await upgrade(stack.gateway.wsUrl, { host })).toBe(421);
    }
    for (const host of ['localhost:4000', '127.0.0.1', '[::1]:80', 'LOCALHOST']) {
      expect((await send(`${stack.gateway.url}/healthz`, { headers: { host } })).status, host).toBe(
        200,
      );
    }
    expect(await upgrade(stack.gateway.wsUrl, { host: 'localhost:1' })).toBe('open');
    // A page of a foreign origin: no preflight protects an upgrade, so its Origin is checked.
    expect(await upgrade(stack.gateway.wsUrl, { origin: 'http://evil.example' })).toBe(403);
    expect(await upgrade(stack.gateway.wsUrl, { origin: allowedOrigin })).toBe('open');
    expect(creates(await stack.upstream())).toHaveLength(1);
  });
});

describe('with client keys and METRICS_TOKEN', () => {
  let stack: Stack;
  let context: BrowserContext;
  /** What GraphiQL's page asked this gateway for under /graphql/assets/. */
  const assets = new Set<string>();
  beforeAll(async () => {
    stack = await startStack({ env: { GATEWAY_API_KEYS, METRICS_TOKEN } });
    // One visit first, as a returning visitor: GraphiQL's hashed assets come from the cache then.
    context = await browser.newContext();
    context.on('request', (request) => {
      const url = request.url();
      if (url.startsWith(`${stack.gateway.graphqlUrl}/assets/`)) assets.add(url);
    });
    const page = await context.newPage();
    await page.goto(stack.gateway.graphqlUrl, { waitUntil: 'load', timeout: 25_000 });
    await page.close();
  });
  afterAll(async () => {
    await context?.close();
    await stack?.stop();
  });

  it('/metrics needs the token; the token never reaches a log line', async () => {
    const metrics = `${stack.gateway.url}/metrics`;
    for (const authorization of [
      undefined,
      'Bearer wrong-token',
      `Bearer ${ALPHA_KEY}`,
      METRICS_TOKEN,
    ]) {
      const answer = await send(metrics, { headers: authorization ? { authorization } : {} });
      expect(answer.status, authorization).toBe(401);
      expect(answer.headers['www-authenticate']).toContain('Bearer');
      expect(JSON.parse(answer.body).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    }
    const ok = await send(metrics, { headers: { authorization: `bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('wan_tasks');

    stack.gateway.logger.warn({ seen: `token=${METRICS_TOKEN}` }, `leaked ${METRICS_TOKEN}?`);
    stack.gateway.logger.flush();
    expect(stack.logs.some((line) => line.includes('leaked'))).toBe(true);
    expect(stack.logs.join('\n')).not.toContain(METRICS_TOKEN);
  });

  it('a foreign Host is served (keys are the guard when listening beyond loopback)', async () => {
    const answer = await send(`${stack.gateway.url}/healthz`, {
      headers: { host: 'video.example.com' },
    });
    expect(answer.status).toBe(200);
  });

  it('GraphiQL says where the key goes: the headers editor opens with the header to fill in', async () => {
    const response = await fetch(stack.gateway.graphqlUrl, { headers: { accept: 'text/html' } });
    const html = await response.text();
    expect(response.status).toBe(200);
    // The options the page hands to GraphiQL.
    const json = /renderYogaGraphiQL\([^,]+, (.*)\);\n/.exec(html)?.[1] ?? 'null';
    const options = JSON.parse(json);
    expect(options.defaultQuery).toMatch(/^# This gateway needs an API key\. Open "Headers"/);
    expect(options.defaultQuery).toContain('mutation Generate');
    expect(JSON.parse(options.headers)).toEqual({
      Authorization: 'Bearer <one of GATEWAY_API_KEYS>',
    });
    expect(options.defaultEditorToolsVisibility).toBe('headers');
  });

  it('an operation run from GraphiQL without a key answers UNAUTHENTICATED and creates nothing', async () => {
    const page = await context.newPage();
    try {
      await page.addInitScript((text) => {
        localStorage.setItem('graphiql:query', text);
        localStorage.removeItem('graphiql:tabState');
      }, MUTATION);
      await page.goto(stack.gateway.graphqlUrl, { waitUntil: 'load', timeout: 20_000 });
      await page.locator('.graphiql-container').first().waitFor({ timeout: 8000 });
      // The headers editor is open, with the header to fill in.
      await page.getByText('<one of GATEWAY_API_KEYS>').first().waitFor({ timeout: 8000 });
      const answer = page.waitForResponse(
        (response) =>
          response.url() === stack.gateway.graphqlUrl &&
          (response.request().postData() ?? '').includes('forged'),
        { timeout: 8000 },
      );
      await page.locator('.graphiql-execute-button').first().click();
      expect((await answer).status()).toBe(401);
      await page.getByText('UNAUTHENTICATED').first().waitFor({ timeout: 8000 });
      expect(creates(await stack.upstream())).toHaveLength(0);
      // The script, the style and Monaco's workers came from this gateway.
      expect([...assets].filter((url) => url.endsWith('.js')).length).toBeGreaterThanOrEqual(2);
      expect([...assets].some((url) => url.endsWith('.css'))).toBe(true);
      // With the key, the same mutation runs.
      const { body } = await stack.gql(MUTATION, {}, bearer(ALPHA_KEY));
      expect(body.data.generateVideo.id).toBeTruthy();
    } finally {
      await page.close();
    }
  });
});
