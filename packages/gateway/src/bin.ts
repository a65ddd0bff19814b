#!/usr/bin/env node
import pino from 'pino';
import { createGateway } from './app.js';
import { ConfigError, readConfig } from './config.js';

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
try {
  await gateway.start();
} catch (error) {
  gateway.logger.fatal({ err: error }, 'the gateway could not start');
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
    gateway.logger.info({ signal }, 'shutting down');
    gateway.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        gateway.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
