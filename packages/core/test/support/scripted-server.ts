import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** One scripted answer. */
export type Step = (res: ServerResponse, req: RecordedRequest) => void;

export const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Step =>
  (res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

export const text =
  (status: number, body: string, headers: Record<string, string> = {}): Step =>
  (res) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(body);
  };

/** Drops the connection without an answer (the client sees a reset). */
export const reset = (): Step => (res) => {
  res.socket?.resetAndDestroy();
};

/** Never answers. */
export const hang = (): Step => () => {};

/** A task-result body as the upstream writes it. */
export function taskResult(
  status:
    | 'TASK_STATUS_QUEUED'
    | 'TASK_STATUS_PROCESSING'
    | 'TASK_STATUS_SUCCEED'
    | 'TASK_STATUS_FAILED',
  fields: { progress?: number; eta?: number; reason?: string; taskId?: string; seed?: string } = {},
): Step {
  const taskId = fields.taskId ?? 'task-1';
  return json(200, {
    extra: {
      seed: fields.seed ?? '158881667',
      debug_info: { submit_time_ms: '', execute_time_ms: '', complete_time_ms: '' },
    },
    task: {
      task_id: taskId,
      task_type: 'WAN_TXT_TO_VIDEO',
      status,
      reason: fields.reason ?? '',
      eta: fields.eta ?? 0,
      progress_percent: fields.progress ?? 0,
    },
    images: [],
    videos:
      status === 'TASK_STATUS_SUCCEED'
        ? [
            {
              video_url: `https://cdn.example/${taskId}.mp4`,
              video_url_ttl: '3600',
              video_type: 'mp4',
            },
          ]
        : [],
  });
}

/**
 * A real HTTP server on 127.0.0.1 that answers each request with the next scripted step, and
 * records every request it saw. When the script runs out it answers 599, which no test expects.
 */
export async function startScriptedServer(steps: Step[] = [], port = 0) {
  const queue = [...steps];
  const requests: RecordedRequest[] = [];
  const arrivals = new Set<{ count: number; resolve: () => void }>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      for (const waiter of [...arrivals]) {
        if (requests.length >= waiter.count) {
          arrivals.delete(waiter);
          waiter.resolve();
        }
      }
      const step = queue.shift() ?? text(599, 'script exhausted');
      step(res, recorded);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    requests,
    /** Resolves once the server has received `count` requests in all (headers and body). */
    received(count: number): Promise<void> {
      if (requests.length >= count) return Promise.resolve();
      return new Promise((resolve) => arrivals.add({ count, resolve }));
    },
    /** Appends steps to the script. */
    script(...more: Step[]) {
      queue.push(...more);
    },
    get pending() {
      return queue.length;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type ScriptedServer = Awaited<ReturnType<typeof startScriptedServer>>;

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
