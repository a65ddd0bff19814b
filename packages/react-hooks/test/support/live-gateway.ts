/**
 * The real gateway and emulator, started in the test process on loopback through their public
 * APIs, for the hooks to talk to. Nothing is mocked.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Emulator, startEmulator } from '@wan-video/emulator';
import { createGateway, type Gateway, readConfig } from '@wan-video/gateway';
import { inject } from 'vitest';
import WebSocket from 'ws';

export const FAST_POLL = { minIntervalMs: 50, maxIntervalMs: 250, idleIntervalMs: 50 } as const;

/** A WebSocket class that counts the sockets opened with it. */
export function countingWebSocket(): {
  WebSocketImpl: new (address: string | URL, protocols?: string | string[]) => WebSocket;
  counter: { opened: number };
} {
  const counter = { opened: 0 };
  class CountingWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols);
      counter.opened++;
    }
  }
  return { WebSocketImpl: CountingWebSocket, counter };
}

export interface LiveGateway {
  readonly url: string;
  readonly emulator: Emulator;
  gateway: Gateway;
  /** `wan_live_subscriptions` from /metrics. */
  liveSubscriptions(): Promise<number>;
  /** Stops the gateway and starts it again on the same port and database: every socket drops. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface LiveGatewayOptions {
  /** The emulator's time scale: 20 runs its tasks twenty times faster than Novita. */
  timeScale?: number;
}

export async function startLiveGateway(
  env: Record<string, string> = {},
  options: LiveGatewayOptions = {},
): Promise<LiveGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'wan-hooks-test-'));
  // The run's video directory, where the videos the tests wait for are already rendered.
  const emulator = await startEmulator({
    timeScale: options.timeScale ?? 20,
    storageDir: inject('videoDir'),
  });
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const configOn = (port: number) =>
    readConfig({
      PORT: String(port),
      NOVITA_API_KEY: 'hooks-test-novita-key',
      NOVITA_BASE_URL: emulator.url,
      DATABASE_PATH: join(dir, 'db.sqlite'),
      LOG_LEVEL: 'warn',
      ...env,
    });
  const make = (port: number) =>
    createGateway(configOn(port), { logDestination: sink, pollPolicy: FAST_POLL });
  // The first start takes a free port itself (no port picked in advance that another process
  // could take meanwhile); a restart takes the same one back, so the clients find it again.
  const first = make(0);
  await first.start();
  const base = first.url;
  const port = Number(new URL(base).port);
  const live: LiveGateway = {
    url: `${base}/graphql`,
    emulator,
    gateway: first,
    async liveSubscriptions() {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('wan_live_subscriptions '));
      return Number(line?.split(' ')[1] ?? Number.NaN);
    },
    async restart() {
      await live.gateway.stop();
      live.gateway = make(port);
      await live.gateway.start();
    },
    async stop() {
      await live.gateway.stop();
      await emulator.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return live;
}
