/**
 * The gateway under test in the fan-out benchmark, in a process of its own (forked by
 * `fanout.ts` with `--expose-gc`). argv[2] is JSON `{ env, pollPolicy }`: the environment the
 * gateway reads (and nothing else of this process's) and the tracker's poll policy. It sends
 * `{ ready: url }`, then answers over IPC (`lib-b-ipc.ts`):
 *
 * - `memory` `{ gc }`: `process.memoryUsage()`, after two full garbage collections if `gc`;
 * - `cpu`: `process.cpuUsage()`;
 * - `profileStart` / `profileStop`: a CPU profile of this process (the inspector's sampling
 *   profiler), summarised as the `top` functions with the most self time, and the self time of
 *   every code area (a package, Node's internals, native code, the garbage collector, idle).
 */
import { Session } from 'node:inspector/promises';
import { createGateway, readConfig } from '@wan-video/gateway';
import { serve } from './lib-b-ipc.js';

const { env, pollPolicy } = JSON.parse(process.argv[2] ?? '{}') as {
  env: Record<string, string>;
  pollPolicy?: { minIntervalMs: number; maxIntervalMs: number };
};
const gateway = createGateway(readConfig(env), pollPolicy ? { pollPolicy } : {});
await gateway.start();

const gc = (globalThis as { gc?: () => void }).gc;
let session: Session | undefined;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Where a script URL belongs: a package, Node itself, or the gateway's own code. */
function area(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const modules = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules?.[1]) return modules[1];
  const own = /packages\/([^/]+)\//.exec(url);
  if (own?.[1]) return `@wan-video/${own[1]}`;
  return url.replace(/^file:\/\//, '');
}

serve(
  {
    memory: ({ gc: collect }: { gc: boolean }) => {
      if (collect) {
        if (!gc) throw new Error('start the gateway process with --expose-gc');
        gc();
        gc();
      }
      return process.memoryUsage();
    },
    cpu: () => process.cpuUsage(),
    profileStart: async () => {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 200 });
      await session.post('Profiler.start');
    },
    profileStop: async ({ top }: { top: number }) => {
      if (!session) throw new Error('no profile running');
      const { profile } = (await session.post('Profiler.stop')) as {
        profile: {
          nodes: ProfileNode[];
          samples: number[];
          timeDeltas: number[];
          startTime: number;
          endTime: number;
        };
      };
      session.disconnect();
      session = undefined;
      const byId = new Map(profile.nodes.map((node) => [node.id, node]));
      const self = new Map<number, number>();
      profile.samples.forEach((id, i) => {
        self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
      });
      const total = profile.endTime - profile.startTime;
      const functions = new Map<string, number>();
      const areas = new Map<string, number>();
      for (const [id, micros] of self) {
        const node = byId.get(id);
        if (!node) continue;
        const { functionName, url, lineNumber } = node.callFrame;
        const where = area(url, functionName);
        const name =
          where === functionName
            ? where
            : `${functionName || '(anonymous)'} (${where}${url ? `:${lineNumber + 1}` : ''})`;
        functions.set(name, (functions.get(name) ?? 0) + micros);
        areas.set(where, (areas.get(where) ?? 0) + micros);
      }
      const sorted = (map: Map<string, number>, count: number) =>
        [...map]
          .sort((a, b) => b[1] - a[1])
          .slice(0, count)
          .map(([name, micros]) => ({ name, ms: micros / 1000, share: micros / total }));
      return {
        totalMs: total / 1000,
        functions: sorted(functions, top),
        areas: sorted(areas, Number.POSITIVE_INFINITY),
      };
    },
  },
  gateway.url,
  () => gateway.stop(),
);
