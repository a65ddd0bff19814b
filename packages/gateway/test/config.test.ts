/** readConfig: the defaults, and a ConfigError naming every bad variable. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CORS_ORIGINS } from '../src/config.js';
import { ConfigError, readConfig } from '../src/index.js';

/** The ConfigError `readConfig` throws for `env` (fails the test if it throws nothing else). */
function configError(env: Record<string, string>): ConfigError {
  try {
    readConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`readConfig accepted ${JSON.stringify(env)}`);
}

describe('readConfig', () => {
  it('fills the defaults from an empty environment', () => {
    expect(readConfig({})).toEqual({
      port: 4000,
      host: '127.0.0.1',
      novitaApiKey: undefined,
      novitaBaseUrl: 'https://api.novita.ai',
      databasePath: '.data/wan-video.db',
      gatewayApiKeys: [],
      publicUrl: undefined,
      logLevel: 'info',
      emulatorTimeScale: 1,
      taskDeadlineMs: 1_800_000,
      maxInFlightTasks: 10,
      mutationsPerMinute: 30,
      maxConnections: 25_000,
      shutdownTimeoutMs: 25_000,
      databaseUrl: undefined,
      redisUrl: undefined,
      redisPrefix: 'wan-video',
      trackingLockMs: 15_000,
      corsOrigins: [
        'http://localhost:5173',
        'http://127.0.0.1:5173',
        'http://localhost:4173',
        'http://127.0.0.1:4173',
      ],
      metricsToken: undefined,
      webhookAllowPrivate: false,
      webhookSigningSecret: undefined,
    });
    expect(readConfig({}).corsOrigins).toBe(DEFAULT_CORS_ORIGINS);
  });

  it('treats empty variables as unset', () => {
    expect(readConfig({ PORT: '', HOST: '', DATABASE_PATH: '', GATEWAY_API_KEYS: '' })).toEqual(
      readConfig({}),
    );
  });

  it('reads good values, trimming them and the trailing slash of URLs', () => {
    const config = readConfig({
      PORT: ' 8080 ',
      HOST: '0.0.0.0',
      NOVITA_API_KEY: 'sk-test',
      NOVITA_BASE_URL: 'http://127.0.0.1:9999/',
      GATEWAY_API_KEYS: 'key-alpha-123456, key-beta-654321,',
      PUBLIC_URL: 'https://gateway.example.com/',
      LOG_LEVEL: 'debug',
      EMULATOR_TIME_SCALE: '2.5',
      TASK_DEADLINE_SECONDS: '60',
      MAX_IN_FLIGHT_TASKS: '3',
      MUTATIONS_PER_MINUTE: '7',
      MAX_CONNECTIONS: '100',
      SHUTDOWN_TIMEOUT_MS: '5000',
      DATABASE_URL: 'postgres://wan@db.internal:5432/wan',
      REDIS_URL: 'redis://cache.internal:6379/0',
      REDIS_PREFIX: 'wan-prod',
      TRACKING_LOCK_SECONDS: '6',
      CORS_ORIGINS: ' https://app.example.com/, http://LOCALHOST:5173 ,',
      METRICS_TOKEN: ' metrics-token-0123456789 ',
      WEBHOOK_ALLOW_PRIVATE: '1',
      WEBHOOK_SIGNING_SECRET: ' master-signing-secret-0123456789abcdef ',
    });
    expect(config).toEqual({
      port: 8080,
      host: '0.0.0.0',
      novitaApiKey: 'sk-test',
      novitaBaseUrl: 'http://127.0.0.1:9999',
      databasePath: '.data/wan-video.db',
      gatewayApiKeys: ['key-alpha-123456', 'key-beta-654321'],
      publicUrl: 'https://gateway.example.com',
      logLevel: 'debug',
      emulatorTimeScale: 2.5,
      taskDeadlineMs: 60_000,
      maxInFlightTasks: 3,
      mutationsPerMinute: 7,
      maxConnections: 100,
      shutdownTimeoutMs: 5000,
      databaseUrl: 'postgres://wan@db.internal:5432/wan',
      redisUrl: 'redis://cache.internal:6379/0',
      redisPrefix: 'wan-prod',
      trackingLockMs: 6_000,
      corsOrigins: ['https://app.example.com', 'http://localhost:5173'],
      metricsToken: 'metrics-token-0123456789',
      webhookAllowPrivate: true,
      webhookSigningSecret: 'master-signing-secret-0123456789abcdef',
    });
  });

  it('CORS_ORIGINS=* allows any origin (the gateway then sends no credentials)', () => {
    expect(readConfig({ CORS_ORIGINS: '*' }).corsOrigins).toBe('*');
  });

  it('ignores variables it does not know', () => {
    expect(readConfig({ SOMETHING_ELSE: 'x', PATH: '/usr/bin' })).toEqual(readConfig({}));
  });
});

describe('bad values', () => {
  const cases: [string, Record<string, string>][] = [
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '65536' }],
    ['PORT', { PORT: '-1' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['NOVITA_BASE_URL', { NOVITA_BASE_URL: 'ftp://x' }],
    ['NOVITA_BASE_URL', { NOVITA_BASE_URL: 'not a url' }],
    ['PUBLIC_URL', { PUBLIC_URL: 'gateway.example.com' }],
    ['GATEWAY_API_KEYS', { GATEWAY_API_KEYS: 'short' }],
    ['GATEWAY_API_KEYS', { GATEWAY_API_KEYS: 'key-alpha-123456,short' }],
    ['EMULATOR_TIME_SCALE', { EMULATOR_TIME_SCALE: '0' }],
    ['EMULATOR_TIME_SCALE', { EMULATOR_TIME_SCALE: 'fast' }],
    ['TASK_DEADLINE_SECONDS', { TASK_DEADLINE_SECONDS: '5' }],
    ['MAX_IN_FLIGHT_TASKS', { MAX_IN_FLIGHT_TASKS: '0' }],
    ['MUTATIONS_PER_MINUTE', { MUTATIONS_PER_MINUTE: '1.5' }],
    ['MAX_CONNECTIONS', { MAX_CONNECTIONS: 'many' }],
    ['SHUTDOWN_TIMEOUT_MS', { SHUTDOWN_TIMEOUT_MS: '999' }],
    ['SHUTDOWN_TIMEOUT_MS', { SHUTDOWN_TIMEOUT_MS: 'soon' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db/wan' }],
    ['REDIS_URL', { DATABASE_URL: 'postgres://db/wan', REDIS_URL: 'http://cache' }],
    ['REDIS_PREFIX', { REDIS_PREFIX: 'has space' }],
    ['TRACKING_LOCK_SECONDS', { TRACKING_LOCK_SECONDS: '1' }],
    ['DATABASE_URL', { REDIS_URL: 'redis://cache:6379' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'app.example.com' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://app.example.com/app' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://app.example.com?x=1' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'ftp://files.example.com' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: '*,https://app.example.com' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: ',' }],
    ['METRICS_TOKEN', { METRICS_TOKEN: 'short' }],
    ['METRICS_TOKEN', { METRICS_TOKEN: 'has a space in it, 16+' }],
    ['WEBHOOK_ALLOW_PRIVATE', { WEBHOOK_ALLOW_PRIVATE: 'yes' }],
    ['WEBHOOK_SIGNING_SECRET', { WEBHOOK_SIGNING_SECRET: 'too-short-secret' }],
    ['WEBHOOK_SIGNING_SECRET', { WEBHOOK_SIGNING_SECRET: 'a secret with spaces in it, 32 chars+' }],
  ];

  it.each(cases)('%s=%o is a ConfigError naming it, once', (name, env) => {
    const error = configError(env);
    expect(error.name).toBe('ConfigError');
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain(name);
    expect(error.message).toContain(name);
  });

  it('several bad values at once: one ConfigError naming each of them', () => {
    const error = configError({
      PORT: 'abc',
      LOG_LEVEL: 'loud',
      NOVITA_BASE_URL: 'ftp://x',
      GATEWAY_API_KEYS: 'short',
    });
    expect(error.problems).toHaveLength(4);
    for (const name of ['PORT', 'LOG_LEVEL', 'NOVITA_BASE_URL', 'GATEWAY_API_KEYS']) {
      expect(error.problems.filter((problem) => problem.includes(name))).toHaveLength(1);
      expect(error.message).toContain(name);
    }
  });

  it('never echoes the webhook signing secret back', () => {
    const error = configError({ WEBHOOK_SIGNING_SECRET: 'leaky-secret' });
    expect(error.message).not.toContain('leaky-secret');
  });

  it('never echoes a database or Redis password back', () => {
    const error = configError({ DATABASE_URL: 'mysql://u:pg-s3cr3t@db/wan', REDIS_URL: 'x' });
    expect(error.message).not.toContain('pg-s3cr3t');
  });

  it('never echoes a bad METRICS_TOKEN back', () => {
    const error = configError({ METRICS_TOKEN: 's3cr3t-metrics' });
    expect(error.message).not.toContain('s3cr3t-metrics');
  });

  it('never echoes a bad client key back', () => {
    const error = configError({ GATEWAY_API_KEYS: 'key-alpha-123456,s3cr3t' });
    expect(error.message).not.toContain('s3cr3t');
    expect(error.message).not.toContain('key-alpha-123456');
  });
});
