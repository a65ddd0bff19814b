/**
 * The fan-out benchmark's baseline: a bare `ws` server, in a process of its own, that sends the
 * frame a graphql-ws subscriber gets (`{"id":…,"type":"next","payload":…}`) to every receiver
 * of a "task", with no GraphQL, no store and no subscription machinery in between. The payload
 * is serialised once per change; each receiver's frame is that string with its own id around
 * it, sent with one `ws.send` per receiver, as the gateway sends one frame per subscription.
 *
 * A load-generator socket registers its receivers with one text message,
 * `{"receivers":[[id, task], …]}`, answered with `ok`. `updatedAt` in the payload is
 * `Date.now()` taken just before the frames are sent, as the gateway stamps a change just
 * before it publishes it. Requests over IPC (`lib-b-ipc.ts`):
 *
 * - `cpu`: `process.cpuUsage()`;
 * - `burst` `{ task, template, count, intervalMs }`: `count` changes of one task;
 * - `spread` `{ tasks, template, durationMs, intervalMs, jitter }`: each task changes on its
 *   own timer, every `intervalMs` ± `jitter` share, for `durationMs`.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type WebSocket, WebSocketServer } from 'ws';
import { serve } from './lib-b-ipc.js';

type Receiver = readonly [ws: WebSocket, id: string];

/** Receivers by task, in the order they registered (the gateway fans out in subscribe order). */
const byTask = new Map<string, Receiver[]>();

const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
await new Promise<void>((resolve) => wss.once('listening', () => resolve()));

wss.on('connection', (ws) => {
  const mine: [string, Receiver][] = [];
  ws.on('message', (data) => {
    const { receivers } = JSON.parse(String(data)) as { receivers: [string, string][] };
    for (const [id, task] of receivers) {
      const receiver: Receiver = [ws, id];
      let list = byTask.get(task);
      if (!list) {
        list = [];
        byTask.set(task, list);
      }
      list.push(receiver);
      mine.push([task, receiver]);
    }
    ws.send('ok');
  });
  ws.on('close', () => {
    for (const [task, receiver] of mine) {
      const list = byTask.get(task);
      const at = list?.indexOf(receiver) ?? -1;
      if (list && at >= 0) list.splice(at, 1);
      if (list?.length === 0) byTask.delete(task);
    }
  });
});

/** One change of `task`: every receiver gets the same payload in its own frame. */
function broadcast(task: string, template: Record<string, unknown>): number {
  const now = Date.now();
  const payload = JSON.stringify({
    data: { videoTask: { ...template, id: task, updatedAt: new Date(now).toISOString() } },
  });
  const receivers = byTask.get(task) ?? [];
  for (const [ws, id] of receivers) ws.send(`{"id":"${id}","type":"next","payload":${payload}}`);
  return receivers.length;
}

serve(
  {
    cpu: () => process.cpuUsage(),
    burst: async (p: {
      task: string;
      template: Record<string, unknown>;
      count: number;
      intervalMs: number;
    }) => {
      let sent = 0;
      for (let i = 0; i < p.count; i++) {
        if (i > 0) await sleep(p.intervalMs);
        sent += broadcast(p.task, p.template);
      }
      return { frames: sent };
    },
    spread: async (p: {
      tasks: string[];
      template: Record<string, unknown>;
      durationMs: number;
      intervalMs: number;
      jitter: number;
    }) => {
      const end = performance.now() + p.durationMs;
      let frames = 0;
      let changes = 0;
      const wait = () => p.intervalMs * (1 + p.jitter * (2 * Math.random() - 1));
      await Promise.all(
        p.tasks.map(async (task) => {
          // Each task starts at a random point of its period, as the gateway's pollers do.
          await sleep(Math.random() * p.intervalMs);
          while (performance.now() < end) {
            frames += broadcast(task, p.template);
            changes++;
            await sleep(wait());
          }
        }),
      );
      return { frames, changes };
    },
  },
  `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
  async () => {
    for (const ws of wss.clients) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  },
);
