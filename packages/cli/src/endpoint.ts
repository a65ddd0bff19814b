import { UsageError } from './errors.js';

/** Where `wan-video` looks for the gateway when neither `--url` nor `WAN_VIDEO_URL` is set. */
export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:4000/graphql';

/** The gateway's GraphQL endpoint over HTTP and over WebSocket. */
export interface Endpoint {
  readonly httpUrl: string;
  readonly wsUrl: string;
}

/**
 * Reads `--url`: the GraphQL endpoint (`http://host:4000/graphql`) or the gateway's origin
 * (`http://host:4000`, `/graphql` is appended). `ws://`/`wss://` are taken too.
 */
export function parseEndpoint(value: string): Endpoint {
  const text = value.trim();
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (!url || !['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new UsageError(
      `--url must be the gateway's http(s) URL, like ${DEFAULT_GATEWAY_URL} (got ${JSON.stringify(value)})`,
    );
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/graphql';
  url.hash = '';
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  url.protocol = secure ? 'https:' : 'http:';
  const httpUrl = url.href;
  url.protocol = secure ? 'wss:' : 'ws:';
  return { httpUrl, wsUrl: url.href };
}
