import { NOVITA_BASE_URL } from '@wan-video/core';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const int = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`);

const positive = (name: string) =>
  z
    .string()
    .trim()
    .transform(Number)
    .refine((n) => Number.isFinite(n) && n > 0, `${name} must be a positive number`);

/**
 * The origins a browser page may call the gateway from by default, beside the gateway's own:
 * Vite's dev server and preview (`apps/playground`) on this machine.
 */
export const DEFAULT_CORS_ORIGINS: readonly string[] = [
  'http://localhost:5173',
  'http://127.0.0.1:5173',
  'http://localhost:4173',
  'http://127.0.0.1:4173',
];

/** `CORS_ORIGINS`: `*` alone, or comma-separated `scheme://host[:port]` origins. */
const corsOrigins = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((origin) => origin.trim().replace(/\/+$/, ''))
      .filter(Boolean),
  )
  .refine(
    (origins) =>
      origins.length > 0 &&
      (origins.join() === '*' ||
        origins.every((origin) => /^https?:\/\/[^\s/?#@]+$/.test(origin) && URL.canParse(origin))),
    'CORS_ORIGINS must be * alone, or comma-separated origins like https://app.example.com (scheme, host and port, no path)',
  )
  .transform((origins): '*' | readonly string[] =>
    origins.join() === '*' ? '*' : origins.map((origin) => new URL(origin).origin),
  );

const url = (name: string) =>
  z
    .string()
    .trim()
    .refine(
      (value) => /^https?:\/\/[^\s]+$/.test(value) && URL.canParse(value),
      `${name} must be an http(s) URL`,
    )
    .transform((value) => value.replace(/\/+$/, ''));

/** The environment the gateway reads, each variable checked with a message naming it. */
const environmentSchema = z.object({
  PORT: int('PORT', 0, 65_535).default(4000),
  HOST: z.string().trim().min(1, 'HOST must not be empty').default('127.0.0.1'),
  NOVITA_API_KEY: z.string().trim().optional(),
  NOVITA_BASE_URL: url('NOVITA_BASE_URL').default(NOVITA_BASE_URL),
  DATABASE_PATH: z
    .string()
    .trim()
    .min(1, 'DATABASE_PATH must not be empty')
    .default('.data/wan-video.db'),
  GATEWAY_API_KEYS: z
    .string()
    .optional()
    .transform((value) =>
      (value ?? '')
        .split(',')
        .map((key) => key.trim())
        .filter(Boolean),
    )
    .refine(
      (keys) => keys.every((key) => key.length >= 8),
      'each of GATEWAY_API_KEYS must be at least 8 characters',
    ),
  PUBLIC_URL: url('PUBLIC_URL').optional(),
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { error: `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}` })
    .default('info'),
  EMULATOR_TIME_SCALE: positive('EMULATOR_TIME_SCALE').optional(),
  TASK_DEADLINE_SECONDS: int('TASK_DEADLINE_SECONDS', 10, 86_400).default(1800),
  MAX_IN_FLIGHT_TASKS: int('MAX_IN_FLIGHT_TASKS', 1, 10_000).default(10),
  MUTATIONS_PER_MINUTE: int('MUTATIONS_PER_MINUTE', 1, 100_000).default(30),
  MAX_CONNECTIONS: int('MAX_CONNECTIONS', 1, 1_000_000).default(25_000),
  SHUTDOWN_TIMEOUT_MS: int('SHUTDOWN_TIMEOUT_MS', 1000, 600_000).default(25_000),
  PLAYGROUND_DIR: z.string().trim().optional(),
  DATABASE_URL: z
    .string()
    .trim()
    .refine(
      (value) => /^postgres(ql)?:\/\/\S+$/.test(value) && URL.canParse(value),
      'DATABASE_URL must be a postgres:// URL',
    )
    .optional(),
  REDIS_URL: z
    .string()
    .trim()
    .refine(
      (value) => /^rediss?:\/\/\S*$/.test(value) && URL.canParse(value),
      'REDIS_URL must be a redis:// or rediss:// URL',
    )
    .optional(),
  TRACKING_LOCK_SECONDS: int('TRACKING_LOCK_SECONDS', 2, 300).default(15),
  REDIS_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'REDIS_PREFIX must be 1 to 64 letters, digits or : _ . -')
    .default('wan-video'),
  CORS_ORIGINS: corsOrigins.optional(),
  METRICS_TOKEN: z
    .string()
    .trim()
    .min(16, 'METRICS_TOKEN must be at least 16 characters')
    .regex(/^\S+$/, 'METRICS_TOKEN must not contain spaces')
    .optional(),
  WEBHOOK_ALLOW_PRIVATE: z
    .enum(['0', '1', 'true', 'false'], {
      error: 'WEBHOOK_ALLOW_PRIVATE must be 1 or 0 (true or false)',
    })
    .default('0'),
  WEBHOOK_SIGNING_SECRET: z
    .string()
    .trim()
    .min(32, 'WEBHOOK_SIGNING_SECRET must be at least 32 characters')
    .regex(/^\S+$/, 'WEBHOOK_SIGNING_SECRET must not contain spaces')
    .optional(),
});

/** What `--help` and the README say of one variable `readConfig` reads. */
export interface ConfigVariableDescription {
  /** What it sets. */
  readonly meaning: string;
  /** The default in words, for a variable whose schema has none (`readConfig` fills it or not). */
  readonly default?: string;
}

/**
 * Every environment variable `readConfig` reads, in `--help`'s order, with what it means. Typed
 * against the schema: a variable the schema reads and this table lacks (or the other way round)
 * is a type error, so the gateway's `--help` cannot drift from what it reads.
 */
export const CONFIG_VARIABLES = {
  PORT: { meaning: 'port to listen on (0: any free port)' },
  HOST: { meaning: 'address to listen on (loopback only without GATEWAY_API_KEYS)' },
  NOVITA_API_KEY: { meaning: 'the upstream key', default: 'none: the embedded emulator' },
  NOVITA_BASE_URL: { meaning: 'the upstream' },
  DATABASE_PATH: {
    meaning: 'the SQLite file (the embedded emulator keeps its state in <DATABASE_PATH>-emulator/)',
  },
  GATEWAY_API_KEYS: {
    meaning: 'comma-separated client keys (8+ characters each); turns on auth',
    default: 'none: no auth',
  },
  PUBLIC_URL: {
    meaning:
      'where clients and the upstream reach this gateway: the origin of video links; turns on webhooks',
  },
  LOG_LEVEL: { meaning: LOG_LEVELS.join(', ') },
  EMULATOR_TIME_SCALE: {
    meaning: 'speeds up the embedded emulator (10: ten times faster)',
    default: '1',
  },
  TASK_DEADLINE_SECONDS: { meaning: 'when an unfinished task is given up as FAILED (10 to 86400)' },
  MAX_IN_FLIGHT_TASKS: { meaning: 'unfinished tasks per client' },
  MUTATIONS_PER_MINUTE: { meaning: 'generateVideo calls per client per minute' },
  MAX_CONNECTIONS: { meaning: 'open connections, HTTP and WebSocket' },
  SHUTDOWN_TIMEOUT_MS: {
    meaning: 'the longest a SIGTERM takes (1000 to 600000); creates still waiting are aborted',
  },
  PLAYGROUND_DIR: {
    meaning: 'the built playground to serve at /',
    default: 'none: / redirects to GraphiQL',
  },
  DATABASE_URL: {
    meaning: 'postgres://…: tasks in Postgres, shared by replicas',
    default: 'none: SQLite at DATABASE_PATH',
  },
  REDIS_URL: {
    meaning: 'redis://…: events, tracking and limits shared by replicas; needs DATABASE_URL',
  },
  TRACKING_LOCK_SECONDS: {
    meaning: "with Redis: how long a replica's claim on a task being read lasts (2 to 300)",
  },
  REDIS_PREFIX: { meaning: 'what every Redis key and channel of this deployment starts with' },
  CORS_ORIGINS: {
    meaning:
      'comma-separated origins a browser page may call from (*: any, never with credentials)',
    default: DEFAULT_CORS_ORIGINS.join(','),
  },
  METRICS_TOKEN: {
    meaning: '/metrics only with Authorization: Bearer <token> (16+ characters)',
    default: 'none: /metrics is open',
  },
  WEBHOOK_ALLOW_PRIVATE: {
    meaning:
      "1: clients' webhook URLs may point at loopback and private addresses (local development only)",
  },
  WEBHOOK_SIGNING_SECRET: {
    meaning:
      "the master secret clients' webhook secrets are derived from (32+ characters; shared by replicas)",
    default: 'none: one is made once and kept in the store',
  },
} as const satisfies Record<keyof typeof environmentSchema.shape, ConfigVariableDescription>;

/** One row of the configuration table. */
export interface ConfigVariable {
  readonly name: keyof typeof CONFIG_VARIABLES;
  readonly meaning: string;
  /** The schema's own default where it has one, else what an unset variable means (`none`). */
  readonly default: string;
}

/** The configuration table: every variable `readConfig` reads, its meaning and its default. */
export function configVariables(): readonly ConfigVariable[] {
  return (Object.keys(environmentSchema.shape) as (keyof typeof CONFIG_VARIABLES)[]).map((name) => {
    const field: z.ZodType = environmentSchema.shape[name];
    const description: ConfigVariableDescription = CONFIG_VARIABLES[name];
    return {
      name,
      meaning: description.meaning,
      default:
        field instanceof z.ZodDefault
          ? String(field.def.defaultValue)
          : (description.default ?? 'none'),
    };
  });
}

export interface GatewayConfig {
  readonly port: number;
  readonly host: string;
  /** The upstream key; absent: the gateway runs the emulator in-process. */
  readonly novitaApiKey: string | undefined;
  readonly novitaBaseUrl: string;
  readonly databasePath: string;
  /** Client API keys; empty: no auth, loopback only. */
  readonly gatewayApiKeys: readonly string[];
  /** Where the upstream can reach this gateway: turns on webhook mode. */
  readonly publicUrl: string | undefined;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly emulatorTimeScale: number;
  readonly taskDeadlineMs: number;
  readonly maxInFlightTasks: number;
  readonly mutationsPerMinute: number;
  readonly maxConnections: number;
  /**
   * How long a SIGTERM may take: creates still waiting for the upstream are aborted before it
   * ends (what is unfinished resumes at the next start), and the process exits by then whatever
   * the upstream is doing.
   * @default 25000
   */
  readonly shutdownTimeoutMs: number;
  /** The built playground to serve at `/`; unset: `/` redirects to GraphiQL. */
  readonly playgroundDir: string | undefined;
  /** Postgres for tasks (shared by replicas); unset: the SQLite file at `databasePath`. */
  readonly databaseUrl: string | undefined;
  /** Redis for events, tracking (BullMQ) and limits shared by replicas; needs `databaseUrl`. */
  readonly redisUrl: string | undefined;
  /** What every Redis key and channel of this deployment starts with. */
  readonly redisPrefix: string;
  /**
   * With Redis: how long a replica's claim on a task being read lasts unrenewed; a replica that
   * dies hands its tasks to the others after about this long and a third more.
   */
  readonly trackingLockMs: number;
  /**
   * Origins a browser page may call from, beside the gateway's own (`*`: any, never with
   * credentials).
   * @default DEFAULT_CORS_ORIGINS (Vite's dev server and preview on this machine)
   */
  readonly corsOrigins: '*' | readonly string[];
  /** When set, `/metrics` needs `Authorization: Bearer <token>`. */
  readonly metricsToken: string | undefined;
  /**
   * Whether clients' webhook URLs may point at loopback and private addresses (local development).
   * @default false
   */
  readonly webhookAllowPrivate: boolean;
  /**
   * The master secret each client's webhook signing secret is derived from; unset: one is made
   * once and kept in the store (so replicas and restarts share it).
   */
  readonly webhookSigningSecret: string | undefined;
}

export class ConfigError extends Error {
  override name = 'ConfigError' as const;
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

/** Reads and checks the environment; throws a `ConfigError` listing every bad value. */
export function readConfig(env: Readonly<Record<string, string | undefined>>): GatewayConfig {
  const present = Object.fromEntries(
    Object.keys(environmentSchema.shape)
      .map((key) => [key, env[key]] as const)
      .filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => issue.message));
  }
  const e = parsed.data;
  if (e.REDIS_URL && !e.DATABASE_URL) {
    throw new ConfigError([
      'REDIS_URL needs DATABASE_URL: with several replicas, tasks live in Postgres (set DATABASE_URL=postgres://…)',
    ]);
  }
  return {
    port: e.PORT,
    host: e.HOST,
    novitaApiKey: e.NOVITA_API_KEY || undefined,
    novitaBaseUrl: e.NOVITA_BASE_URL,
    databasePath: e.DATABASE_PATH,
    gatewayApiKeys: e.GATEWAY_API_KEYS,
    publicUrl: e.PUBLIC_URL,
    logLevel: e.LOG_LEVEL,
    emulatorTimeScale: e.EMULATOR_TIME_SCALE ?? 1,
    taskDeadlineMs: e.TASK_DEADLINE_SECONDS * 1000,
    maxInFlightTasks: e.MAX_IN_FLIGHT_TASKS,
    mutationsPerMinute: e.MUTATIONS_PER_MINUTE,
    maxConnections: e.MAX_CONNECTIONS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    playgroundDir: e.PLAYGROUND_DIR || undefined,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    trackingLockMs: e.TRACKING_LOCK_SECONDS * 1000,
    corsOrigins: e.CORS_ORIGINS ?? DEFAULT_CORS_ORIGINS,
    metricsToken: e.METRICS_TOKEN,
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE === '1' || e.WEBHOOK_ALLOW_PRIVATE === 'true',
    webhookSigningSecret: e.WEBHOOK_SIGNING_SECRET,
  };
}
