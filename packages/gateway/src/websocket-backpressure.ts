import type { WebSocket } from 'ws';

/**
 * Close code for a client that does not read its answers fast enough: its send buffer passed
 * `MAX_BUFFERED_BYTES`. Outside graphql-ws's own codes (44xx, 4500), so graphql-ws clients treat
 * it as retryable: they reconnect with their backoff and resubscribe (a subscription starts with
 * the task's current state, so nothing is lost but the backlog).
 */
export const CLOSE_TOO_SLOW = 4008;

/** Bytes a socket may have queued, unsent, before its client counts as too slow. */
export const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

/** How long a too-slow client has to read up to the close frame before it is cut off. */
export const TOO_SLOW_GRACE_MS = 5000;

interface SocketState {
  /** The socket's client is too slow: nothing more is queued for it. */
  slow: boolean;
  /** The last turn handed out: the next operation starts one event-loop turn after it. */
  turn: Promise<void>;
}

const states = new WeakMap<WebSocket, SocketState>();

export interface GuardOptions {
  /** @default MAX_BUFFERED_BYTES */
  readonly maxBufferedBytes?: number;
  /** @default TOO_SLOW_GRACE_MS */
  readonly graceMs?: number;
  /** Told once, when the socket is found too slow (for a log line). */
  readonly onTooSlow?: (bufferedBytes: number) => void;
}

/**
 * Bounds what one socket can make the process hold: once more than `maxBufferedBytes` wait
 * unsent, the socket is closed with `CLOSE_TOO_SLOW` (queued after its backlog), anything more
 * for it is dropped rather than queued, and it is cut off after `graceMs` if its client still has
 * not read up to the close. A send never fails its caller: graphql-ws would print a stack trace
 * for each message of a socket that went away, and an operation has nothing to do about it.
 */
export function guardSends(ws: WebSocket, options: GuardOptions = {}): void {
  const max = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  const state: SocketState = { slow: false, turn: Promise.resolve() };
  states.set(ws, state);
  const send = ws.send.bind(ws) as (
    data: unknown,
    options: object,
    callback?: (error?: Error) => void,
  ) => void;
  const guarded = (
    data: unknown,
    optionsOrCallback?: object | ((error?: Error) => void),
    maybeCallback?: (error?: Error) => void,
  ): void => {
    const callback = typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback;
    const sendOptions = typeof optionsOrCallback === 'function' ? {} : (optionsOrCallback ?? {});
    if (state.slow || ws.readyState !== ws.OPEN) {
      callback?.();
      return;
    }
    // Without a callback none is passed on: Node then batches the after-write work of a socket's
    // consecutive writes, where a closure per send cost a tick per frame (about a quarter of a
    // frame's CPU in a fan-out to thousands of subscribers).
    if (callback) send(data, sendOptions, () => callback());
    else send(data, sendOptions);
    if (ws.bufferedAmount > max) {
      state.slow = true;
      options.onTooSlow?.(ws.bufferedAmount);
      ws.close(CLOSE_TOO_SLOW, 'Too slow: answers were not read');
      setTimeout(() => ws.terminate(), options.graceMs ?? TOO_SLOW_GRACE_MS).unref();
    }
  };
  ws.send = guarded as WebSocket['send'];
}

/** Whether nothing more should be done for this socket (it is closing, or its client too slow). */
export function isDone(ws: WebSocket): boolean {
  return states.get(ws)?.slow === true || ws.readyState !== ws.OPEN;
}

/**
 * Resolves on a later turn of the event loop than the previous call for the same socket: a
 * burst of operations on one socket starts one per turn, with other sockets' and HTTP requests'
 * I/O in between, instead of all in one turn that blocks the process.
 */
export function nextTurn(ws: WebSocket): Promise<void> {
  let state = states.get(ws);
  if (!state) {
    state = { slow: false, turn: Promise.resolve() };
    states.set(ws, state);
  }
  const turn = state.turn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
  state.turn = turn;
  return turn;
}
