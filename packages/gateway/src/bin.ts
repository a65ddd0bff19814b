#!/usr/bin/env node
import pino from 'pino';
import { createGateway } from './app.js';
import { ConfigError, readConfig } from './config.js';
import { routeConsoleTo } from './logger.js';

let config: ReturnType<typeof readConfig>;
try {
  config = readConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`wan-video-gateway: ${error.message}`);
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
