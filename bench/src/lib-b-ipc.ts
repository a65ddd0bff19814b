/**
 * Request and answer over a forked child's IPC channel, for the fan-out benchmark's child
 * processes (`lib-b-*-process.ts`). The parent sends `{ id, type, payload }`; the child answers
 * `{ id, ok: true, result }` or `{ id, ok: false, error }`. The channel uses the `advanced`
 * serialization, so typed arrays cross it as they are. The child's first message is
 * `{ ready: ... }` (its URL, say).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

interface Request {
  readonly id: number;
  readonly type: string;
  readonly payload: unknown;
}

type Answer =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

export interface ChildHandle<Ready> {
  readonly process: ChildProcess;
  /** What the child sent when it was ready. */
  readonly ready: Ready;
  request<T>(type: string, payload?: unknown): Promise<T>;
  /** Asks the child to close (`type: 'close'`), then kills it if it has not exited in 5 s. */
  close(): Promise<void>;
}

/**
 * Forks `file` (a sibling of this module) with this process's `execArgv` plus `extraExecArgv`,
 * `args` as argv[2] (JSON), and waits for its `{ ready }` message. The child's stdout goes to
 * this process's stderr, so that a child's log never mixes with the markdown on stdout.
 */
export async function forkChild<Ready>(
  file: string,
  args: unknown,
  extraExecArgv: readonly string[] = [],
): Promise<ChildHandle<Ready>> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [JSON.stringify(args)], {
    execArgv: [...process.execArgv, ...extraExecArgv],
    serialization: 'advanced',
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  child.stdout?.pipe(process.stderr);
  const exited = once(child, 'exit');
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let nextId = 1;
  let readyResolve: (value: Ready) => void = () => {};
  const readyPromise = new Promise<Ready>((resolve) => {
    readyResolve = resolve;
  });
  child.on('message', (message: Answer | { ready: Ready }) => {
    if ('ready' in message) {
      readyResolve(message.ready);
      return;
    }
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.ok) waiter.resolve(message.result);
    else waiter.reject(new Error(`${file}: ${message.error}`));
  });
  void exited.then(([code, signal]) => {
    for (const waiter of pending.values()) {
      waiter.reject(new Error(`${file} exited (${String(code ?? signal)})`));
    }
    pending.clear();
  });
  const ready = await Promise.race([
    readyPromise,
    exited.then(([code]) => {
      throw new Error(`${file} exited (${String(code)}) before it was ready`);
    }),
  ]);
  return {
    process: child,
    ready,
    request<T>(type: string, payload?: unknown): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
        child.send({ id, type, payload } satisfies Request);
      });
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      if (child.connected) {
        const id = nextId++;
        child.send({ id, type: 'close', payload: undefined } satisfies Request);
      }
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * In a child: answers the parent's requests with `handlers`, then sends `{ ready }`. `close`
 * runs on a `close` request or when the parent goes away; the process then disconnects.
 */
export function serve(
  handlers: Record<string, (payload: never) => unknown>,
  ready: unknown,
  close: () => Promise<void>,
): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('start this file with child_process.fork');
  let closing: Promise<void> | undefined;
  const stop = () => {
    closing ??= close();
    return closing;
  };
  process.on('message', (message: Request) => {
    if (message.type === 'close') {
      void stop().then(() => {
        process.disconnect();
        // Idle keep-alive sockets may hold the loop open a while: do not wait for them.
        setTimeout(() => process.exit(0), 500).unref();
      });
      return;
    }
    const handler = handlers[message.type];
    if (!handler) {
      send({ id: message.id, ok: false, error: `no handler for ${message.type}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.payload as never))
      .then(
        (result) => send({ id: message.id, ok: true, result } satisfies Answer),
        (error: unknown) =>
          send({
            id: message.id,
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          } satisfies Answer),
      );
  });
  process.on('disconnect', () => {
    void stop().then(() => setTimeout(() => process.exit(0), 500).unref());
  });
  send({ ready });
}
