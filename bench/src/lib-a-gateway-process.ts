/**
 * Runs one gateway in a process of its own, so that the load generator (or the watchers) and
 * the gateway do not share an event loop. `common.ts` forks it: the environment the
 * gateway reads comes as JSON in argv[2] (and nothing else of this process's environment), the
 * URL goes back over IPC as `{ url }`, and the gateway stops when the parent sends `'close'` or
 * goes away. No custom poll policy: the product as shipped. Its JSON log goes to stdout.
 */
import { createGateway, readConfig } from '@wan-video/gateway';

if (process.send === undefined) throw new Error('start this file with child_process.fork');

const env = JSON.parse(process.argv[2] ?? '{}') as Record<string, string>;
const gateway = createGateway(readConfig(env));
await gateway.start();

let stopping: Promise<void> | undefined;
const stop = (): Promise<void> => {
  stopping ??= gateway.stop();
  return stopping;
};

process.on('message', (message) => {
  if (message !== 'close') return;
  void stop().then(() => {
    process.disconnect();
    // Idle keep-alive sockets to the upstream may hold the loop open a while: do not wait for them.
    setTimeout(() => process.exit(0), 500).unref();
  });
});
process.on('disconnect', () => void stop());
process.send({ url: gateway.url });
