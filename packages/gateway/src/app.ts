import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { sep } from 'node:path';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { type FetchLike, NovitaClient, type PollPolicy, TASK_RESULT_PATH } from '@wan-video/core';
import { type Emulator, type EmulatorOptions, startEmulator } from '@wan-video/emulator';
import { type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, type YogaInitialContext } from 'graphql-yoga';
import type { DestinationStream } from 'pino';
import send from 'send';
import { WebSocketServer } from 'ws';
import type { Caller, GatewayContext, GatewayInfo } from './builder.js';
import type { GatewayConfig } from './config.js';
import { gatewayError } from './errors.js';
import { TaskEvents } from './events.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { schema } from './schema/index.js';
import { sha256, VideoService } from './service.js';
import { SqliteTaskStore } from './store/sqlite.js';
import type { TaskStore } from './store/types.js';
import { TaskTracker } from './tracker.js';

export interface GatewayOptions {
  /** Where JSON logs go (stdout by default). */
  logDestination?: DestinationStream;
  /** How the tracker paces upstream reads (core's defaults otherwise). */
  pollPolicy?: Omit<PollPolicy, 'signal' | 'deadline' | 'initial' | 'onError'>;
  /**
   * In webhook mode, how long to wait for a task's webhook before polling it anyway.
   * @default 120000
   */
  webhookFallbackMs?: number;
  /** Options for the embedded emulator (when no NOVITA_API_KEY is set). */
  emulator?: Partial<EmulatorOptions>;
  /**
   * The largest HTTP request body accepted.
   * @default 65536
   */
  maxBodyBytes?: number;
  /**
   * The largest WebSocket message accepted.
   * @default 65536
   */
  maxMessageBytes?: number;
}

export interface Gateway {
  /** `http://host:port`, once started. */
  readonly url: string;
  readonly graphqlUrl: string;
  readonly wsUrl: string;
  /** Where the upstream is: Novita, or the embedded emulator. */
  readonly upstreamUrl: string;
  /** The embedded emulator, when there is one. */
  readonly emulator: Emulator | undefined;
  readonly logger: Logger;
  start(): Promise<void>;
  /** Stops accepting, closes sockets with 1001, stops trackers (tasks resume at next start), flushes the store. */
  stop(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const EMULATOR_KEY = 'wan-video-embedded-emulator';
/** Subscriptions (and other operations) one WebSocket may have open at once. */
const MAX_OPERATIONS_PER_SOCKET = 100;

/** Creates the gateway: one process serving GraphQL over HTTP, SSE and WebSocket. */
export function createGateway(config: GatewayConfig, options: GatewayOptions = {}): Gateway {
  const secrets = [config.novitaApiKey ?? '', ...config.gatewayApiKeys];
  const logger = createLogger({
    level: config.logLevel,
    secrets,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  let state:
    | {
        server: Server;
        wss: WebSocketServer;
        store: TaskStore;
        tracker: TaskTracker;
        service: VideoService;
        requests: RequestCounter;
        emulator: Emulator | undefined;
        url: string;
        upstreamUrl: string;
      }
    | undefined;

  const callers = new Map(
    config.gatewayApiKeys.map((key) => [sha256(key), { id: `client_${sha256(key).slice(0, 16)}` }]),
  );
  const authRequired = callers.size > 0;

  /** The caller an `Authorization: Bearer <key>` value stands for; throws UNAUTHENTICATED. */
  function callerFor(authorization: unknown): Caller {
    if (!authRequired) return { id: 'anonymous' };
    const match =
      typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
    const caller = match?.[1] ? callers.get(sha256(match[1])) : undefined;
    if (!caller) {
      throw gatewayError(
        'UNAUTHENTICATED',
        'Send a valid API key: Authorization: Bearer <key> (connectionParams.authorization over WebSocket).',
      );
    }
    return caller;
  }

  async function start(): Promise<void> {
    if (state) throw new Error('the gateway is already started');
    let emulator: Emulator | undefined;
    let upstreamUrl = config.novitaBaseUrl;
    let apiKey = config.novitaApiKey;
    if (!apiKey) {
      emulator = await startEmulator({
        port: 0,
        host: '127.0.0.1',
        timeScale: config.emulatorTimeScale,
        ...options.emulator,
      });
      upstreamUrl = emulator.url;
      apiKey = EMULATOR_KEY;
      logger.warn(
        { emulator: emulator.url, timeScale: config.emulatorTimeScale },
        'NOVITA_API_KEY is not set: running the embedded emulator. Videos are procedural, not Wan output.',
      );
    }

    const store = new SqliteTaskStore(config.databasePath);
    const metrics = createMetrics(() => store.countByStatus());
    const events = new TaskEvents();
    const client = new NovitaClient({
      apiKey,
      baseUrl: upstreamUrl,
      fetch: countingFetch(metrics),
    });
    const tracker = new TaskTracker({
      store,
      reader: client,
      events,
      logger,
      ...(options.pollPolicy ? { pollPolicy: options.pollPolicy } : {}),
      ...(options.webhookFallbackMs === undefined
        ? {}
        : { webhookFallbackMs: options.webhookFallbackMs }),
    });
    const service = new VideoService({
      store,
      client,
      tracker,
      events,
      logger,
      publicUrl: config.publicUrl,
      taskDeadlineMs: config.taskDeadlineMs,
      maxInFlightTasks: config.maxInFlightTasks,
      mutationsPerMinute: config.mutationsPerMinute,
    });
    const info: GatewayInfo = {
      emulated: emulator !== undefined,
      authRequired,
      webhooks: config.publicUrl !== undefined,
      maxInFlightTasks: config.maxInFlightTasks,
      mutationsPerMinute: config.mutationsPerMinute,
    };

    const yoga = createYoga<{ connectionParams?: Record<string, unknown> }, GatewayContext>({
      schema,
      graphqlEndpoint: '/graphql',
      landingPage: false,
      graphiql: { title: 'wan-video gateway', defaultQuery: EXAMPLE_OPERATIONS },
      // GraphiQL's assets are served from here, not a CDN: it works offline and behind firewalls.
      renderGraphiQL,
      logging: {
        debug: (...args) => logger.debug({ yoga: args }, 'yoga'),
        info: (...args) => logger.info({ yoga: args }, 'yoga'),
        warn: (...args) => logger.warn({ yoga: args }, 'yoga'),
        error: (...args) => logger.error({ yoga: args }, 'yoga'),
      },
      plugins: [
        EnvelopArmorPlugin({
          maxDepth: { n: 8 },
          maxAliases: { n: 15 },
          maxDirectives: { n: 20 },
          maxTokens: { n: 2000 },
          costLimit: { maxCost: 5000 },
          blockFieldSuggestion: { enabled: false },
        }),
      ],
      context: (initial: YogaInitialContext & { connectionParams?: Record<string, unknown> }) => {
        const authorization = initial.connectionParams
          ? initial.connectionParams.authorization
          : initial.request.headers.get('authorization');
        return { caller: callerFor(authorization), service, events, metrics, info };
      },
    });

    const probe = upstreamProbe(upstreamUrl, apiKey);
    const requests = new RequestCounter();
    const server = createServer((req, res) => {
      // Long-lived SSE streams are not "in flight": shutdown does not wait for them.
      if (!String(req.headers.accept ?? '').includes('text/event-stream')) requests.track(res);
      route(req, res).catch((error: unknown) => {
        logger.error(
          { err: error, path: new URL(req.url ?? '/', 'http://gateway.invalid').pathname },
          'request failed',
        );
        if (!res.headersSent) json(res, 500, { error: 'Unexpected error.' });
        else res.destroy();
      });
    });
    // A hard cap on open sockets, HTTP and WebSocket together: past it new connections are dropped.
    server.maxConnections = config.maxConnections;

    async function route(req: IncomingMessage, res: ServerResponse) {
      const url = new URL(req.url ?? '/', 'http://gateway.invalid');
      const length = Number(req.headers['content-length'] ?? 0);
      if (length > maxBodyBytes) {
        return json(res, 413, { error: `The request body is over ${maxBodyBytes} bytes.` });
      }
      if (req.method === 'POST' && req.headers['content-length'] === undefined) {
        return json(res, 411, { error: 'Send a Content-Length header.' });
      }
      if (url.pathname === '/healthz') return json(res, 200, { status: 'ok' });
      if (url.pathname === '/readyz') {
        const checks = { store: 'ok', upstream: 'ok' } as Record<string, string>;
        try {
          store.ping();
        } catch (error) {
          checks.store = error instanceof Error ? error.message : 'unavailable';
        }
        const upstream = await probe();
        if (upstream !== true) checks.upstream = upstream;
        const ready = checks.store === 'ok' && checks.upstream === 'ok' && state !== undefined;
        return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks });
      }
      if (url.pathname === '/metrics') {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        return res.end(await metrics.registry.metrics());
      }
      const hook = /^\/webhooks\/novita\/([0-9a-f-]{36})$/.exec(url.pathname);
      if (hook?.[1] && req.method === 'POST') {
        // Answer at once; the body is never trusted: a valid secret only triggers a confirming read.
        req.resume();
        const accepted = service.webhook(hook[1], url.searchParams.get('secret') ?? '');
        logger.info({ taskId: hook[1], accepted }, 'webhook received');
        return json(
          res,
          accepted ? 202 : 404,
          accepted ? { status: 'accepted' } : { error: 'Unknown task or secret.' },
        );
      }
      if (url.pathname.startsWith('/graphql')) return yoga(req, res);
      if (config.playgroundDir && (req.method === 'GET' || req.method === 'HEAD')) {
        return servePlayground(req, res, config.playgroundDir, url.pathname);
      }
      if (url.pathname === '/') {
        res.writeHead(302, { location: '/graphql' });
        return res.end();
      }
      return yoga(req, res);
    }

    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes ?? 64 * 1024,
    });
    server.on('upgrade', (req, socket: Socket, head) => {
      const path = new URL(req.url ?? '/', 'http://gateway.invalid').pathname;
      if (path !== '/graphql' || !state) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    });
    wss.on('connection', (ws) => {
      metrics.webSockets.inc();
      ws.once('close', () => metrics.webSockets.dec());
    });
    useServer(
      {
        onConnect: (ctx) => {
          try {
            callerFor(ctx.connectionParams?.authorization);
            return true;
          } catch {
            return false;
          }
        },
        execute: (args) => (args.rootValue as Enveloped).execute(args),
        subscribe: (args) => (args.rootValue as Enveloped).subscribe(args),
        onSubscribe: async (ctx, id, payload) => {
          const open = (ctx.extra as { operations?: Set<string> }).operations ?? new Set<string>();
          (ctx.extra as { operations?: Set<string> }).operations = open;
          if (open.size >= MAX_OPERATIONS_PER_SOCKET) {
            return [
              new GraphQLError(
                `At most ${MAX_OPERATIONS_PER_SOCKET} operations at once on one connection.`,
                {
                  extensions: { code: 'RATE_LIMITED', limit: 'operations_per_connection' },
                },
              ),
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
            if (errors.length > 0) return errors;
          } catch (error) {
            // The parser and graphql-armor's rules throw: an error for this operation, not for the
            // socket (graphql-ws closes the whole connection with 4500 on anything thrown here).
            if (error instanceof GraphQLError) return [error];
            throw error;
          }
          const args: ExecutionArgs = {
            schema: enveloped.schema,
            operationName: payload.operationName ?? null,
            document,
            variableValues: payload.variables ?? null,
            contextValue: await enveloped.contextFactory(),
            rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
          };
          open.add(id);
          return args;
        },
        onComplete: (ctx, id) => {
          (ctx.extra as { operations?: Set<string> }).operations?.delete(id);
        },
        onError: (ctx, id) => {
          (ctx.extra as { operations?: Set<string> }).operations?.delete(id);
        },
      },
      wss,
    );

    let host = config.host;
    if (!authRequired && !LOOPBACK.test(host)) {
      logger.warn(
        { requested: host },
        'GATEWAY_API_KEYS is not set: binding to 127.0.0.1 only. Set keys to listen on other addresses.',
      );
      host = '127.0.0.1';
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${shown}:${address.port}`;
    state = { server, wss, store, tracker, service, requests, emulator, url, upstreamUrl };

    const resumed = service.resume();
    logger.info(
      {
        graphql: `${url}/graphql`,
        playground: config.playgroundDir ? `${url}/` : 'not served (PLAYGROUND_DIR unset)',
        upstream: emulator ? 'embedded emulator' : upstreamUrl,
        auth: authRequired ? `${callers.size} client key(s)` : 'off (loopback only)',
        webhooks: config.publicUrl ? `${config.publicUrl}/webhooks/novita` : 'off (polling)',
        ...resumed,
      },
      'wan-video gateway listening',
    );
  }

  async function stop(): Promise<void> {
    const current = state;
    if (!current) return;
    state = undefined;
    // No new connections; no new creates (they get UPSTREAM_UNAVAILABLE with a retry hint).
    const closed = new Promise<void>((resolve) => current.server.close(() => resolve()));
    for (const ws of current.wss.clients) ws.close(1001, 'The gateway is shutting down');
    // A create in flight may already be paid for upstream: let it record its upstream id...
    await current.service.close();
    // ...and let answers in flight reach their clients (SSE streams are not waited for).
    await current.requests.idle(5000);
    await current.tracker.stop();
    current.server.closeIdleConnections();
    // Open SSE streams end here; clients reconnect to another instance or after the restart.
    current.server.closeAllConnections();
    // A peer that does not answer the close handshake is cut off.
    for (const ws of current.wss.clients) ws.terminate();
    await closed;
    current.wss.close();
    current.store.close();
    await current.emulator?.close();
    logger.info('wan-video gateway stopped');
    logger.flush();
  }

  const need = () => {
    if (!state) throw new Error('the gateway is not started');
    return state;
  };
  return {
    get url() {
      return need().url;
    },
    get graphqlUrl() {
      return `${need().url}/graphql`;
    },
    get wsUrl() {
      return `${need().url.replace(/^http/, 'ws')}/graphql`;
    },
    get upstreamUrl() {
      return need().upstreamUrl;
    },
    get emulator() {
      return state?.emulator;
    },
    logger,
    start,
    stop,
  };
}

type OperationResult = ReturnType<NonNullable<Parameters<typeof useServer>[0]['execute']>>;

/** What `onSubscribe` puts in `rootValue`: yoga's enveloped execute and subscribe. */
interface Enveloped {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}

/**
 * The built playground: its files, and `index.html` for any other path (the app routes itself).
 * Hashed assets are cached for a year; `index.html` is always revalidated.
 */
function servePlayground(
  req: IncomingMessage,
  res: ServerResponse,
  root: string,
  path: string,
): Promise<void> {
  return new Promise((resolve) => {
    const isAsset = /\.[a-z0-9]+$/i.test(path);
    const stream = send(req, isAsset ? path : '/index.html', {
      root,
      index: false,
      dotfiles: 'deny',
    });
    stream.on('headers', (response: ServerResponse, file: string) => {
      const immutable = file.includes(`${sep}assets${sep}`);
      response.setHeader(
        'cache-control',
        immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    });
    stream.on('error', (error: { status?: number }) => {
      json(res, error.status ?? 404, { error: 'Not found.' });
      resolve();
    });
    stream.on('end', () => resolve());
    res.once('close', () => resolve());
    stream.pipe(res);
  });
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Counts upstream requests by route and answer status for /metrics. */
function countingFetch(metrics: Metrics): FetchLike {
  return async (input, init) => {
    const route = input.includes(TASK_RESULT_PATH) ? 'result' : 'create';
    try {
      const response = await fetch(input, init);
      metrics.upstreamRequests.inc({ route, status: String(response.status) });
      return response;
    } catch (error) {
      metrics.upstreamRequests.inc({ route, status: 'error' });
      throw error;
    }
  };
}

/** Whether the upstream answers at all (any HTTP status below 500), checked at most every 5 s. */
function upstreamProbe(baseUrl: string, apiKey: string) {
  // The promise is cached, not its result: a crowd of /readyz calls makes one upstream request.
  let last: { at: number; result: Promise<true | string> } | undefined;
  const check = async (): Promise<true | string> => {
    try {
      const response = await fetch(
        `${baseUrl}${TASK_RESULT_PATH}?task_id=wan-video-readiness-probe`,
        {
          headers: { authorization: `Bearer ${apiKey}` },
          signal: AbortSignal.timeout(3000),
        },
      );
      await response.body?.cancel();
      if (response.status === 401 || response.status === 403) {
        return `upstream refused the gateway's key (HTTP ${response.status})`;
      }
      return response.status < 500 ? true : `upstream answered HTTP ${response.status}`;
    } catch {
      return 'upstream unreachable';
    }
  };
  return (): Promise<true | string> => {
    if (!last || Date.now() - last.at >= 5000) last = { at: Date.now(), result: check() };
    return last.result;
  };
}

/** Counts answers in flight, so that shutdown can let them finish. */
class RequestCounter {
  #active = 0;
  #waiters: (() => void)[] = [];

  track(res: ServerResponse): void {
    this.#active++;
    res.once('close', () => {
      this.#active--;
      if (this.#active === 0) for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  /** Resolves when no answer is in flight, or after `timeoutMs`. */
  idle(timeoutMs: number): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

const EXAMPLE_OPERATIONS = `# Start a video (it returns at once, QUEUED), then watch it live.
# Run "Generate", copy the id into the variables, then run "Watch".

mutation Generate {
  generateVideo(input: { prompt: "a lighthouse at dusk, waves crashing", width: 832, height: 480, steps: 20 }) {
    id
    status
  }
}

subscription Watch($id: ID!) {
  videoTask(id: $id) {
    id
    status
    progressPercent
    etaSeconds
    failureReason
    videos { url type expiresAt }
  }
}

query History {
  videoTasks(first: 10) {
    edges { node { id status createdAt input { prompt seed } } }
    pageInfo { hasNextPage endCursor }
  }
}
`;
