#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { EXIT_CODES } from './exit-codes.js';
import { run } from './program.js';

/** This package's version: the nearest `@wan-video/cli` package.json above this file. */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === '@wan-video/cli' && typeof pkg.version === 'string') return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

// Ctrl-C stops requests and leaves a followed task running in the gateway; a second one exits now.
const interrupt = new AbortController();
process.once('SIGINT', () => {
  interrupt.abort();
  process.once('SIGINT', () => process.exit(EXIT_CODES.interrupted));
});

const code = await run({
  args: process.argv.slice(2),
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  signal: interrupt.signal,
  webSocketImpl: WebSocket,
  version: packageVersion(),
});
// Everything written to stdout and stderr is flushed before exiting (pipes and files are
// synchronous here; a terminal is too), and nothing left open keeps the process alive.
process.exit(code);
