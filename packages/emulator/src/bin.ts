#!/usr/bin/env node
import { readCli, USAGE, UsageError } from './cli.js';
import { startEmulator } from './server.js';

try {
  const options = readCli(process.argv.slice(2), process.env);
  if ('help' in options && options.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const emulator = await startEmulator(options);
  console.log(
    `wan-video emulator listening on ${emulator.url} (time scale ${options.timeScale ?? 1}; ` +
      `videos are procedural, not Wan output)`,
  );
  const stop = (signal: string) => {
    console.log(`${signal}: closing`);
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`wan-video-emulator: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(`wan-video-emulator: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
