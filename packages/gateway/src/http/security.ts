import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CORSOptions, Plugin } from 'graphql-yoga';
import { errorBody } from '../errors.js';

/**
 * What a browser page on another site may do with this gateway, decided in one place:
 * - CORS: only the gateway's own origin and the listed ones (`CORS_ORIGINS`) get CORS headers,
 *   credentials only for those; with `*`, any origin, never with credentials.
 * - CSRF: a POST to GraphQL a page could send without a preflight (a form, or a fetch with a
 *   form or text body) is refused unless it carries `x-graphql-yoga-csrf`, which no page can
 *   add without passing CORS.
 * - DNS rebinding: without client keys (loopback-only mode) a request whose `Host` does not
 *   name this machine is refused, over HTTP and WebSocket.
 * - WebSocket: browsers send no preflight for an upgrade, so its `Origin` is checked against
 *   the same list.
 */

/** The header that marks a request as sent by a client that passed CORS (yoga's name for it). */
export const CSRF_HEADER = 'x-graphql-yoga-csrf';

/** The content types a page can POST without a preflight. */
const SIMPLE_CONTENT_TYPES: readonly string[] = [
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'text/plain',
];

/** `localhost`, `127.x.x.x` or `[::1]`, with any port. */
const LOOPBACK_HOST = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d{1,5})?$/i;

/** Whether a `Host` header names this machine's loopback interface. */
export const isLoopbackHost = (host: string | undefined): boolean =>
  host !== undefined && LOOPBACK_HOST.test(host.trim());

interface Refusal {
  readonly status: 403 | 421;
  readonly body: string;
}

const MISDIRECTED: Refusal = {
  status: 421,
  body: JSON.stringify(
    errorBody(
      'BAD_REQUEST',
      'This gateway runs without GATEWAY_API_KEYS and answers only requests addressed to localhost, 127.0.0.1 or [::1]. Set GATEWAY_API_KEYS to serve other hosts.',
    ),
  ),
};
const FOREIGN_ORIGIN: Refusal = {
  status: 403,
  body: JSON.stringify(
    errorBody(
      'BAD_REQUEST',
      'Pages from this origin may not open a WebSocket to this gateway: add the origin to CORS_ORIGINS.',
    ),
  ),
};

const STATUS_TEXT = { 403: 'Forbidden', 421: 'Misdirected Request' } as const;

export interface RequestGuardOptions {
  /**
   * Origins a browser page may call from, beside the gateway's own; `'*'`: any, without
   * credentials.
   */
  readonly corsOrigins: '*' | readonly string[];
  /** No client keys, bound to loopback: refuse a `Host` that does not name this machine. */
  readonly loopbackOnly: boolean;
}

export interface RequestGuard {
  /** yoga's `cors` option: headers for the allowed origins only. */
  readonly cors: (request: Request) => CORSOptions;
  /** Answers a request with a foreign `Host` (421) in loopback-only mode; true when it did. */
  refuseRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Refuses a WebSocket upgrade with a foreign `Host` (421, loopback-only mode) or from a page of
   * an origin not allowed (403); true when it did.
   */
  refuseUpgrade(req: IncomingMessage, socket: Duplex): boolean;
}

export function createRequestGuard(options: RequestGuardOptions): RequestGuard {
  const anyOrigin = options.corsOrigins === '*';
  const listed = new Set(anyOrigin ? [] : options.corsOrigins);
  /** Listed, or the gateway's own (the origin's host is the `Host` the request was sent to). */
  const isAllowed = (origin: string, host: string | null | undefined): boolean => {
    if (listed.has(origin)) return true;
    if (!host || !URL.canParse(origin)) return false;
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host.trim();
  };
  const hostRefusal = (host: string | undefined) =>
    options.loopbackOnly && !isLoopbackHost(host) ? MISDIRECTED : undefined;

  return {
    cors(request) {
      const origin = request.headers.get('origin');
      if (!origin) return false;
      if (isAllowed(origin, request.headers.get('host'))) {
        return { origin: [origin], credentials: true, maxAge: 600 };
      }
      // yoga echoes the origin for '*'; credentials stay off.
      return anyOrigin ? { origin: '*', credentials: false, maxAge: 600 } : false;
    },
    refuseRequest(req, res) {
      const refusal = hostRefusal(req.headers.host);
      if (!refusal) return false;
      res.writeHead(refusal.status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(refusal.body),
        connection: 'close',
      });
      res.end(refusal.body);
      return true;
    },
    refuseUpgrade(req, socket) {
      const origin = req.headers.origin;
      const refusal =
        hostRefusal(req.headers.host) ??
        (origin !== undefined && !anyOrigin && !isAllowed(origin, req.headers.host)
          ? FOREIGN_ORIGIN
          : undefined);
      if (!refusal) return false;
      socket.end(
        `HTTP/1.1 ${refusal.status} ${STATUS_TEXT[refusal.status]}\r\n` +
          'Content-Type: application/json\r\n' +
          `Content-Length: ${Buffer.byteLength(refusal.body)}\r\n` +
          `Connection: close\r\n\r\n${refusal.body}`,
      );
      return true;
    },
  };
}

/**
 * CSRF prevention on `endpoint` and below (GraphQL, GraphQL over SSE): a POST whose content type
 * a page can send without a preflight (form, multipart, text, none) is refused with 403 unless it
 * carries `x-graphql-yoga-csrf`. GraphQL clients send JSON and pass; a GET never mutates (yoga and
 * graphql-sse refuse mutations over GET). Also adds `Vary: Origin`: CORS headers depend on it.
 */
export function useCsrfPrevention(endpoint = '/graphql'): Plugin {
  return {
    onRequest({ request, url, endResponse, fetchAPI }) {
      if (request.method !== 'POST') return;
      if (url.pathname !== endpoint && !url.pathname.startsWith(`${endpoint}/`)) return;
      if (request.headers.has(CSRF_HEADER)) return;
      const type = (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
      if (type && !SIMPLE_CONTENT_TYPES.includes(type)) return;
      const message = `Send GraphQL as JSON (Content-Type: application/json), or add the header ${CSRF_HEADER}: a form or plain-text POST could come from any web page.`;
      endResponse(
        new fetchAPI.Response(JSON.stringify(errorBody('BAD_REQUEST', message)), {
          status: 403,
          headers: { 'content-type': 'application/json' },
        }),
      );
    },
    onResponse({ response }) {
      const vary = response.headers.get('vary');
      if (!vary) response.headers.set('vary', 'Origin');
      else if (!/\borigin\b/i.test(vary)) response.headers.set('vary', `${vary}, Origin`);
    },
  };
}

/**
 * No page of the gateway (GraphiQL, the playground) can be framed by another site: GraphiQL runs
 * whatever operation its URL holds at one click on its run button, so a page that framed it could
 * make a visitor create a task (clickjacking). Every HTML answer says so to the browser.
 */
export function useNoFraming(): Plugin {
  return {
    onResponse({ response }) {
      if (!(response.headers.get('content-type') ?? '').startsWith('text/html')) return;
      response.headers.set('content-security-policy', "frame-ancestors 'self'");
      response.headers.set('x-frame-options', 'SAMEORIGIN');
    },
  };
}
