import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** The setting that holds the generated master secret when WEBHOOK_SIGNING_SECRET is unset. */
export const MASTER_SECRET_SETTING = 'webhook_signing_master_secret';

/** A new master secret (kept in the store, shared by replicas). */
export const newMasterSecret = (): string => randomBytes(32).toString('base64url');

/**
 * A client's signing secret, derived from the master: `whsec_` and the base64 of
 * HMAC-SHA256(master, owner), as Standard Webhooks libraries take it. Stable across restarts and
 * replicas; one client's secret tells nothing of another's or of the master.
 */
export function clientSecret(master: string, owner: string): string {
  const key = createHmac('sha256', master)
    .update(`wan-video client webhook secret v1:${owner}`)
    .digest('base64');
  return `whsec_${key}`;
}

/** The Standard Webhooks headers of one try: `webhook-id`, `webhook-timestamp`, `webhook-signature`. */
export function signedHeaders(
  secret: string,
  webhookId: string,
  at: Date,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(webhookId, at, body),
  };
}
