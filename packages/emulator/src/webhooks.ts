import { setTimeout as sleep } from 'node:timers/promises';

/** The upstream's delivery rules: a try fails after 5 s or on a non-2xx answer; 5 tries. */
export const WEBHOOK_TIMEOUT_MS = 5000;
export const WEBHOOK_ATTEMPTS = 5;
/** The waits between tries, before the time scale divides them. */
export const WEBHOOK_BACKOFF_MS = [1000, 2000, 4000, 8000] as const;

export interface DeliveryAttempt {
  readonly attempt: number;
  /** The receiver's HTTP status, or `null` when it did not answer in time or at all. */
  readonly status: number | null;
  readonly error?: string;
}

export interface DeliveryOptions {
  /** Divides the waits between tries (not the 5 s timeout of a try). */
  timeScale: number;
  signal: AbortSignal;
  onAttempt?: (attempt: DeliveryAttempt) => void;
}

/**
 * POSTs a webhook event, trying up to 5 times with backoff. Resolves `true` once the receiver
 * answered 2xx, `false` when every try failed or the delivery was aborted.
 */
export async function deliverWebhook(
  url: string,
  event: unknown,
  options: DeliveryOptions,
): Promise<boolean> {
  const body = JSON.stringify(event);
  for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
    if (options.signal.aborted) return false;
    let outcome: DeliveryAttempt;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'wan-video-emulator' },
        body,
        signal: AbortSignal.any([options.signal, AbortSignal.timeout(WEBHOOK_TIMEOUT_MS)]),
      });
      await response.body?.cancel();
      outcome = { attempt, status: response.status };
    } catch (error) {
      outcome = {
        attempt,
        status: null,
        error: error instanceof Error ? error.message : String(error),
      };
    }
    options.onAttempt?.(outcome);
    if (outcome.status !== null && outcome.status >= 200 && outcome.status < 300) return true;
    const wait = WEBHOOK_BACKOFF_MS[attempt - 1];
    if (wait === undefined) break;
    try {
      await sleep(wait / options.timeScale, undefined, { signal: options.signal });
    } catch {
      return false;
    }
  }
  return false;
}
