/**
 * `startStack`, with a say over the parsed `GatewayConfig`: for values the environment may not
 * hold in a quick test (TASK_DEADLINE_SECONDS is 10 at least). The config is read from the
 * environment as usual, then patched, and given to the public `createGateway`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startEmulator } from '@wan-video/emulator';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createGateway, type GatewayConfig, readConfig } from '../../src/index.js';
import { FAST_POLL, NOVITA_KEY, type Stack, type StackOptions } from './stack.js';

export async function startStackWithConfig(
  options: StackOptions & { config?: Partial<GatewayConfig> } = {},
): Promise<Stack> {
  const dir = await mkdtemp(join(tmpdir(), 'wan-gateway-test-'));
  const emulator = await startEmulator({
    timeScale: 20,
    storageDir: join(dir, 'videos'),
    ...options.emulator,
  });
  const databasePath = options.databasePath ?? join(dir, 'db.sqlite');
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const config: GatewayConfig = {
    ...readConfig({
      PORT: '0',
      NOVITA_API_KEY: NOVITA_KEY,
      NOVITA_BASE_URL: emulator.url,
      DATABASE_PATH: databasePath,
      LOG_LEVEL: 'debug',
      ...options.env,
    }),
    ...options.config,
  };
  const gateway = createGateway(config, {
    logDestination: destination,
    pollPolicy: FAST_POLL,
    ...options.gateway,
  });
  await gateway.start();
  const clients: Client[] = [];
  return {
    gateway,
    emulator,
    dir,
    databasePath,
    logs,
    async gql(query, variables, headers = {}) {
      const response = await fetch(gateway.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: await response.json() };
    },
    ws(connectionParams) {
      const client = createClient({
        url: gateway.wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        ...(connectionParams ? { connectionParams } : {}),
      });
      clients.push(client);
      return client;
    },
    async upstream() {
      return [...emulator.requests()];
    },
    async stop() {
      for (const client of clients) await client.dispose();
      await gateway.stop();
      await emulator.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
