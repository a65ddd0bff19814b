/**
 * GraphiQL's page is a small shell; its script, style, workers and icon are content-hashed
 * assets, each served from one shared buffer with an ETag and `cache-control: immutable`. A crowd
 * of clients that ask for the page and the script and never read costs the gateway almost nothing.
 */
import { connect, type Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

const MB = 1024 * 1024;

/** The page as a browser asks for it. */
const page = () => fetch(stack.gateway.graphqlUrl, { headers: { accept: 'text/html' } });

/** Every same-origin asset the page points at, by extension; `app` is its `<script src>`. */
async function assetPaths(): Promise<Record<string, string[]>> {
  const html = await (await page()).text();
  const app = /<script src="([^"]+)"/.exec(html)?.[1];
  const paths: Record<string, string[]> = app ? { app: [app] } : {};
  for (const [path, ext] of html.matchAll(/\/graphql\/assets\/[0-9a-f]{16,}\.([a-z]+)/g)) {
    if (!ext) continue;
    const list = paths[ext] ?? [];
    if (!list.includes(path)) list.push(path);
    paths[ext] = list;
  }
  return paths;
}

/** Waits until the process's RSS stops growing (2 s without 5 MB more), at most 20 s. */
async function settledRss(): Promise<number> {
  let last = process.memoryUsage().rss;
  let stableSince = Date.now();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline && Date.now() - stableSince < 2000) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = process.memoryUsage().rss;
    if (now > last + 5 * MB) stableSince = Date.now();
    last = Math.max(last, now);
  }
  return last;
}

describe('GraphiQL assets', () => {
  it('serves a small page whose assets are hashed, immutable and revalidated by ETag', async () => {
    const response = await page();
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    // The page itself: options and links, no inlined bundle.
    expect(Buffer.byteLength(html)).toBeLessThan(16 * 1024);
    expect(html).toContain('<title>wan-video gateway</title>');
    expect(html).toContain('mutation Generate');

    const paths = await assetPaths();
    expect(paths.js).toHaveLength(4); // the app and three workers
    expect(paths.css).toHaveLength(1);
    expect(paths.ico).toHaveLength(1);
    const script = paths.app?.[0] as string;
    expect(paths.js).toContain(script);
    const first = await fetch(`${stack.gateway.url}${script}`, {
      headers: { 'accept-encoding': 'identity' },
    });
    const body = Buffer.from(await first.arrayBuffer());
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(first.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(Number(first.headers.get('content-length'))).toBe(body.length);
    expect(body.includes('YogaGraphiQL')).toBe(true);
    const etag = first.headers.get('etag') as string;
    expect(etag).toMatch(/^"[0-9a-f]+"$/);

    const again = await fetch(`${stack.gateway.url}${script}`, {
      headers: { 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');

    // Compressed once, off the event loop, after the first client that takes gzip (answered plain
    // meanwhile); then the same bytes once inflated.
    const gzipGet = () => rawGet(script, { 'accept-encoding': 'gzip, deflate, br' });
    let gzipped = await gzipGet();
    for (let tries = 0; gzipped.headers['content-encoding'] !== 'gzip' && tries < 100; tries++) {
      expect(gzipped.body.equals(body)).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 100));
      gzipped = await gzipGet();
    }
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toContain('Accept-Encoding');
    expect(gzipped.body.length).toBeLessThan(body.length / 2);
    expect(gunzipSync(gzipped.body).equals(body)).toBe(true);

    const unknown = await fetch(`${stack.gateway.url}/graphql/assets/0123456789abcdef.js`);
    expect(unknown.status).toBe(404);
    await unknown.body?.cancel();
  });

  it('100 clients that ask for the page and the script and never read: RSS grows < 150 MB', async () => {
    const paths = await assetPaths();
    const script = paths.app?.[0];
    // Warm: the bundle is loaded and compressed once, before measuring.
    await (await page()).text();
    if (script) await (await fetch(`${stack.gateway.url}${script}`)).arrayBuffer();
    const before = await settledRss();

    const { port } = new URL(stack.gateway.url);
    const sockets: Socket[] = [];
    try {
      await Promise.all(
        Array.from(
          { length: 100 },
          () =>
            new Promise<void>((resolve, reject) => {
              const socket = connect(Number(port), '127.0.0.1', () => {
                socket.pause(); // never read: everything stays with the sender
                const request = (path: string, accept: string) =>
                  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: ${accept}\r\nAccept-Encoding: identity\r\n\r\n`;
                socket.write(
                  request('/graphql', 'text/html') + (script ? request(script, '*/*') : ''),
                );
                resolve();
              });
              socket.once('error', reject);
              sockets.push(socket);
            }),
        ),
      );
      const after = await settledRss();
      const growth = (after - before) / MB;
      console.info(
        `RSS ${Math.round(before / MB)} MB -> ${Math.round(after / MB)} MB (+${Math.round(growth)} MB) with 100 clients not reading`,
      );
      expect(growth).toBeLessThan(150);
      expect(script).toBeDefined();

      // The gateway still answers at once, and a stalled client gets both answers when it reads.
      expect((await fetch(`${stack.gateway.url}/healthz`)).status).toBe(200);
      const received = await readAll(sockets[0] as Socket, 2);
      expect(received).toContain('HTTP/1.1 200');
      expect(received).toContain('YogaGraphiQL.renderYogaGraphiQL');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });
});

/** Resumes a paused socket and reads until `responses` answers have fully arrived. */
function readAll(socket: Socket, responses: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error('the answers did not all arrive')), 20_000);
    const done = () => {
      const text = Buffer.concat(chunks).toString('latin1');
      let offset = 0;
      for (let i = 0; i < responses; i++) {
        const headerEnd = text.indexOf('\r\n\r\n', offset);
        if (headerEnd < 0) return false;
        const length = /content-length: (\d+)/i.exec(text.slice(offset, headerEnd))?.[1];
        offset = headerEnd + 4 + Number(length ?? 0);
        if (offset > text.length) return false;
      }
      clearTimeout(timer);
      resolve(text);
      return true;
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      done();
    });
    socket.resume();
  });
}

/** One GET over a raw socket (fetch would inflate a gzip body): status line, headers, bytes. */
function rawGet(
  path: string,
  headers: Record<string, string>,
): Promise<{ headers: Record<string, string>; body: Buffer }> {
  const { port } = new URL(stack.gateway.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n${lines.join('')}\r\n`,
      );
    });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.once('error', reject);
    socket.once('end', () => {
      const all = Buffer.concat(chunks);
      const headerEnd = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, headerEnd).toString('latin1').split('\r\n').slice(1);
      resolve({
        headers: Object.fromEntries(
          head.map((line) => {
            const colon = line.indexOf(':');
            return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
          }),
        ),
        body: all.subarray(headerEnd + 4),
      });
    });
  });
}
