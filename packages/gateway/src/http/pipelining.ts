import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Unanswered requests one HTTP/1.1 connection may have at once. Browsers and HTTP clients send
 * the next request on a connection after the answer to the last one; only pipelining has more.
 * Node parses every pipelined request it has read and runs each at once, holding its answer in
 * memory until the ones before it are written: a client that pipelines hundreds of requests and
 * reads nothing would make the process hold hundreds of answers.
 */
export const MAX_PIPELINED_REQUESTS = 8;

/** Bytes an HTTP connection may have waiting unsent before a new request on it is refused. */
export const MAX_UNSENT_BYTES = 4 * 1024 * 1024;

export interface PipelineGuard {
  /**
   * Counts `req` against its connection. `true` when the connection has too many answers waiting
   * (or too many bytes its client has not read): it is then closed, and nothing should run.
   */
  refuse(req: IncomingMessage, res: ServerResponse): boolean;
}

/** Bounds what one HTTP connection can make the process compute and hold for it. */
export function createPipelineGuard(
  options: {
    readonly maxPipelined?: number;
    readonly maxUnsentBytes?: number;
    /** Told when a connection is closed, for a log line. */
    readonly onRefuse?: (why: { pipelined: number; unsentBytes: number }) => void;
  } = {},
): PipelineGuard {
  const maxPipelined = options.maxPipelined ?? MAX_PIPELINED_REQUESTS;
  const maxUnsent = options.maxUnsentBytes ?? MAX_UNSENT_BYTES;
  const inFlight = new WeakMap<Socket, number>();
  return {
    refuse(req, res) {
      const socket = req.socket;
      const pipelined = (inFlight.get(socket) ?? 0) + 1;
      if (pipelined > maxPipelined || socket.writableLength > maxUnsent) {
        options.onRefuse?.({ pipelined, unsentBytes: socket.writableLength });
        socket.destroy();
        return true;
      }
      inFlight.set(socket, pipelined);
      res.once('close', () => inFlight.set(socket, (inFlight.get(socket) ?? 1) - 1));
      return false;
    },
  };
}
