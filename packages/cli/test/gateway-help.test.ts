/**
 * The gateway's bin (`wan-video-gateway`, run from its one-file bundle of `src/bin.ts`) answers
 * --help with its configuration table, --version with its version, and exits 2 on an unknown
 * option, all without starting a server.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readConfig } from '@wan-video/gateway';
import { GATEWAY_DIR, runToExit } from '@wan-video/test-utils/gateway-process';
import { describe, expect, it } from 'vitest';
import { cliEnv } from './support/cli-process.js';

function runGateway(args: readonly string[]) {
  const bin = process.env.WAN_GATEWAY_TEST_BIN;
  if (!bin) throw new Error('WAN_GATEWAY_TEST_BIN is unset: the global setup did not run');
  // PORT would be taken if a server started; 0 is never "listening" on a fixed port anyway.
  return runToExit(process.execPath, ['--enable-source-maps', bin, ...args], {
    cwd: GATEWAY_DIR,
    env: cliEnv({ PORT: '0', DATABASE_PATH: '/nonexistent/dir/should-not-open.db' }),
  });
}

/**
 * Every variable `readConfig` reads, found by watching it read: a Proxy environment records
 * each name asked for. Independent of the table `--help` prints.
 */
function variablesReadConfigReads(): string[] {
  const asked = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get(_target, name) {
      if (typeof name === 'string') asked.add(name);
      return undefined;
    },
  });
  readConfig(env);
  return [...asked];
}

describe('wan-video-gateway --help', () => {
  it('prints every variable readConfig reads, with its default, and exits 0 without serving', async () => {
    const variables = variablesReadConfigReads();
    expect(variables).toContain('PORT');
    expect(variables.length).toBeGreaterThanOrEqual(20);
    for (const flag of ['--help', '-h']) {
      const run = await runGateway([flag]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toBe('');
      for (const name of variables) expect(run.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
      expect(run.stdout).toMatch(/^ +default: 4000$/m); // PORT's, from the schema
      // No server: no JSON log line (the gateway logs "listening" and its emulator when it starts).
      expect(run.stdout).not.toMatch(/^\{/m);
      expect(run.stdout).not.toContain('GraphQL:');
    }
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(join(GATEWAY_DIR, 'package.json'), 'utf8'));
    const printed = await runGateway(['--version']);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toBe(`${version}\n`);
  });

  it('an unknown option or an argument exits 2 with a message, starting nothing', async () => {
    const unknown = await runGateway(['--port', '8080']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(
      "wan-video-gateway: unknown option '--port' (see wan-video-gateway --help)\n",
    );
    expect(unknown.stdout).toBe('');
    const argument = await runGateway(['serve']);
    expect(argument.code).toBe(2);
    expect(argument.stderr).toContain("unexpected argument 'serve'");
  });
});
