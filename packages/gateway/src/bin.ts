#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, configVariables, readConfig } from './config.js';

const NAME = 'wan-video-gateway';

/** The package's version: the nearest `@wan-video/gateway` package.json above this file. */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === '@wan-video/gateway' && typeof pkg.version === 'string') return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

/** `--help`: the configuration table, from the one `readConfig` reads (see `CONFIG_VARIABLES`). */
function helpText(): string {
  const rows = configVariables();
  const width = Math.max(...rows.map((row) => row.name.length));
  return [
    `Usage: ${NAME} [--help] [--version]`,
    '',
    "The wan-video GraphQL gateway in front of Novita's Wan 2.1 text-to-video API (the embedded",
    'emulator when NOVITA_API_KEY is unset). It takes no arguments: every setting is an environment',
    'variable, read at start; a bad value stops it with a message naming the variable (exit 2).',
    '',
    'Environment variables:',
    ...rows.map(
      (row) =>
        `  ${row.name.padEnd(width)}  ${row.meaning}\n  ${''.padEnd(width)}  default: ${row.default}`,
    ),
    '',
    'Options:',
    '  -h, --help     print this help and exit',
    '  -V, --version  print the version and exit',
    '',
    'Exit codes: 0 stopped cleanly (SIGTERM, SIGINT), 1 could not start or shut down in time,',
    '2 bad configuration or arguments.',
    '',
  ].join('\n');
}

// Arguments first, before anything starts: --help and --version print and exit, anything else
// is a usage error. Node's own parser reads them; the gateway is only imported afterwards.
const known = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;
const { values, tokens } = parseArgs({ options: known, strict: false, tokens: true });
for (const token of tokens) {
  const problem =
    token.kind === 'positional'
      ? `unexpected argument '${token.value}'`
      : token.kind === 'option' && !Object.hasOwn(known, token.name)
        ? `unknown option '${token.rawName}'`
        : token.kind === 'option' && token.value !== undefined
          ? `option '${token.rawName}' takes no value`
          : undefined;
  if (problem) {
    process.stderr.write(`${NAME}: ${problem} (see ${NAME} --help)\n`);
    process.exit(2);
  }
}
if (values.help) {
  process.stdout.write(helpText());
  process.exit(0);
}
if (values.version) {
  process.stdout.write(`${packageVersion()}\n`);
  process.exit(0);
}

const [{ default: pino }, { createGateway }, { routeConsoleTo }] = await Promise.all([
  import('pino'),
  import('./app.js'),
  import('./logger.js'),
]);

let config: ReturnType<typeof readConfig>;
try {
  config = readConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`${NAME}: ${error.message}`);
    process.exit(2);
  }
  throw error;
}

const gateway = createGateway(config, {
  logDestination: pino.destination({ dest: 1, sync: true }),
});
const { logger } = gateway;
// stdout carries JSON log lines and nothing else: what libraries print with `console`, Node's
// warnings and anything thrown out of the process are logged as JSON too.
routeConsoleTo(logger);
process.removeAllListeners('warning'); // Node's own listener prints them as text to stderr
process.on('warning', (warning) => logger.warn({ err: warning }, warning.message));
const die = (what: string) => (error: unknown) => {
  logger.fatal({ err: error }, what);
  process.exit(1);
};
process.on('uncaughtException', die('uncaught exception'));
process.on('unhandledRejection', die('unhandled promise rejection'));

try {
  await gateway.start();
} catch (error) {
  logger.fatal({ err: error }, 'the gateway could not start');
  // The reason on stderr too, as a configuration error is: "database in use" needs no JSON reader.
  process.stderr.write(
    `wan-video-gateway: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
}
// The banner goes to stderr: stdout carries JSON log lines and nothing else.
process.stderr.write(
  `\n${config.playgroundDir ? `  playground: ${gateway.url}/\n` : ''}  GraphQL:    ${gateway.graphqlUrl} (GraphiQL: open it in a browser)\n\n`,
);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, shutdownTimeoutMs: config.shutdownTimeoutMs }, 'shutting down');
    // Whatever the upstream, Postgres or Redis are doing, the process is gone by then: what is
    // unfinished resumes at the next start.
    setTimeout(() => {
      logger.error(
        { shutdownTimeoutMs: config.shutdownTimeoutMs },
        'shutdown took longer than SHUTDOWN_TIMEOUT_MS: exiting now',
      );
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
