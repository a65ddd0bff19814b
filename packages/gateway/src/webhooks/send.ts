import { Agent, request } from 'undici';
import { checkWebhookTarget, type GuardOptions, isWebhookUrlError, pinnedLookup } from './ssrf.js';

/** What one try came to: delivered (2xx), or why not. */
export interface TryResult {
  readonly delivered: boolean;
  readonly statusCode: number | null;
  readonly error: string | null;
}

/** The most of a receiver's answer read (and thrown away) before the connection is dropped. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs one signed event. The host is resolved and checked once (the SSRF guard), and the
 * connection goes to that checked address alone (`pinnedLookup`: a DNS answer changed since
 * cannot redirect it), with the URL's host as Host header and TLS server name. Redirects are not
 * followed (a 3xx is a failed try), the answer's body is ignored, and the whole try is bounded by
 * `timeoutMs`. Never rejects: a failure is a result with its reason.
 */
export async function sendSigned(
  rawUrl: string,
  headers: Record<string, string>,
  body: string,
  options: GuardOptions & { readonly timeoutMs: number; readonly signal?: AbortSignal },
): Promise<TryResult> {
  const url = new URL(rawUrl);
  let target: Awaited<ReturnType<typeof checkWebhookTarget>>;
  try {
    target = await checkWebhookTarget(url, options);
  } catch (error) {
    const reason = isWebhookUrlError(error) ? error.message : 'the host could not be checked';
    return { delivered: false, statusCode: null, error: `refused: ${reason}` };
  }
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const agent = new Agent({
    connect: { lookup: pinnedLookup(target) as never, timeout: options.timeoutMs },
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
  try {
    const answer = await request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'wan-video-gateway',
        ...headers,
      },
      body,
      dispatcher: agent,
      signal,
    });
    await answer.body.dump({ limit: MAX_ANSWER_BYTES }).catch(() => {});
    const status = answer.statusCode;
    if (status >= 200 && status < 300) return { delivered: true, statusCode: status, error: null };
    return {
      delivered: false,
      statusCode: status,
      error:
        status >= 300 && status < 400
          ? `HTTP ${status}: redirects are not followed`
          : `HTTP ${status}: not a 2xx answer`,
    };
  } catch (error) {
    if (timeout.aborted) {
      return {
        delivered: false,
        statusCode: null,
        error: `no answer within ${options.timeoutMs / 1000} s`,
      };
    }
    return { delivered: false, statusCode: null, error: describeNetworkError(error) };
  } finally {
    agent.destroy().catch(() => {});
  }
}

/** A network failure in a few words: its code (ECONNREFUSED, ECONNRESET…) and message. */
function describeNetworkError(error: unknown): string {
  const seen = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  if (!(seen instanceof Error)) return 'the request failed';
  const code = (seen as { code?: unknown }).code;
  const text = seen.message.replace(/\s+/g, ' ').slice(0, 200);
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}
