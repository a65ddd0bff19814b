import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import * as parts from '@graphql-yoga/render-graphiql/graphiql';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

/**
 * GraphiQL without a CDN and without a per-request copy of its 9 MB bundle. yoga's own renderer
 * inlines the script, the style, three Monaco workers and the icon into every page, so each
 * visitor that reads slowly (or never) pins megabytes. Here the page is a small shell; each part
 * of the bundle is a content-hashed asset under `<endpoint>/assets/`, made once per process into
 * one Buffer (and one gzipped Buffer, made after the first use) that every answer shares. The
 * node adapter hands that Buffer to the socket as is: a stalled client holds a reference, not a
 * copy.
 */

const gzipAsync = promisify(gzip);

/** One part of the bundle, shared by every answer. */
interface Asset {
  /** `<hash>.<ext>`: what the page links to. */
  readonly name: string;
  readonly contentType: string;
  readonly etag: string;
  readonly body: Buffer;
  /**
   * Compressed once, off the event loop, from the first request that accepts gzip; until it is
   * ready such requests get the plain bytes (no answer waits for compression).
   */
  gzip?: { ready?: Buffer };
}

interface Bundle {
  readonly script: Asset;
  readonly style: Asset;
  readonly icon: Asset;
  /** Monaco's workers by the label it asks `getWorkerUrl` for. */
  readonly workers: Readonly<Record<'editorWorkerService' | 'json' | 'graphql', Asset>>;
  readonly byName: ReadonlyMap<string, Asset>;
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const JS = 'text/javascript; charset=utf-8';

function asset(body: Buffer, ext: string, contentType: string): Asset {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 20);
  return { name: `${hash}.${ext}`, contentType, etag: `"${hash}"`, body };
}

/** `data:<type>;base64,<bytes>` (the bundle's favicon) as an asset of its own. */
function dataUrlAsset(url: string): Asset {
  const match = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  const type = match?.[1] ?? 'image/x-icon';
  return asset(
    Buffer.from(match?.[2] ?? '', 'base64'),
    type === 'image/x-icon' ? 'ico' : 'img',
    type,
  );
}

// One bundle per process, made at the first page or asset request. The module itself is imported
// as yoga's renderer did (its parse is paid at start, not by the first visitor).
let made: Bundle | undefined;
function bundle(): Bundle {
  if (made) return made;
  const workers = {
    editorWorkerService: asset(Buffer.from(parts.editorWorkerService), 'js', JS),
    json: asset(Buffer.from(parts.jsonWorker), 'js', JS),
    graphql: asset(Buffer.from(parts.graphqlWorker), 'js', JS),
  };
  const script = asset(Buffer.from(parts.js), 'js', JS);
  const style = asset(Buffer.from(parts.css), 'css', 'text/css; charset=utf-8');
  const icon = dataUrlAsset(parts.favicon);
  const all = [script, style, icon, ...Object.values(workers)];
  made = { script, style, icon, workers, byName: new Map(all.map((a) => [a.name, a])) };
  return made;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** JSON that is safe inside a `<script>` element. */
const scriptJson = (value: unknown) =>
  JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

/**
 * yoga's `renderGraphiQL`: a page of about 2 KB that loads GraphiQL from the hashed assets served
 * by `useGraphiQLAssets` on the same `endpoint`, with the options yoga passes (title,
 * defaultQuery, headers...) as yoga's own renderer takes them.
 */
export function createGraphiQLRenderer(
  endpoint = '/graphql',
): (options: GraphiQLOptions) => string {
  return (options) => {
    const { icon, script, style, workers: byLabel } = bundle();
    const url = (a: Asset) => `${endpoint}/assets/${a.name}`;
    const workers = Object.fromEntries(
      Object.entries(byLabel).map(([label, a]) => [label, url(a)]),
    );
    return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${escapeHtml(options.title || 'Yoga GraphiQL')}</title>
    <link rel="icon" href="${options.favicon ? escapeHtml(options.favicon) : url(icon)}" />
    <link rel="stylesheet" href="${url(style)}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>You need to enable JavaScript to run this app.</noscript>
    <div id="root"></div>
    <script>
      var workers = ${scriptJson(workers)};
      self.MonacoEnvironment = {
        globalAPI: false,
        getWorkerUrl: function (moduleId, label) {
          return workers[label];
        },
      };
    </script>
    <script src="${url(script)}"></script>
    <script>
      YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), ${scriptJson(options)});
    </script>
  </body>
</html>
`;
  };
}

/** Whether `Accept-Encoding` takes gzip (not `gzip;q=0`). */
function acceptsGzip(header: string | null): boolean {
  if (!header) return false;
  return header.split(',').some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    if (coding?.trim() !== 'gzip') return false;
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find(Boolean);
    return q === undefined || Number(q) > 0;
  });
}

/** Whether `If-None-Match` names one of `etags` (or `*`). */
function matches(header: string | null, etags: readonly string[]): boolean {
  if (!header) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || etags.includes(tag));
}

/**
 * `GET <endpoint>/assets/<hash>.<ext>`: GraphiQL's parts, each from its one shared Buffer, gzipped
 * for clients that take it, cached for a year (the name changes with the content) and answered
 * 304 to a matching `If-None-Match`.
 */
export function useGraphiQLAssets(endpoint = '/graphql'): Plugin {
  const prefix = `${endpoint}/assets/`;
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (!url.pathname.startsWith(prefix)) return;
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      const found = bundle().byName.get(url.pathname.slice(prefix.length));
      if (!found) {
        endResponse(
          new fetchAPI.Response(JSON.stringify({ error: 'Not found.' }), {
            status: 404,
            headers: { 'content-type': 'application/json' },
          }),
        );
        return;
      }
      const gzipEtag = `"${found.etag.slice(1, -1)}-gz"`;
      const headers: Record<string, string> = {
        'content-type': found.contentType,
        'cache-control': IMMUTABLE,
        vary: 'Accept-Encoding',
        'x-content-type-options': 'nosniff',
      };
      if (matches(request.headers.get('if-none-match'), [found.etag, gzipEtag])) {
        endResponse(new fetchAPI.Response(null, { status: 304, headers }));
        return;
      }
      let body = found.body;
      headers.etag = found.etag;
      if (acceptsGzip(request.headers.get('accept-encoding'))) {
        if (!found.gzip) {
          const gzipped: { ready?: Buffer } = {};
          found.gzip = gzipped;
          gzipAsync(found.body).then(
            (bytes) => {
              gzipped.ready = bytes;
            },
            () => {}, // stays plain
          );
        }
        if (found.gzip.ready) {
          body = found.gzip.ready;
          headers['content-encoding'] = 'gzip';
          headers.etag = gzipEtag;
        }
      }
      headers['content-length'] = String(body.length);
      // A Buffer body is written to the socket as it is: every answer shares it.
      const shared = body as Uint8Array<ArrayBuffer>;
      endResponse(
        new fetchAPI.Response(request.method === 'HEAD' ? null : shared, { status: 200, headers }),
      );
    },
  };
}

/** The placeholder the headers editor starts with when the gateway needs a key. */
export const KEY_PLACEHOLDER = 'Bearer <one of GATEWAY_API_KEYS>';

/**
 * GraphiQL's options. With client keys, GraphiQL runs nothing without one (auth is in the
 * context): the page opens its headers editor with an `Authorization` template and says, atop
 * the example operations, where the key goes.
 */
export function graphiqlOptions(options: {
  readonly title: string;
  readonly defaultQuery: string;
  readonly authRequired: boolean;
}): GraphiQLOptions {
  const base = { title: options.title, defaultQuery: options.defaultQuery };
  if (!options.authRequired) return base;
  return {
    ...base,
    defaultQuery: `# This gateway needs an API key. Open "Headers" (below the editor) and replace the
# placeholder with your key: {"Authorization": "Bearer <your key>"}. Without it every
# operation answers UNAUTHENTICATED and runs nothing.

${options.defaultQuery}`,
    headers: JSON.stringify({ Authorization: KEY_PLACEHOLDER }, null, 2),
    defaultEditorToolsVisibility: 'headers',
  };
}
