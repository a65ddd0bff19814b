import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql';
import type { OperationResult, SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Auth } from './auth.js';
import type { GatewayContext } from './builder.js';
import { createFanout, type FanoutSocket, groupKey, withTap } from './fanout.js';
import type { RequestGuard } from './http/security.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { guardSends, isDone, nextTurn } from './websocket-backpressure.js';

/** Subscriptions (and other operations) one WebSocket may have open at once. */
export const MAX_OPERATIONS_PER_SOCKET = 100;

/**
 * Close code for a gateway going away on purpose (a restart or a rolling deploy): graphql-ws
 * clients reconnect on it with their default settings, and resubscribe.
 */
export const CLOSE_RESTARTING = 1012;

/**
 * What `onSubscribe` puts in `rootValue`: yoga's enveloped execute and subscribe, and the
 * operation's socket, id and payload, for the fan-out to group it by.
 */
interface Operation {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
  socket: WebSocket;
  id: string;
  payload: SubscribePayload;
}

export interface WebSocketOptions {
  readonly server: Server;
  // biome-ignore lint/suspicious/noExplicitAny: yoga's server context type is not needed here
  readonly yoga: YogaServerInstance<any, GatewayContext>;
  readonly auth: Auth;
  readonly metrics: Metrics;
  readonly maxMessageBytes: number;
  /** Whether new sockets are accepted (false once shutdown began). */
  readonly accepting: () => boolean;
  /** Refuses upgrades from a foreign Host or page origin (see `http/security.ts`). */
  readonly guard?: RequestGuard;
  /** Told when a client too slow to read its answers is closed. */
  readonly logger?: Logger;
}

/**
 * graphql-ws on `/graphql`, over yoga's schema and plugins: auth in `connection_init`, at most
 * `MAX_OPERATIONS_PER_SOCKET` operations per socket, and a bad operation fails alone rather than
 * closing the socket.
 */
export function attachWebSockets(options: WebSocketOptions): {
  readonly wss: WebSocketServer;
  /** Closes every socket with `CLOSE_RESTARTING`, then cuts off those that do not answer. */
  closeAll(graceMs: number): Promise<void>;
} {
  const { server, yoga, auth, metrics } = options;
  /** Each WebSocket's TCP socket: the fan-out corks it while it sends a change to a group. */
  const transports = new WeakMap<FanoutSocket, Socket>();
  const fanout = createFanout({ metrics, transportOf: (ws) => transports.get(ws) });
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes });
  server.on('upgrade', (req, socket: Socket, head) => {
    if (options.guard?.refuseUpgrade(req, socket)) return;
    const path = new URL(req.url ?? '/', 'http://gateway.invalid').pathname;
    if (path !== '/graphql' || !options.accepting()) {
      socket.end(
        options.accepting()
          ? 'HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n'
          : 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n',
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  wss.on('connection', (ws, req) => {
    transports.set(ws, req.socket);
    metrics.webSockets.inc();
    ws.once('close', () => metrics.webSockets.dec());
    // A client that does not read is closed (4008) once 4 MiB wait for it, not buffered forever.
    guardSends(ws, {
      onTooSlow: (bufferedBytes) =>
        options.logger?.warn({ bufferedBytes }, 'closed a WebSocket whose client read too slowly'),
    });
  });
  const operationsOf = (extra: unknown): Set<string> => {
    const holder = extra as { operations?: Set<string> };
    holder.operations ??= new Set<string>();
    return holder.operations;
  };
  useServer(
    {
      onConnect: (ctx) => {
        try {
          auth.callerFor(ctx.connectionParams?.authorization);
          return true;
        } catch {
          return false;
        }
      },
      execute: (args) => (args.rootValue as Operation).execute(args),
      // Subscriptions with the same caller, document and variables share one source and one
      // execution per change; each result is sent to all of them as one pre-serialised frame.
      subscribe: (args) => {
        const operation = args.rootValue as Operation;
        const context = args.contextValue as GatewayContext;
        // A replica whose event bus is down refuses new subscriptions (UPSTREAM_UNAVAILABLE):
        // each subscriber gets that refusal from its own execution, even if a group is live.
        if (context.events.ready() !== true) return operation.subscribe(args);
        const { query, operationName, variables } = operation.payload;
        return fanout.join(
          groupKey(`${context.caller.id} ${context.origin}`, query, operationName, variables),
          operation.socket,
          operation.id,
          (tap) => operation.subscribe({ ...args, contextValue: withTap(context, tap) }),
        );
      },
      onSubscribe: async (ctx, id, payload) => {
        const open = operationsOf(ctx.extra);
        // Counted before any await: a burst of subscribes cannot slip past the cap.
        if (open.size >= MAX_OPERATIONS_PER_SOCKET) {
          return [
            new GraphQLError(
              `At most ${MAX_OPERATIONS_PER_SOCKET} operations at once on one connection.`,
              { extensions: { code: 'RATE_LIMITED', limit: 'operations_per_connection' } },
            ),
          ];
        }
        open.add(id);
        // One operation of a socket starts per event-loop turn: a burst cannot block the process.
        await nextTurn(ctx.extra.socket);
        if (isDone(ctx.extra.socket)) {
          open.delete(id);
          return [
            new GraphQLError('The connection is closing.', { extensions: { code: 'BAD_REQUEST' } }),
          ];
        }
        const enveloped = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          connectionParams: ctx.connectionParams ?? {},
        });
        let document: DocumentNode;
        try {
          document = enveloped.parse(payload.query);
          const errors = enveloped.validate(enveloped.schema, document);
          if (errors.length > 0) {
            open.delete(id);
            return errors;
          }
        } catch (error) {
          open.delete(id);
          // The parser and graphql-armor's rules throw: an error for this operation, not for the
          // socket (graphql-ws closes the whole connection with 4500 on anything thrown here).
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        let contextValue: unknown;
        try {
          contextValue = await enveloped.contextFactory();
        } catch (error) {
          open.delete(id);
          throw error;
        }
        return {
          schema: enveloped.schema,
          operationName: payload.operationName ?? null,
          document,
          variableValues: payload.variables ?? null,
          contextValue,
          rootValue: {
            execute: enveloped.execute,
            subscribe: enveloped.subscribe,
            socket: ctx.extra.socket,
            id,
            payload,
          } satisfies Operation,
        } satisfies ExecutionArgs;
      },
      onComplete: (ctx, id) => {
        operationsOf(ctx.extra).delete(id);
      },
      onError: (ctx, id) => {
        operationsOf(ctx.extra).delete(id);
      },
    },
    wss,
  );
  return {
    wss,
    async closeAll(graceMs) {
      for (const ws of wss.clients) ws.close(CLOSE_RESTARTING, 'The gateway is restarting');
      if (wss.clients.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          const check = () => {
            if (wss.clients.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          };
          for (const ws of wss.clients) ws.once('close', check);
        });
      }
      // A peer that does not answer the close handshake is cut off.
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
