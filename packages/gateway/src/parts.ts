import { randomBytes } from 'node:crypto';
import { type FetchLike, NovitaClient, type PollPolicy, TASK_RESULT_PATH } from '@wan-video/core';
import { type MountedEmulator, type MountOptions, mountEmulator } from '@wan-video/emulator';
import type { GatewayConfig } from './config.js';
import { LocalTaskEvents } from './events/local.js';
import type { TaskEvents } from './events/types.js';
import { createLimits } from './limits/rate.js';
import type { Limits } from './limits/types.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { lockDatabase } from './store/lock.js';
import { SqliteTaskStore } from './store/sqlite.js';
import type { TaskStore } from './store/types.js';
import { TaskWriter } from './task-writer.js';
import { LocalTracking } from './tracking/local.js';
import type { Tracking } from './tracking/types.js';
import { pooledUpstream } from './upstream-http.js';

/** Where the embedded emulator answers on the gateway's own server. */
export const EMULATOR_PATH = '/emulator';
/**
 * The origin core's client is given for the embedded emulator: its calls never leave the process
 * (the emulator's `fetch`), and the video links it makes are served through `/videos/…`.
 */
const EMULATOR_ORIGIN = 'http://embedded-emulator.invalid';

/**
 * Where the embedded emulator keeps its tasks and videos: beside the SQLite file, so that a
 * restart loses no task and breaks no link. In memory for `:memory:` and with Postgres (whose
 * replicas would each have their own emulator).
 */
export function emulatorStateDir(config: GatewayConfig): string | undefined {
  if (config.databaseUrl !== undefined || config.databasePath === ':memory:') return undefined;
  return `${config.databasePath}-emulator`;
}

/** What the parts need beyond the configuration. */
export interface PartsOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** How tracking paces upstream reads (core's defaults otherwise). */
  readonly pollPolicy?: Omit<
    PollPolicy,
    'signal' | 'deadline' | 'initial' | 'initialIsFresh' | 'onError'
  >;
  /** In webhook mode, how long to wait for a task's webhook before polling it anyway. */
  readonly webhookFallbackMs?: number;
  /** Options for the embedded emulator (when no NOVITA_API_KEY is set). */
  readonly emulator?: Partial<MountOptions>;
  /** Told when shared tracking's Redis connection is back after a loss. */
  readonly onTrackingReconnect?: () => void;
}

/** Parts a caller may supply instead of the ones the configuration selects (tests, embedding). */
export interface GatewayDeps {
  readonly store?: TaskStore;
  readonly events?: TaskEvents;
  readonly limits?: Limits;
  readonly tracking?: (parts: TrackingParts) => Tracking;
}

/** What a tracking implementation is built from. */
export interface TrackingParts {
  readonly store: TaskStore;
  readonly writer: TaskWriter;
  readonly client: NovitaClient;
}

/** The gateway's parts, chosen from the configuration in this one place. */
export interface Parts extends TrackingParts {
  readonly events: TaskEvents;
  readonly tracking: Tracking;
  readonly limits: Limits;
  readonly upstreamUrl: string;
  /** The upstream key in use (a key made at start when embedded). */
  readonly upstreamKey: string;
  /** How the upstream is reached, for probes: the pool, or the embedded emulator in-process. */
  readonly upstreamFetch: FetchLike;
  /** The embedded emulator, mounted on the gateway's server at `EMULATOR_PATH`. */
  readonly emulator: MountedEmulator | undefined;
  /** Which implementations were chosen, for the start-up log line. */
  readonly mode: { readonly store: string; readonly events: string; readonly tracking: string };
  /** Whether tasks are shared with other replicas (then a CREATING task may be another's). */
  readonly shared: boolean;
  /** Closes everything, last made first. */
  close(): Promise<void>;
}

/**
 * Builds the parts the configuration asks for:
 * - no `DATABASE_URL`: SQLite at `DATABASE_PATH`; with it: Postgres;
 * - no `REDIS_URL`: events, tracking and limits in this process; with it: Redis pub/sub,
 *   BullMQ and Redis-backed limits, shared by every replica;
 * - no `NOVITA_API_KEY`: the embedded emulator as the upstream.
 * The Postgres and Redis drivers are loaded only when asked for.
 */
export async function createParts(
  config: GatewayConfig,
  options: PartsOptions,
  deps: GatewayDeps = {},
): Promise<Parts> {
  const { logger } = options;
  const closers: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const closer of closers.splice(0).reverse()) {
      try {
        await closer();
      } catch (error) {
        logger.warn({ err: error }, 'closing a part failed');
      }
    }
  };
  try {
    let emulator: MountedEmulator | undefined;
    let upstreamUrl = config.novitaBaseUrl;
    let upstreamKey = config.novitaApiKey;
    if (!upstreamKey) {
      const stateDir = emulatorStateDir(config);
      // Any key passes a listening emulator; this one takes only the key made here, so that the
      // API mounted on the gateway's server serves the gateway alone.
      upstreamKey = randomBytes(24).toString('base64url');
      const mounted = mountEmulator({
        basePath: EMULATOR_PATH,
        timeScale: config.emulatorTimeScale,
        apiKeys: [upstreamKey],
        ...(stateDir ? { stateDir, storageDir: `${stateDir}/videos` } : {}),
        ...options.emulator,
      });
      mounted.setPublicUrl(EMULATOR_ORIGIN);
      emulator = mounted;
      closers.push(() => mounted.close());
      upstreamUrl = `${EMULATOR_ORIGIN}${EMULATOR_PATH}`;
      logger.warn(
        {
          emulator: EMULATOR_PATH,
          state: stateDir ?? 'in memory',
          timeScale: config.emulatorTimeScale,
        },
        'NOVITA_API_KEY is not set: running the embedded emulator. Videos are procedural, not Wan output.',
      );
    }

    let store = deps.store;
    if (!store) {
      if (config.databaseUrl) {
        const { PostgresTaskStore } = await import('./store/postgres.js');
        store = await PostgresTaskStore.open(config.databaseUrl, {
          applicationName: 'wan-video-gateway',
        });
      } else {
        // One process per SQLite file: a second one stops here, before touching any task.
        if (config.databasePath !== ':memory:') {
          const lock = lockDatabase(config.databasePath);
          closers.push(async () => lock.release());
        }
        store = new SqliteTaskStore(config.databasePath);
      }
    }
    const openedStore = store;
    closers.push(() => openedStore.close());

    const redis = config.redisUrl
      ? { url: config.redisUrl, prefix: config.redisPrefix }
      : undefined;
    let events = deps.events;
    if (!events) {
      if (redis) {
        const { RedisTaskEvents } = await import('./events/redis.js');
        events = await RedisTaskEvents.connect({ ...redis, logger });
      } else {
        events = new LocalTaskEvents();
      }
    }
    const openedEvents = events;
    closers.push(() => openedEvents.close());

    const limits =
      deps.limits ??
      createLimits({
        mutationsPerMinute: config.mutationsPerMinute,
        logger,
        ...(redis ? { redis } : {}),
      });
    closers.push(() => limits.close());

    let upstreamFetch: FetchLike;
    if (emulator) {
      upstreamFetch = emulator.fetch;
    } else {
      const upstreamHttp = pooledUpstream(upstreamUrl);
      closers.push(() => upstreamHttp.close());
      upstreamFetch = upstreamHttp.fetch;
    }
    const client = new NovitaClient({
      apiKey: upstreamKey,
      baseUrl: upstreamUrl,
      fetch: countingFetch(options.metrics, upstreamFetch),
      // The pool times its requests out itself; the in-process emulator is timed by the client.
      fetchEnforcesTimeout: !emulator,
    });
    const writer = new TaskWriter({ store, events, logger });
    const trackingParts: TrackingParts = { store, writer, client };
    let tracking: Tracking;
    if (deps.tracking) {
      tracking = deps.tracking(trackingParts);
    } else if (redis) {
      const { BullMqTracking } = await import('./tracking/bullmq.js');
      tracking = new BullMqTracking({
        redis,
        store,
        writer,
        reader: client,
        logger,
        lockDurationMs: config.trackingLockMs,
        ...(options.onTrackingReconnect ? { onReconnect: options.onTrackingReconnect } : {}),
        ...(options.pollPolicy ? { pollPolicy: options.pollPolicy } : {}),
        ...(options.webhookFallbackMs === undefined
          ? {}
          : { webhookFallbackMs: options.webhookFallbackMs }),
      });
    } else {
      tracking = new LocalTracking({
        store,
        writer,
        reader: client,
        logger,
        ...(options.pollPolicy ? { pollPolicy: options.pollPolicy } : {}),
        ...(options.webhookFallbackMs === undefined
          ? {}
          : { webhookFallbackMs: options.webhookFallbackMs }),
      });
    }
    return {
      store,
      events,
      limits,
      writer,
      client,
      tracking,
      upstreamUrl,
      upstreamKey,
      upstreamFetch,
      emulator,
      shared: config.databaseUrl !== undefined,
      mode: {
        store: config.databaseUrl ? 'postgres' : 'sqlite',
        events: redis ? 'redis' : 'in-process',
        tracking: redis ? 'bullmq' : 'in-process',
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Counts upstream requests by route and answer status for /metrics. */
function countingFetch(metrics: Metrics, send: FetchLike): FetchLike {
  return async (input, init) => {
    const route = input.includes(TASK_RESULT_PATH) ? 'result' : 'create';
    try {
      const response = await send(input, init);
      metrics.upstreamRequests.inc({ route, status: String(response.status) });
      return response;
    } catch (error) {
      metrics.upstreamRequests.inc({ route, status: 'error' });
      throw error;
    }
  };
}
