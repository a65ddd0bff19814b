/**
 * SQLite's WAL checkpoints, off the event loop. By default the connection that commits runs a
 * checkpoint whenever the WAL passes 1,000 pages: under load that stalled the gateway's event
 * loop 16 to 30 ms every ~50 mutations. Here the gateway's connection never checkpoints
 * (`wal_autocheckpoint = 0`); a worker thread with a connection of its own runs a PASSIVE
 * checkpoint now and then, which copies what it can without waiting for, or blocking, the
 * gateway's reads and writes. Only a WAL past 10,000 frames (about 40 MB) that writes without
 * a pause kept from starting over gets a RESTART checkpoint, which makes the next write wait
 * for the copy of what is left.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** The worker's code: CommonJS, evaluated, so that it needs no file of its own (bundles work). */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
const timer = setInterval(() => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    // Writes that never pause leave no moment when every frame is copied, and the WAL only
    // starts over then: past a bound it is copied in full, the writer waiting that long.
    if (result && result.log > workerData.maxFrames && result.checkpointed < result.log) {
      db.pragma('wal_checkpoint(RESTART)');
    }
  } catch (error) {
    parentPort.postMessage(String(error && error.message));
  }
}, workerData.everyMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  /** Stops the worker (its connection closed) and waits until it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts checkpointing `path` every `everyMs` in a worker thread. `onError` hears of a failed
 * checkpoint (the next one tries again; the WAL only grows meanwhile).
 */
export function startCheckpointer(
  path: string,
  options: { everyMs?: number; onError?: (message: string) => void } = {},
): Checkpointer {
  const driver = createRequire(import.meta.url).resolve('libsql');
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { driver, path, everyMs: options.everyMs ?? 500, maxFrames: 10_000 },
  });
  // It never keeps the process alive by itself.
  worker.unref();
  worker.on('message', (message: string) => options.onError?.(message));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('error', (error) => options.onError?.(error.message));
  return {
    async stop() {
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 2000);
      await exited;
      clearTimeout(timer);
    },
  };
}
