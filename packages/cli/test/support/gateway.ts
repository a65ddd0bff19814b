/**
 * A real gateway for the CLI to talk to: a child process on a free port (test-utils'
 * `spawnGateway`, the one-file bundle of `src/bin.ts`), on its embedded emulator sped up, with a
 * database of its own in a temporary folder; stopped and removed by `close`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChildGateway, freePort, spawnGateway } from '@wan-video/test-utils/gateway-process';

export interface TestGateway {
  readonly process: ChildGateway;
  /** `http://127.0.0.1:PORT` (the CLI appends `/graphql`). */
  readonly url: string;
  /** The embedded emulator on the gateway's origin, its path from the startup log line. */
  readonly emulatorUrl: string;
  /** The sum of a `/metrics` series over its labels (0 when absent). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Replaces the emulator's faults (`POST /__emulator/faults`; `{}` clears them). */
  setFaults(faults: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export async function startTestGateway(env: Record<string, string> = {}): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'wan-cli-gateway-'));
  const gateway = await spawnGateway(await freePort(), {
    DATABASE_PATH: join(dir, 'tasks.db'),
    // 10 times faster: a task lasts about 2 s, long enough to be seen QUEUED and PROCESSING.
    EMULATOR_TIME_SCALE: '10',
    LOG_LEVEL: 'info',
    ...env,
  });
  // The embedded emulator is mounted on the gateway's own origin; the log names its path.
  const emulatorPath = gateway
    .logs()
    .find((record) => typeof record.emulator === 'string')?.emulator;
  const emulatorUrl =
    typeof emulatorPath === 'string' ? `${gateway.url}${emulatorPath}` : undefined;
  if (emulatorUrl === undefined) {
    await gateway.kill('SIGKILL');
    throw new Error(`no "emulator" in the gateway's log:\n${gateway.stdout.join('\n')}`);
  }
  return {
    process: gateway,
    url: gateway.url,
    emulatorUrl,
    async metric(name, labels = {}) {
      const text = await (await fetch(`${gateway.url}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        const match = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
        if (!match || match[1] !== name) continue;
        const found = Object.fromEntries(
          [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
        );
        if (Object.entries(labels).every(([key, value]) => found[key] === value)) {
          sum += Number(match[3]);
        }
      }
      return sum;
    },
    async setFaults(faults) {
      const response = await fetch(`${emulatorUrl}/__emulator/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(faults),
      });
      if (!response.ok) throw new Error(`faults refused: ${await response.text()}`);
    },
    async close() {
      await gateway.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
