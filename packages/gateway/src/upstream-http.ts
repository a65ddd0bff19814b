/**
 * How the gateway talks HTTP to the upstream: a keep-alive pool of connections to its origin
 * (undici's `Pool` and `request`), behind core's `FetchLike` seam. WHATWG `fetch` builds a
 * Request, Headers, a stream for the body and a Response for every call; measured under mutation
 * load it was about a third of the gateway's CPU. Core keeps `fetch` as its default: browsers
 * have nothing else.
 */
import type { FetchLike, UpstreamResponse } from '@wan-video/core';
import { Pool } from 'undici';

export interface UpstreamHttp {
  readonly fetch: FetchLike;
  /** Closes the pooled connections: requests still under way after `graceMs` are cut off. */
  close(graceMs?: number): Promise<void>;
}

/** Headers as undici gives them (lower-case names) behind `get`, as a `Response` has it. */
function headersOf(raw: Record<string, string | string[] | undefined>) {
  return {
    get(name: string): string | null {
      const value = raw[name.toLowerCase()];
      if (value === undefined) return null;
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/**
 * A `FetchLike` for requests to `baseUrl`'s origin, over at most `connections` kept-alive
 * connections. A URL on another origin (none today) goes through `fetch`.
 */
export function pooledUpstream(
  baseUrl: string,
  options: { connections?: number } = {},
): UpstreamHttp {
  const { origin } = new URL(baseUrl);
  const pool = new Pool(origin, {
    connections: options.connections ?? 64,
    // Idle connections are kept a while (the upstream may close them first: undici then opens
    // a new one), so a task read after a quiet moment does not pay a handshake.
    keepAliveTimeout: 30_000,
  });
  const fetchLike: FetchLike = async (input, init) => {
    if (!input.startsWith(`${origin}/`)) return fetch(input, init);
    const answer = await pool.request({
      path: input.slice(origin.length),
      method: (init.method ?? 'GET') as 'GET' | 'POST',
      headers: init.headers as Record<string, string>,
      body: typeof init.body === 'string' ? init.body : null,
      signal: init.signal ?? null,
    });
    const response: UpstreamResponse = {
      ok: answer.statusCode >= 200 && answer.statusCode < 300,
      status: answer.statusCode,
      headers: headersOf(answer.headers),
      text: () => answer.body.text(),
    };
    return response;
  };
  return {
    fetch: fetchLike,
    async close(graceMs = 1000) {
      const timer = setTimeout(() => void pool.destroy().catch(() => {}), graceMs);
      try {
        await pool.close();
      } catch {
        // Destroyed meanwhile: nothing is left open either way.
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
