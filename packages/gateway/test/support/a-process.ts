/**
 * The gateway as a real child process (`src/bin.ts` under tsx), for crash and restart tests:
 * SIGKILL is only a SIGKILL when there is a process to kill. Its stdout (JSON log lines) is kept.
 */
import {
  type ChildGateway,
  type Exit,
  freePort,
  runGatewayToExit,
  spawnGateway,
} from '@wan-video/test-utils/gateway-process';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

export { type Exit, freePort, runGatewayToExit };

export interface GatewayProcess extends ChildGateway {
  /** A graphql-ws client that does not reconnect (disposed by `kill` and `stopAll`). */
  ws(): Client;
}

const live = new Set<GatewayProcess>();

/**
 * Starts the gateway with `env` on `port` and waits for `GET /healthz` to answer 200 (or for the
 * process to die, which rejects). `options.healthyWithinMs` bounds that wait (20 s by default).
 */
export async function startGatewayProcess(
  port: number,
  env: Record<string, string>,
  options: { readonly healthyWithinMs?: number } = {},
): Promise<GatewayProcess> {
  const gateway = await spawnGateway(port, env, options);
  const clients: Client[] = [];
  const processHandle: GatewayProcess = {
    ...gateway,
    async kill(signal) {
      const exit = await gateway.kill(signal);
      for (const client of clients.splice(0)) await client.dispose();
      live.delete(processHandle);
      return exit;
    },
    ws() {
      const client = createClient({
        url: gateway.wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
      });
      clients.push(client);
      return client;
    },
  };
  live.add(processHandle);
  return processHandle;
}

/** SIGKILLs every gateway process still running (for `afterAll`). */
export async function stopAllGatewayProcesses(): Promise<void> {
  await Promise.all([...live].map((gateway) => gateway.kill('SIGKILL')));
}
