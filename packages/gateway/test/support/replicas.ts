/**
 * Several gateway replicas as real child processes (`a-process.ts`) on one Postgres database and
 * one Redis prefix, each on a port of its own that it keeps across restarts. Every process ever
 * started is remembered, so the log lines of a killed replica still count.
 */
import pg from 'pg';
import { type Exit, freePort, type GatewayProcess, startGatewayProcess } from './a-process.js';
import { createRedisPrefix, createTestDatabase, REDIS_URL } from './services.js';
import { NOVITA_KEY } from './stack.js';

export interface ReplicasOptions {
  /** How many replicas. */
  readonly count: number;
  /** The upstream (an emulator's URL). */
  readonly upstreamUrl: string;
  /** Redis for events, tracking and limits (the shared one by default). */
  readonly redisUrl?: string;
  /** Environment for every replica. */
  readonly env?: Record<string, string>;
  /** Environment for one replica, by index (given the ports, known before any starts). */
  readonly envOf?: (index: number, ports: readonly number[]) => Record<string, string>;
}

export interface Replicas {
  readonly ports: readonly number[];
  readonly databaseUrl: string;
  readonly redisPrefix: string;
  /** The live process of replica `index` (the latest one started on its port). */
  at(index: number): GatewayProcess;
  /** Whether replica `index` runs now. */
  running(index: number): boolean;
  /** Starts replica `index` again (on its port, with its environment). */
  start(index: number): Promise<GatewayProcess>;
  /** Signals replica `index` and waits for its exit. */
  kill(index: number, signal: NodeJS.Signals): Promise<Exit>;
  /** Every JSON log record of every process started so far, with the replica's index. */
  logs(): (Record<string, any> & { replica: number })[];
  /** SQL on the shared database. */
  sql<T extends Record<string, any> = Record<string, any>>(
    text: string,
    values?: unknown[],
  ): Promise<T[]>;
  /** Kills every replica, drops the database and the Redis keys. */
  close(): Promise<void>;
}

/** Starts `count` replicas, one after another, on a fresh database and Redis prefix. */
export async function startReplicas(options: ReplicasOptions): Promise<Replicas> {
  const replicas = await prepareReplicas(options);
  try {
    // One after another: on a busy machine, starting together only makes each one slower.
    for (const index of replicas.ports.keys()) await replicas.start(index);
  } catch (error) {
    await replicas.close();
    throw error;
  }
  return replicas;
}

/**
 * Makes the database, the Redis prefix and the ports of `count` replicas, starting none: each is
 * started with `start(index)` (a hook of its own each, where one start may take seconds).
 */
export async function prepareReplicas(options: ReplicasOptions): Promise<Replicas> {
  const redisUrl = options.redisUrl ?? REDIS_URL;
  const database = await createTestDatabase();
  const prefix = createRedisPrefix(redisUrl);
  const ports: number[] = [];
  for (let index = 0; index < options.count; index++) ports.push(await freePort());
  const pool = new pg.Pool({ connectionString: database.url, max: 2 });
  // `pool.end()` resolves before its idle clients have closed, so the database's drop (FORCE)
  // can terminate one of them first: an error on a client being closed, nothing to act on (it
  // failed a fresh-clone CI run as an uncaught exception).
  pool.on('error', () => {});
  const current: (GatewayProcess | undefined)[] = ports.map(() => undefined);
  const all: { replica: number; process: GatewayProcess }[] = [];
  const envOf = (index: number): Record<string, string> => ({
    NOVITA_API_KEY: NOVITA_KEY,
    NOVITA_BASE_URL: options.upstreamUrl,
    DATABASE_URL: database.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix.prefix,
    // A killed replica's tasks move to the others within about 4 s, not the production 20 s.
    TRACKING_LOCK_SECONDS: '3',
    LOG_LEVEL: 'info',
    ...options.env,
    ...options.envOf?.(index, ports),
  });
  const start = async (index: number) => {
    const process = await startGatewayProcess(ports[index] as number, envOf(index), {
      // A start takes 5 to 15 s on a busy machine; each is given a hook or test of its own.
      healthyWithinMs: 27_000,
    });
    current[index] = process;
    all.push({ replica: index, process });
    return process;
  };
  const replicas: Replicas = {
    ports,
    databaseUrl: database.url,
    redisPrefix: prefix.prefix,
    at(index) {
      const process = current[index];
      if (!process) throw new Error(`replica ${index} is not running`);
      return process;
    },
    running: (index) => current[index] !== undefined,
    start,
    async kill(index, signal) {
      const process = replicas.at(index);
      const exit = await process.kill(signal);
      current[index] = undefined;
      return exit;
    },
    logs: () =>
      all.flatMap(({ replica, process }) =>
        process.logs().map((record) => ({ ...record, replica })),
      ),
    async sql(text, values) {
      const result = await pool.query(text, values);
      return result.rows;
    },
    async close() {
      await Promise.all(
        current.map((process, index) => (process ? replicas.kill(index, 'SIGKILL') : undefined)),
      );
      await pool.end();
      await database.drop();
      await prefix.drop();
    },
  };
  return replicas;
}
