/**
 * Runs one gateway in a process of its own, so that the load generator (or the watchers) and
 * the gateway do not share an event loop. `common.ts` forks it: the environment the
 * gateway reads comes as JSON in argv[2] (and nothing else of this process's environment), the
 * URL goes back over IPC as `{ url }`, and the gateway stops when the parent sends `'close'` or
 * goes away. No custom poll policy: the product as shipped. Its JSON log goes to stdout.
 *
 * For the mutation benchmark it also watches its own event loop
 * (`monitorEventLoopDelay({ resolution: 10 })`) and CPU time: `'stats:reset'` starts a window
 * (answered `{ statsReset: true }`), `'stats:read'` answers `{ stats }` for the window so far.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createGateway, readConfig } from '@wan-video/gateway';

if (process.send === undefined) throw new Error('start this file with child_process.fork');

const env = JSON.parse(process.argv[2] ?? '{}') as Record<string, string>;
const gateway = createGateway(readConfig(env));
await gateway.start();

/** Node records each whole interval between its timer's ticks: the delay is what exceeds it. */
const RESOLUTION_MS = 10;
/** Enabled at the first `'stats:reset'`: a child that is never asked runs no extra timer. */
const loopDelay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
let cpuAtReset = process.cpuUsage();
/** When the window started, in µs of `process.hrtime` (the clock of a `--cpu-prof` profile). */
let startedUs = process.hrtime.bigint() / 1000n;
const lateness = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);

let stopping: Promise<void> | undefined;
const stop = (): Promise<void> => {
  stopping ??= gateway.stop();
  return stopping;
};

process.on('message', (message) => {
  if (message === 'stats:reset') {
    loopDelay.enable();
    loopDelay.reset();
    cpuAtReset = process.cpuUsage();
    startedUs = process.hrtime.bigint() / 1000n;
    process.send?.({ statsReset: true });
  } else if (message === 'stats:read') {
    const cpu = process.cpuUsage(cpuAtReset);
    process.send?.({
      stats: {
        loopDelayP50Ms: lateness(loopDelay.percentile(50)),
        loopDelayP99Ms: lateness(loopDelay.percentile(99)),
        loopDelayMaxMs: lateness(loopDelay.max),
        cpuMs: (cpu.user + cpu.system) / 1000,
        startedUs: Number(startedUs),
        endedUs: Number(process.hrtime.bigint() / 1000n),
      },
    });
  } else if (message === 'close') {
    void stop().then(() => {
      process.disconnect();
      // Idle keep-alive sockets to the upstream may hold the loop open a while: do not wait for them.
      setTimeout(() => process.exit(0), 500).unref();
    });
  }
});
process.on('disconnect', () => void stop());
process.send({ url: gateway.url });
