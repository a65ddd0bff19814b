import type { Caller } from './builder.js';
import { gatewayError } from './errors.js';
import { sha256 } from './service.js';

/** Client API keys: who a request is, from `Authorization: Bearer <key>`. */
export interface Auth {
  /** Whether clients must send a key (`GATEWAY_API_KEYS` is set). */
  readonly required: boolean;
  /** How many keys are configured. */
  readonly keys: number;
  /** The caller an `Authorization` value stands for; throws UNAUTHENTICATED. */
  callerFor(authorization: unknown): Caller;
}

/** Keys are kept only as hashes; a caller's id is derived from its key's hash. */
export function createAuth(keys: readonly string[]): Auth {
  const callers = new Map(
    keys.map((key) => [sha256(key), { id: `client_${sha256(key).slice(0, 16)}` }]),
  );
  const required = callers.size > 0;
  return {
    required,
    keys: callers.size,
    callerFor(authorization) {
      if (!required) return { id: 'anonymous' };
      const match =
        typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
      const caller = match?.[1] ? callers.get(sha256(match[1])) : undefined;
      if (!caller) {
        throw gatewayError(
          'UNAUTHENTICATED',
          'Send a valid API key: Authorization: Bearer <key> (connectionParams.authorization over WebSocket).',
        );
      }
      return caller;
    },
  };
}
