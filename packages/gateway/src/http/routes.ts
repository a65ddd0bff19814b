import { createHash, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { Readable } from 'node:stream';
import type { Plugin } from 'graphql-yoga';
import { errorBody } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { VideoService } from '../service.js';

/**
 * The gateway's HTTP routes beside GraphQL, each a small yoga plugin that answers its own path
 * and lets every other request through.
 */

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });

/** A route: answers `path` (exact) with `handle`, or passes. */
function route(
  matches: (pathname: string, method: string) => boolean,
  handle: (request: Request, url: URL) => Response | Promise<Response>,
): Plugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (matches(url.pathname, request.method)) endResponse(await handle(request, url));
    },
  };
}

/** `/healthz`: the process serves. */
export const useHealth = (): Plugin =>
  route(
    (path) => path === '/healthz',
    () => json({ status: 'ok' }),
  );

/** One readiness check: `true` when fine, otherwise why not (never a secret). */
export type ReadinessCheck = () => Promise<true | string> | true | string;

/**
 * `/readyz`: 200 when every check passes, else 503 naming what is wrong. A load balancer stops
 * sending traffic to a replica whose store, event bus, tracking or upstream is unreachable.
 */
export const useReadiness = (
  checks: Readonly<Record<string, ReadinessCheck>>,
  serving: () => boolean,
): Plugin =>
  route(
    (path) => path === '/readyz',
    async () => {
      const entries = await Promise.all(
        Object.entries(checks).map(async ([name, check]) => {
          try {
            const result = await check();
            return [name, result === true ? 'ok' : result] as const;
          } catch (error) {
            return [name, error instanceof Error ? error.message : 'unavailable'] as const;
          }
        }),
      );
      const ready = serving() && entries.every(([, result]) => result === 'ok');
      return json(
        { status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(entries) },
        ready ? 200 : 503,
      );
    },
  );

/**
 * `/metrics`: Prometheus text. With a `token` (`METRICS_TOKEN`), only for
 * `Authorization: Bearer <token>` (compared in constant time), else 401.
 */
export const useMetricsRoute = (metrics: Metrics, token?: string): Plugin => {
  const expected = token === undefined ? undefined : digest(token);
  return route(
    (path) => path === '/metrics',
    async (request) => {
      if (expected) {
        const given = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
        if (!timingSafeEqual(digest(given?.[1] ?? ''), expected)) {
          return json(
            errorBody('UNAUTHENTICATED', 'Send Authorization: Bearer <METRICS_TOKEN>.'),
            401,
            {
              'www-authenticate': 'Bearer realm="metrics"',
            },
          );
        }
      }
      return new Response(await metrics.registry.metrics(), {
        headers: { 'content-type': metrics.registry.contentType },
      });
    },
  );
};

/** Same-length digests, so that comparing them takes the same time whatever was sent. */
const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * `POST /webhooks/novita/<task id>?secret=…`: the upstream's webhook. Answered at once; the body
 * is never trusted: a valid secret only asks tracking for a confirming read (or, for a task whose
 * create was interrupted, a read of the upstream id the body names).
 */
export const useNovitaWebhook = (service: VideoService, logger: Logger): Plugin =>
  route(
    (path, method) => method === 'POST' && /^\/webhooks\/novita\/[0-9a-f-]{36}$/.test(path),
    async (request, url) => {
      // At most maxBodyBytes; only ever a hint, confirmed by a read.
      const body = await request.text();
      const taskId = url.pathname.slice('/webhooks/novita/'.length);
      const accepted = await service.webhook(taskId, url.searchParams.get('secret') ?? '', body);
      logger.info({ taskId, accepted }, 'webhook received');
      return accepted
        ? json({ status: 'accepted' }, 202)
        : json({ error: 'Unknown task or secret.' }, 404);
    },
  );

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/**
 * The built playground at `/`: its files, and `index.html` for any other path (the app routes
 * itself). Streamed from disk with an ETag; hashed assets are cached for a year, `index.html` is
 * always revalidated. Without a playground, `/` redirects to GraphiQL.
 */
export const usePlayground = (root: string | undefined): Plugin =>
  route(
    (path, method) =>
      (method === 'GET' || method === 'HEAD') &&
      (path === '/' || (root !== undefined && !path.startsWith('/graphql'))),
    async (request, url) => {
      if (root === undefined) {
        return new Response(null, { status: 302, headers: { location: '/graphql' } });
      }
      const isAsset = /\.[a-z0-9]+$/i.test(url.pathname);
      let relative: string;
      try {
        relative = isAsset ? decodeURIComponent(url.pathname) : '/index.html';
      } catch {
        return json({ error: 'Not found.' }, 404);
      }
      const file = normalize(join(root, relative));
      const hidden = relative.split('/').some((part) => part.startsWith('.'));
      if (hidden || !file.startsWith(normalize(root + sep)))
        return json({ error: 'Not found.' }, 404);
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) return json({ error: 'Not found.' }, 404);
      const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
      const headers = {
        etag,
        'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': file.includes(`${sep}assets${sep}`)
          ? 'public, max-age=31536000, immutable'
          : 'no-cache',
      };
      if (request.headers.get('if-none-match') === etag) {
        return new Response(null, { status: 304, headers });
      }
      const body =
        request.method === 'HEAD'
          ? null
          : (Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>);
      return new Response(body, {
        headers: { ...headers, 'content-length': String(info.size) },
      });
    },
  );
