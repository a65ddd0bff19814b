/**
 * What both mutation-benchmark servers (`lib-a-gateway-process.ts`, `lib-a-floor-process.ts`)
 * do as forked children: answer the parent over IPC and watch their own event loop
 * (`monitorEventLoopDelay({ resolution: 10 })`) and CPU time. `'stats:reset'` starts a window
 * (answered `{ statsReset: true }`), `'stats:read'` answers `{ stats }` for the window so far,
 * `'close'` (or the parent going away) stops the server; `{ url }` is sent once it listens.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** Node records each whole interval between its timer's ticks: the delay is what exceeds it. */
const RESOLUTION_MS = 10;

export function serveParent(url: string, stopServer: () => Promise<void>): void {
  if (process.send === undefined) throw new Error('start this file with child_process.fork');
  /** Enabled at the first `'stats:reset'`: a child that is never asked runs no extra timer. */
  const loopDelay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  let cpuAtReset = process.cpuUsage();
  /** When the window started, in µs of `process.hrtime` (the clock of a `--cpu-prof` profile). */
  let startedUs = process.hrtime.bigint() / 1000n;
  const lateness = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopServer();
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
        // Idle keep-alive sockets may hold the loop open a while: do not wait for them.
        setTimeout(() => process.exit(0), 500).unref();
      });
    }
  });
  process.on('disconnect', () => void stop());
  process.send({ url });
}
