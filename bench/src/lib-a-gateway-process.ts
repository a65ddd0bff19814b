/**
 * Runs one gateway in a process of its own, so that the load generator (or the watchers) and
 * the gateway do not share an event loop. `common.ts` forks it: the environment the
 * gateway reads comes as JSON in argv[2] (and nothing else of this process's environment), the
 * URL goes back over IPC as `{ url }`, and the gateway stops when the parent sends `'close'` or
 * goes away. No custom poll policy: the product as shipped. Its JSON log goes to stdout.
 *
 * For the mutation benchmark it also reports its event-loop delay and CPU time over a window
 * (`lib-a-child.ts`).
 */
import { createGateway, readConfig } from '@wan-video/gateway';
import { serveParent } from './lib-a-child.js';

if (process.send === undefined) throw new Error('start this file with child_process.fork');

const env = JSON.parse(process.argv[2] ?? '{}') as Record<string, string>;
const gateway = createGateway(readConfig(env));
await gateway.start();

serveParent(gateway.url, () => gateway.stop());
