/**
 * The CLI against a gateway that requires client keys (GATEWAY_API_KEYS): the key from
 * WAN_VIDEO_API_KEY or --key goes as `Authorization: Bearer` over HTTP and as
 * `connectionParams.authorization` over the WebSocket; without it the gateway's UNAUTHENTICATED
 * is exit 4; and the key is never printed, whatever happens.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli-process.js';
import { startTestGateway, type TestGateway } from './support/gateway.js';

const KEY = 'cli-test-key-8f3a91c2';
const WRONG = 'wrong-key-5d7e0b44';
let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway({ GATEWAY_API_KEYS: `${KEY},another-key-123456` });
});
afterAll(async () => {
  await gateway?.close();
});

/** Nothing the CLI wrote holds a key. */
function expectNoKey(run: { stdout: string; stderr: string }) {
  for (const key of [KEY, WRONG]) {
    expect(run.stdout).not.toContain(key);
    expect(run.stderr).not.toContain(key);
  }
}

describe('wan-video with client keys', () => {
  it('without a key, the gateway refuses: UNAUTHENTICATED, exit 4', async () => {
    const run = await runCli(['--url', gateway.url, 'list']);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^wan-video: .+ \(UNAUTHENTICATED\)\n$/);
    const json = await runCli([
      '--url',
      gateway.url,
      '--json',
      'generate',
      'a cat',
      '--seed',
      '42',
    ]);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'UNAUTHENTICATED', exitCode: 4 });
  });

  it('a wrong key is refused (exit 4) and never printed, from --key or the environment', async () => {
    for (const run of [
      await runCli(['--url', gateway.url, '--key', WRONG, 'status', 'x']),
      await runCli(['--url', gateway.url, `--key=${WRONG}`, '--json', 'list']),
      await runCli(['--url', gateway.url, 'generate', 'a cat', '--wait'], {
        env: { WAN_VIDEO_API_KEY: WRONG },
      }),
    ]) {
      expect(run.code, run.stderr).toBe(4);
      expect(run.stderr).toContain('UNAUTHENTICATED');
      expectNoKey(run);
    }
  });

  it('WAN_VIDEO_API_KEY works over HTTP and WebSocket (generate --wait), and is never printed', async () => {
    const run = await runCli(['generate', 'an owl at dusk', '--seed', '42', '--wait', '--json'], {
      env: { WAN_VIDEO_API_KEY: KEY, WAN_VIDEO_URL: gateway.url },
    });
    expect(run.code, run.stderr).toBe(0);
    const last = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '');
    expect(last.status).toBe('SUCCEEDED');
    expectNoKey(run);
    // --key works too, and the task is this key's: listed with it.
    const listed = await runCli(['--url', gateway.url, '--key', KEY, '--json', 'list']);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).tasks.map((task: { id: string }) => task.id)).toContain(
      last.id,
    );
    expectNoKey(listed);
    // Another key does not see it: NOT_FOUND, exit 4.
    const other = await runCli(['--url', gateway.url, 'status', last.id], {
      env: { WAN_VIDEO_API_KEY: 'another-key-123456' },
    });
    expect(other.code).toBe(4);
    expect(other.stderr).toContain('(NOT_FOUND)');
  });
});
