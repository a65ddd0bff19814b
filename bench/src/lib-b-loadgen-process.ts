/**
 * The fan-out benchmark's load generator, in a process of its own (forked by `fanout.ts`). It
 * holds groups of WebSockets, either graphql-ws clients of the gateway (`graphql`, spoken by
 * hand on `ws`: no client library between the socket and the clock) or receivers of the bare
 * `ws` baseline (`plain`), and times every frame they receive. Requests over IPC
 * (`lib-b-ipc.ts`):
 *
 * - `open` `{ url, sockets, kind }` → a group id; graphql sockets are acknowledged
 *   (`connection_init` / `connection_ack`) before it answers;
 * - `subscribe` `{ group, plan }`: `plan[i]` lists the task of each subscription of socket `i`;
 *   answers once every subscription has had its first `next` (the task as it stands), or, for
 *   a plain group, once the server has registered every receiver;
 * - `record` / `stop` `{ group, from, to }`: between the two, each frame is only stamped and
 *   kept; `stop` parses them and gives the latency of every `next` whose `updatedAt` lies in
 *   [from, to] (epoch ms, `from` rounded down), and how many receivers each change reached;
 * - `unsubscribe` `{ group }`: a `complete` for every subscription;
 * - `cycles` `{ group, tasks, total }`: `total` subscribe / first `next` / `complete` cycles,
 *   spread over the group's sockets, each socket running its cycles one after the other;
 * - `closeGroup` `{ group }`.
 *
 * Clock: receipt times are `performance.timeOrigin + performance.now()` (sub-millisecond),
 * set onto `Date.now()`'s wall clock at the start of each recording (see `calibrate`), since
 * `updatedAt` comes from the other process's `Date.now()`.
 */
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType } from 'graphql-ws';
import WebSocket from 'ws';
import { serve } from './lib-b-ipc.js';

/**
 * The offset `e` that puts `performance.timeOrigin + performance.now()` (sub-millisecond) onto
 * the wall clock. `Date.now()` is the wall time rounded down to the millisecond, read here just
 * before the high-resolution clock `hr`, so `Date.now() - hr` is at most `e` however long the
 * gap between the two reads (a pause there only lowers it), and reaches it, to within the time
 * of one read, for a read just after a millisecond begins: the largest over 10 ms of reads is
 * `e`. `record` calibrates again, so that any drift between the two clocks does not add up.
 */
function calibrate(): number {
  let offset = Number.NEGATIVE_INFINITY;
  const end = performance.now() + 10;
  while (performance.now() < end) {
    const wall = Date.now();
    const difference = wall - (performance.timeOrigin + performance.now());
    if (difference > offset) offset = difference;
  }
  return offset;
}
let offset = calibrate();
const clock = () => performance.timeOrigin + performance.now() + offset;

const QUERY = `subscription Watch($id: ID!) {
  videoTask(id: $id) { id status progressPercent etaSeconds progressEstimated failureReason videos { url type expiresAt } updatedAt }
}`;

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

interface Connection {
  readonly ws: WebSocket;
  /** Subscriptions open on this socket: id → task. */
  readonly subscriptions: Map<string, string>;
  /** Subscriptions waiting for their first `next`, and the plain socket's registration. */
  readonly waiters: Map<string, Waiter>;
}

interface Group {
  readonly kind: 'graphql' | 'plain';
  readonly connections: Connection[];
  recording: boolean;
  times: number[];
  frames: Buffer[];
  /** Frames seen outside recording, by type. */
  readonly seen: Map<string, number>;
  readonly problems: string[];
}

const groups = new Map<number, Group>();
let nextGroup = 1;
let nextSubscription = 1;

function group(id: number): Group {
  const found = groups.get(id);
  if (!found) throw new Error(`no group ${id}`);
  return found;
}

function handle(g: Group, connection: Connection, text: string): void {
  if (g.kind === 'plain') {
    g.seen.set('ok', (g.seen.get('ok') ?? 0) + 1);
    if (text === 'ok') settle(connection, 'register');
    return;
  }
  const message = JSON.parse(text) as { type: string; id?: string; payload?: unknown };
  g.seen.set(message.type, (g.seen.get(message.type) ?? 0) + 1);
  switch (message.type) {
    case MessageType.ConnectionAck:
      settle(connection, 'ack');
      break;
    case MessageType.Next:
      if (message.id !== undefined) settle(connection, message.id);
      break;
    case MessageType.Error: {
      const why = `subscription ${message.id}: ${JSON.stringify(message.payload)}`;
      if (g.problems.length < 5) g.problems.push(why);
      if (message.id !== undefined) {
        connection.subscriptions.delete(message.id);
        settle(connection, message.id, new Error(why));
      }
      break;
    }
    case MessageType.Complete:
      if (message.id !== undefined) connection.subscriptions.delete(message.id);
      break;
  }
}

function settle(connection: Connection, key: string, error?: Error): void {
  const waiter = connection.waiters.get(key);
  if (!waiter) return;
  connection.waiters.delete(key);
  if (error) waiter.reject(error);
  else waiter.resolve();
}

function waitFor(connection: Connection, key: string): Promise<void> {
  return new Promise((resolve, reject) => connection.waiters.set(key, { resolve, reject }));
}

function connect(g: Group, url: string): Promise<Connection> {
  const ws =
    g.kind === 'graphql'
      ? new WebSocket(url, GRAPHQL_TRANSPORT_WS_PROTOCOL, { perMessageDeflate: false })
      : new WebSocket(url, { perMessageDeflate: false });
  const connection: Connection = { ws, subscriptions: new Map(), waiters: new Map() };
  ws.on('message', (data: Buffer) => {
    // Stamp first: everything else a frame costs comes after its time is taken.
    const at = clock();
    if (g.recording) {
      g.times.push(at);
      g.frames.push(data);
      return;
    }
    handle(g, connection, data.toString());
  });
  ws.on('close', (code, reason) => {
    const why = new Error(`socket closed (${code} ${String(reason)})`);
    for (const key of [...connection.waiters.keys()]) settle(connection, key, why);
    if (code !== 1000 && code !== 1005 && g.problems.length < 5) g.problems.push(why.message);
  });
  return new Promise((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', (error) => {
        if (g.problems.length < 5) g.problems.push(error.message);
      });
      if (g.kind === 'plain') {
        resolve(connection);
        return;
      }
      waitFor(connection, 'ack').then(() => resolve(connection), reject);
      ws.send(JSON.stringify({ type: MessageType.ConnectionInit, payload: {} }));
    });
  });
}

function subscribeOne(connection: Connection, task: string): Promise<void> {
  const id = String(nextSubscription++);
  connection.subscriptions.set(id, task);
  const first = waitFor(connection, id);
  connection.ws.send(
    JSON.stringify({
      id,
      type: MessageType.Subscribe,
      payload: { query: QUERY, variables: { id: task } },
    }),
  );
  return first;
}

function completeAll(connection: Connection): number {
  const ids = [...connection.subscriptions.keys()];
  for (const id of ids) connection.ws.send(JSON.stringify({ id, type: MessageType.Complete }));
  connection.subscriptions.clear();
  return ids.length;
}

serve(
  {
    open: async (p: { url: string; sockets: number; kind: 'graphql' | 'plain' }) => {
      const g: Group = {
        kind: p.kind,
        connections: [],
        recording: false,
        times: [],
        frames: [],
        seen: new Map(),
        problems: [],
      };
      const id = nextGroup++;
      groups.set(id, g);
      // 50 handshakes at a time: a crowd of 400 at once only tests the accept queue.
      for (let i = 0; i < p.sockets; i += 50) {
        const batch = Math.min(50, p.sockets - i);
        g.connections.push(
          ...(await Promise.all(Array.from({ length: batch }, () => connect(g, p.url)))),
        );
      }
      return id;
    },
    subscribe: async (p: { group: number; plan: string[][] }) => {
      const g = group(p.group);
      const started = performance.now();
      const all: Promise<void>[] = [];
      p.plan.forEach((tasks, i) => {
        const connection = g.connections[i];
        if (!connection) throw new Error(`the plan has more sockets than group ${p.group}`);
        if (g.kind === 'plain') {
          all.push(waitFor(connection, 'register'));
          const receivers = tasks.map((task) => {
            const id = String(nextSubscription++);
            connection.subscriptions.set(id, task);
            return [id, task];
          });
          connection.ws.send(JSON.stringify({ receivers }));
        } else {
          for (const task of tasks) all.push(subscribeOne(connection, task));
        }
      });
      await Promise.all(all);
      return { ms: performance.now() - started, subscriptions: all.length };
    },
    record: (p: { group: number }) => {
      const g = group(p.group);
      g.times = [];
      g.frames = [];
      offset = calibrate();
      g.recording = true;
      return clock();
    },
    stop: (p: { group: number; from: number; to: number }) => {
      const g = group(p.group);
      g.recording = false;
      const latencies: number[] = [];
      const events = new Map<string, { task: string; at: number; count: number }>();
      let outside = 0;
      let other = 0;
      let estimates = 0;
      let sample: unknown;
      g.frames.forEach((frame, i) => {
        const message = JSON.parse(frame.toString()) as {
          type: string;
          payload?: {
            data?: { videoTask?: { id: string; updatedAt: string; progressEstimated?: boolean } };
          };
        };
        const task = message.type === MessageType.Next ? message.payload?.data?.videoTask : null;
        if (!task) {
          other++;
          if (g.problems.length < 5) g.problems.push(`unexpected frame: ${frame.toString()}`);
          return;
        }
        // The gateway's estimate between upstream reads (sent when 2.5 s pass without a change)
        // is no change: it carries the last change's `updatedAt`, so timing it would count that
        // change twice, 2.5 s late.
        if (task.progressEstimated) {
          estimates++;
          return;
        }
        const at = Date.parse(task.updatedAt);
        // `updatedAt` is rounded down to the millisecond: a change in the millisecond in which
        // recording began carries a time up to 1 ms before `from`.
        if (at < Math.floor(p.from) || at > p.to) {
          outside++;
          return;
        }
        sample ??= message.payload;
        latencies.push((g.times[i] ?? Number.NaN) - at);
        const key = `${task.id} ${at}`;
        const event = events.get(key) ?? { task: task.id, at, count: 0 };
        event.count++;
        events.set(key, event);
      });
      const frames = g.frames.length;
      g.times = [];
      g.frames = [];
      return {
        latencies: Float64Array.from(latencies),
        events: [...events.values()].sort((a, b) => a.at - b.at),
        frames,
        outside,
        other,
        estimates,
        sample,
        problems: g.problems.splice(0),
      };
    },
    unsubscribe: (p: { group: number }) => {
      const g = group(p.group);
      let count = 0;
      for (const connection of g.connections) count += completeAll(connection);
      return count;
    },
    cycles: async (p: { group: number; tasks: string[]; total: number }) => {
      const g = group(p.group);
      const started = performance.now();
      const each = Math.ceil(p.total / g.connections.length);
      let done = 0;
      await Promise.all(
        g.connections.map(async (connection, i) => {
          for (let k = 0; k < each && done < p.total; k++) {
            done++;
            await subscribeOne(connection, p.tasks[(i + k) % p.tasks.length] as string);
            completeAll(connection);
          }
        }),
      );
      return { ms: performance.now() - started, cycles: done };
    },
    closeGroup: async (p: { group: number }) => {
      const g = group(p.group);
      groups.delete(p.group);
      await Promise.all(
        g.connections.map(
          (connection) =>
            new Promise<void>((resolve) => {
              if (connection.ws.readyState === WebSocket.CLOSED) {
                resolve();
                return;
              }
              const timer = setTimeout(() => connection.ws.terminate(), 3000);
              connection.ws.once('close', () => {
                clearTimeout(timer);
                resolve();
              });
              connection.ws.close(1000);
            }),
        ),
      );
      return { seen: Object.fromEntries(g.seen), problems: g.problems };
    },
  },
  null,
  async () => {
    for (const g of groups.values())
      for (const connection of g.connections) connection.ws.terminate();
  },
);
