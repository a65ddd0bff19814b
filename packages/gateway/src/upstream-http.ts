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

/** An upstream that took too long, as core's client knows it (`fetchEnforcesTimeout`). */
class UpstreamTimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Rethrows undici's timeouts as a `TimeoutError`, anything else as it is. */
function asTimeout(error: unknown): never {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) {
    throw new UpstreamTimeoutError('the upstream did not answer in time', { cause: error });
  }
  throw error;
}

/**
 * A `FetchLike` for requests to `baseUrl`'s origin, over at most `connections` kept-alive
 * connections. A URL on another origin (none today) goes through `fetch`. It enforces
 * `init.timeoutMs` itself (give core's client `fetchEnforcesTimeout: true`): undici's
 * `headersTimeout` for the answer's head once the request is on a connection, and its
 * `bodyTimeout` between two chunks of the body.
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
    if (!input.startsWith(`${origin}/`)) {
      const timeout = AbortSignal.timeout(init.timeoutMs ?? 30_000);
      return fetch(input, {
        ...init,
        signal: init.signal ? AbortSignal.any([init.signal, timeout]) : timeout,
      });
    }
    const answer = await pool
      .request({
        path: input.slice(origin.length),
        method: (init.method ?? 'GET') as 'GET' | 'POST',
        headers: init.headers as Record<string, string>,
        body: typeof init.body === 'string' ? init.body : null,
        signal: init.signal ?? null,
        // The attempt's timeout, on undici's own timers: no AbortController or timer per request.
        ...(init.timeoutMs === undefined
          ? {}
          : { headersTimeout: init.timeoutMs, bodyTimeout: init.timeoutMs }),
      })
      .catch(asTimeout);
    const response: UpstreamResponse = {
      ok: answer.statusCode >= 200 && answer.statusCode < 300,
      status: answer.statusCode,
      headers: headersOf(answer.headers),
      text: () => answer.body.text().catch(asTimeout),
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
