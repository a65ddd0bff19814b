import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { type FetchLike, type PollPolicy, TASK_RESULT_PATH } from '@wan-video/core';
import type { MountedEmulator, MountOptions } from '@wan-video/emulator';
import { EXAMPLE_OPERATIONS } from '@wan-video/operations';
import { createYoga, type YogaInitialContext } from 'graphql-yoga';
import type { DestinationStream } from 'pino';
import { createAuth } from './auth.js';
import type { GatewayContext, GatewayInfo } from './builder.js';
import type { GatewayConfig } from './config.js';
import { errorBody } from './errors.js';
import { useErrorCodes, withLimitCodes } from './http/error-codes.js';
import { createGraphiQLRenderer, graphiqlOptions, useGraphiQLAssets } from './http/graphiql.js';
import { useGraphQLOverSSE } from './http/graphql-sse.js';
import { createPipelineGuard } from './http/pipelining.js';
import { useRestContract } from './http/rest.js';
import {
  useHealth,
  useMetricsRoute,
  useNovitaWebhook,
  usePlayground,
  useReadiness,
} from './http/routes.js';
import { createRequestGuard, useCsrfPrevention, useNoFraming } from './http/security.js';
import { createVideoRoute } from './http/videos.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { createParts, type GatewayDeps, type Parts } from './parts.js';
import { schema } from './schema/index.js';
import { VideoService } from './service.js';
import { ClientWebhooks } from './webhooks/outbox.js';
import type { ResolveHost } from './webhooks/ssrf.js';
import { attachWebSockets } from './websocket.js';

export type { GatewayDeps } from './parts.js';

export interface GatewayOptions {
  /** Where JSON logs go (stdout by default). */
  logDestination?: DestinationStream;
  /** How tracking paces upstream reads (core's defaults otherwise). */
  pollPolicy?: Omit<PollPolicy, 'signal' | 'deadline' | 'initial' | 'initialIsFresh' | 'onError'>;
  /**
   * In webhook mode, how long to wait for a task's webhook before polling it anyway.
   * @default 120000
   */
  webhookFallbackMs?: number;
  /** Options for the embedded emulator (when no NOVITA_API_KEY is set). */
  emulator?: Partial<MountOptions>;
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
  /** Signed webhooks to clients: how host names resolve, and the pace of retries (tests). */
  webhooks?: {
    /** @default the operating system's DNS */
    resolve?: ResolveHost;
    /**
     * Multiplies the waits between tries (1, 2, 4, 8 s).
     * @default 1
     */
    retryScale?: number;
    /**
     * How long a receiver has to answer one try.
     * @default 5000
     */
    timeoutMs?: number;
  };
}

export interface Gateway {
  /** `http://host:port`, once started. */
  readonly url: string;
  readonly graphqlUrl: string;
  readonly wsUrl: string;
  /** Where the upstream is: Novita, or the embedded emulator. */
  readonly upstreamUrl: string;
  /** The embedded emulator, when there is one. */
  readonly emulator: MountedEmulator | undefined;
  readonly logger: Logger;
  start(): Promise<void>;
  /**
   * Stops accepting, closes WebSockets with 1012 (clients reconnect, to another replica or after
   * the restart), lets creates in flight record their upstream id, hands tracking back (tasks
   * resume on another replica or at the next start), closes the parts.
   */
  stop(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
/** A Host header fit to build a link on: a name or address, and a port. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/i;
/**
 * With a shared store, a task still CREATING after this long was left by a replica that died
 * mid-create (a create's own timeout and retries end well before).
 */
const STALE_CREATING_MS = 10 * 60_000;

/**
 * Creates the gateway: one process serving GraphQL over HTTP, SSE and WebSocket. Its parts
 * (store, events, tracking, limits) come from `createParts`, chosen by the configuration;
 * `deps` replaces any of them.
 */
export function createGateway(
  config: GatewayConfig,
  options: GatewayOptions = {},
  deps: GatewayDeps = {},
): Gateway {
  const secrets = [
    config.novitaApiKey ?? '',
    ...config.gatewayApiKeys,
    config.metricsToken ?? '',
    config.webhookSigningSecret ?? '',
    ...urlSecrets(config),
  ];
  const logger = createLogger({
    level: config.logLevel,
    // The generated webhook master secret joins it once read from the store.
    secrets,
    ...(options.logDestination ? { destination: options.logDestination } : {}),
  });
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const auth = createAuth(config.gatewayApiKeys);
  // CORS allow-list, CSRF, and the Host check of loopback-only mode (no client keys).
  const guard = createRequestGuard({
    corsOrigins: config.corsOrigins,
    loopbackOnly: !auth.required,
  });
  let state:
    | {
        parts: Parts;
        service: VideoService;
        stopServer: () => Promise<void>;
        url: string;
      }
    | undefined;
  let accepting = false;
  /** Where this process listens, once it does: the origin of links when the request names none. */
  let listenUrl = '';
  /**
   * The origin of the links the gateway hands out (videos): `PUBLIC_URL`, or the host the client
   * reached (so that links work beyond loopback), or where this process listens.
   */
  const originOf = (initial: {
    request?: Request;
    req?: { headers: { host?: string | undefined } };
  }): string => {
    if (config.publicUrl) return config.publicUrl.replace(/\/+$/, '');
    const host = initial.request?.headers.get('host') ?? initial.req?.headers.host;
    return host !== undefined && host !== null && HOST_HEADER.test(host)
      ? `http://${host}`
      : listenUrl;
  };

  async function start(): Promise<void> {
    if (state) throw new Error('the gateway is already started');
    let store: Parts['store'] | undefined;
    const metrics: Metrics = createMetrics(async () => {
      if (!store) throw new Error('not started');
      return store.countByStatus();
    });
    // Tracking tells of a Redis reconnect before the service exists: the call goes through here.
    let onTrackingReconnect = () => {};
    const parts = await createParts(
      config,
      {
        logger,
        onTrackingReconnect: () => onTrackingReconnect(),
        metrics,
        ...(options.pollPolicy ? { pollPolicy: options.pollPolicy } : {}),
        ...(options.webhookFallbackMs === undefined
          ? {}
          : { webhookFallbackMs: options.webhookFallbackMs }),
        ...(options.emulator ? { emulator: options.emulator } : {}),
      },
      deps,
    );
    store = parts.store;
    const webhooks = new ClientWebhooks({
      tasks: parts.store,
      logger,
      allowPrivate: config.webhookAllowPrivate,
      signingSecret: config.webhookSigningSecret,
      shared: parts.shared,
      onSecret: (secret) => {
        if (!secrets.includes(secret)) secrets.push(secret);
      },
      ...options.webhooks,
    });
    try {
      const service = new VideoService({
        webhooks,
        defaultOrigin: () => config.publicUrl?.replace(/\/+$/, '') ?? listenUrl,
        store: parts.store,
        client: parts.client,
        tracking: parts.tracking,
        writer: parts.writer,
        limits: parts.limits,
        logger,
        publicUrl: config.publicUrl,
        taskDeadlineMs: config.taskDeadlineMs,
        maxInFlightTasks: config.maxInFlightTasks,
      });
      const info: GatewayInfo = {
        emulated: parts.emulator !== undefined,
        authRequired: auth.required,
        webhooks: config.publicUrl !== undefined,
        maxInFlightTasks: config.maxInFlightTasks,
        mutationsPerMinute: config.mutationsPerMinute,
      };
      const probe = upstreamProbe(parts.upstreamUrl, parts.upstreamKey, parts.upstreamFetch);
      const yoga = createYoga<{ connectionParams?: Record<string, unknown> }, GatewayContext>({
        schema,
        graphqlEndpoint: '/graphql',
        landingPage: false,
        graphiql: graphiqlOptions({
          title: 'wan-video gateway',
          defaultQuery: EXAMPLE_OPERATIONS,
          authRequired: auth.required,
        }),
        // GraphiQL's assets are served from here, not a CDN: it works offline and behind firewalls.
        // The page is a small shell; its bundle is hashed assets, one shared Buffer each.
        renderGraphiQL: createGraphiQLRenderer('/graphql'),
        cors: guard.cors,
        // The server below refuses a POST without Content-Length or over maxBodyBytes before yoga
        // sees it, and Node reads no byte past Content-Length: yoga's own limit would check again,
        // by piping every request body through a TransformStream (a stream pipeline, an
        // AbortController and a DOMException per request; bench/RESULTS.md has its cost).
        maxRequestBodySize: false,
        logging: {
          debug: (...args) => logger.debug({ yoga: args }, 'yoga'),
          info: (...args) => logger.info({ yoga: args }, 'yoga'),
          warn: (...args) => logger.warn({ yoga: args }, 'yoga'),
          error: (...args) => logger.error({ yoga: args }, 'yoga'),
        },
        plugins: [
          useCsrfPrevention('/graphql'),
          useNoFraming(),
          useGraphiQLAssets('/graphql'),
          useHealth(),
          useReadiness(
            {
              store: async () => {
                await parts.store.ping();
                return true as const;
              },
              events: () => parts.events.ready(),
              tracking: () => parts.tracking.ready(),
              upstream: probe,
            },
            () => accepting,
          ),
          useMetricsRoute(metrics, config.metricsToken),
          useNovitaWebhook(service, logger),
          // The seed's REST contract, on the same tasks, keys and limits as GraphQL.
          useRestContract({
            service,
            auth,
            logger,
            originOf: (request) => originOf({ request }),
          }),
          usePlayground(config.playgroundDir),
          // graphql-sse's protocol, both modes; `/graphql` keeps yoga's own SSE (GraphiQL uses it).
          useGraphQLOverSSE({ endpoint: '/graphql/stream', auth, logger }),
          EnvelopArmorPlugin(
            withLimitCodes({
              maxDepth: { n: 8 },
              maxAliases: { n: 15 },
              maxDirectives: { n: 20 },
              maxTokens: { n: 2000 },
              costLimit: { maxCost: 5000 },
              blockFieldSuggestion: { enabled: false },
            }),
          ),
          useErrorCodes(logger),
        ],
        context: (initial: YogaInitialContext & { connectionParams?: Record<string, unknown> }) => {
          const authorization = initial.connectionParams
            ? initial.connectionParams.authorization
            : initial.request.headers.get('authorization');
          return {
            caller: auth.callerFor(authorization),
            origin: originOf(initial),
            service,
            events: parts.events,
            metrics,
            info,
          };
        },
      });

      const videoRoute = createVideoRoute({
        store: parts.store,
        service,
        logger,
        emulator: parts.emulator,
      });
      const requests = new RequestCounter();
      // A client that pipelines requests and reads nothing is cut off, not answered into memory.
      const pipelining = createPipelineGuard({
        onRefuse: (why) =>
          logger.warn(why, 'closed an HTTP connection whose client reads too slowly'),
      });
      const server = createServer((req, res) => {
        if (pipelining.refuse(req, res)) return;
        // Long-lived SSE streams are not "in flight": shutdown does not wait for them.
        if (!String(req.headers.accept ?? '').includes('text/event-stream')) requests.track(res);
        if (guard.refuseRequest(req, res)) return;
        if (videoRoute(req, res) || parts.emulator?.handle(req, res)) return;
        const length = Number(req.headers['content-length'] ?? 0);
        if (length > maxBodyBytes) {
          const message = `The request body is over ${maxBodyBytes} bytes.`;
          return json(res, 413, errorBody('PAYLOAD_TOO_LARGE', message));
        }
        if (req.method === 'POST' && req.headers['content-length'] === undefined) {
          return json(res, 411, errorBody('LENGTH_REQUIRED', 'Send a Content-Length header.'));
        }
        void yoga(req, res);
      });
      // A hard cap on open sockets, HTTP and WebSocket together: past it new connections are dropped.
      server.maxConnections = config.maxConnections;
      const sockets = attachWebSockets({
        server,
        yoga,
        auth,
        metrics,
        maxMessageBytes: options.maxMessageBytes ?? 64 * 1024,
        accepting: () => accepting,
        guard,
        logger,
      });

      let host = config.host;
      if (!auth.required && !LOOPBACK.test(host)) {
        logger.warn(
          { requested: host },
          'GATEWAY_API_KEYS is not set: binding to 127.0.0.1 only. Set keys to listen on other addresses.',
        );
        host = '127.0.0.1';
      }
      await parts.tracking.start();
      // A task ending here makes its client's webhook due: deliver it now, not at the next sweep.
      parts.writer.onFinished(() => webhooks.kick());
      await webhooks.start();
      const creatingOlderThanMs = parts.shared ? STALE_CREATING_MS : 0;
      const resumed = await service.resume({ creatingOlderThanMs, atStart: true });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      accepting = true;
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      const url = `http://${shown}:${address.port}`;
      listenUrl = url;

      const stopServer = async () => {
        // No new connections; no new creates (they get UPSTREAM_UNAVAILABLE with a retry hint).
        accepting = false;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Sockets first: their clients reconnect to another replica while this one drains.
        const socketsClosed = sockets.closeAll(2000);
        // A create in flight may already be paid for upstream: let it record its upstream id, for
        // most of SHUTDOWN_TIMEOUT_MS; one still waiting then is aborted (left CREATING for the
        // next start if it may have reached the upstream, never sent again)...
        await service.close({
          abortAfterMs: config.shutdownTimeoutMs * 0.6,
          graceMs: config.shutdownTimeoutMs * 0.1,
        });
        // ...and let answers in flight reach their clients (SSE streams are not waited for).
        await requests.idle(Math.min(5000, config.shutdownTimeoutMs * 0.2));
        await parts.tracking.stop();
        // A webhook try in flight is cut short: it is tried again (at least once).
        await webhooks.stop();
        server.closeIdleConnections();
        // Open SSE streams end here; clients reconnect to another instance or after the restart.
        server.closeAllConnections();
        await socketsClosed;
        await closed;
      };
      const reconciler = parts.shared
        ? reconcileNowAndThen(parts, service, creatingOlderThanMs, logger)
        : undefined;
      onTrackingReconnect = () => reconciler?.now();
      state = {
        parts,
        service,
        stopServer: async () => {
          reconciler?.stop();
          await stopServer();
        },
        url,
      };
      logger.info(
        {
          graphql: `${url}/graphql`,
          playground: config.playgroundDir ? `${url}/` : 'not served (PLAYGROUND_DIR unset)',
          upstream: parts.emulator ? 'embedded emulator' : parts.upstreamUrl,
          auth: auth.required ? `${auth.keys} client key(s)` : 'off (loopback only)',
          webhooks: config.publicUrl ? `${config.publicUrl}/webhooks/novita` : 'off (polling)',
          ...parts.mode,
          ...resumed,
        },
        'wan-video gateway listening',
      );
    } catch (error) {
      await webhooks.stop();
      await parts.close();
      throw error;
    }
  }

  async function stop(): Promise<void> {
    const current = state;
    if (!current) return;
    state = undefined;
    try {
      await current.stopServer();
    } finally {
      // Whatever went wrong above, the store, its lock and the connections are let go, so that
      // a gateway started next on the same database (a restart in this process) can take them.
      await current.parts.close();
    }
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
      return need().parts.upstreamUrl;
    },
    get emulator() {
      return state?.parts.emulator;
    },
    logger,
    start,
    stop,
  };
}

/** How often a replica sharing its tasks checks that each is followed, and that tracking works. */
const RECONCILE_CHECK_MS = 2000;
const RECONCILE_EVERY_MS = 60_000;

/**
 * With shared tasks: every task must have a follower whatever happened to Redis (a restart
 * without persistence loses the queue). When tracking's Redis connection comes back (`now`),
 * when its readiness is seen to return, and once a minute anyway, every unfinished task is
 * handed to tracking again (idempotent), and CREATING tasks left by a dead replica are settled.
 */
function reconcileNowAndThen(
  parts: Parts,
  service: VideoService,
  creatingOlderThanMs: number,
  logger: Logger,
): { stop(): void; now(): void } {
  let wasReady = true;
  let lastRun = Date.now();
  let running = false;
  let asked = false;
  const tick = () => {
    if (running) return;
    running = true;
    void (async () => {
      try {
        const ready = (await parts.tracking.ready()) === true;
        const due = Date.now() - lastRun >= RECONCILE_EVERY_MS;
        if (ready && (asked || !wasReady || due)) {
          const why = asked || !wasReady ? 'tracking is back' : 'now and then';
          asked = false;
          lastRun = Date.now();
          const result = await service.resume({ creatingOlderThanMs });
          logger.info({ ...result, why }, 'every unfinished task handed to tracking');
        }
        wasReady = ready;
      } catch (error) {
        asked = true;
        logger.warn({ err: error }, 'resuming unfinished tasks failed; trying again soon');
      } finally {
        running = false;
      }
    })();
  };
  const timer = setInterval(tick, RECONCILE_CHECK_MS);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    now: () => {
      asked = true;
      tick();
    },
  };
}

/** Passwords in the database and Redis URLs: redacted from every log line like the keys. */
function urlSecrets(config: GatewayConfig): string[] {
  return [config.databaseUrl, config.redisUrl]
    .map((value) =>
      value && URL.canParse(value) ? decodeURIComponent(new URL(value).password) : '',
    )
    .filter(Boolean);
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Whether the upstream answers at all (any HTTP status below 500), checked at most every 5 s. */
function upstreamProbe(baseUrl: string, apiKey: string, send: FetchLike) {
  // The promise is cached, not its result: a crowd of /readyz calls makes one upstream request.
  let last: { at: number; result: Promise<true | string> } | undefined;
  const check = async (): Promise<true | string> => {
    try {
      const response = await send(
        `${baseUrl}${TASK_RESULT_PATH}?task_id=wan-video-readiness-probe`,
        {
          headers: { authorization: `Bearer ${apiKey}` },
          signal: AbortSignal.timeout(3000),
        },
      );
      await response.text();
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
