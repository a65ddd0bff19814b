/**
 * The embedded default as users run it: the gateway as a child process with no NOVITA_API_KEY,
 * its emulator mounted on its own origin with its state beside the SQLite file. A restart
 * (SIGKILL or SIGTERM) loses no task and breaks no video link; videos are served from the
 * gateway's origin with Range and download; a task the upstream lost ends FAILED in seconds.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  type GatewayProcess,
  startGatewayProcess,
  stopAllGatewayProcesses,
} from './support/a-process.js';
import { GENERATE, QUERY_TASK, smallInput, WATCH } from './support/stack.js';

/** 832x480 at 30 steps: 20 s at time scale 1, 5 s here. */
const TIME_SCALE = 4;

let dir: string;
let port: number;
let env: Record<string, string>;
let gateway: GatewayProcess;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wan-gateway-embedded-'));
  port = await freePort();
  env = {
    DATABASE_PATH: join(dir, 'db.sqlite'),
    EMULATOR_TIME_SCALE: String(TIME_SCALE),
    LOG_LEVEL: 'info',
  };
  gateway = await startGatewayProcess(port, env);
});

afterAll(async () => {
  await stopAllGatewayProcesses();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Subscribes to a task; resolves with the first event `until` accepts (or the last one). */
function eventWhere(
  client: Client,
  id: string,
  until: (task: any) => boolean,
): Promise<{ task: any; events: any[] }> {
  const events: any[] = [];
  return new Promise((resolve, reject) => {
    const stop = client.subscribe(
      { query: WATCH, variables: { id } },
      {
        next: (message) => {
          if (message.errors) reject(new Error(JSON.stringify(message.errors)));
          const task = (message.data as any)?.videoTask;
          if (!task) return;
          events.push(task);
          if (until(task)) {
            stop();
            resolve({ task, events });
          }
        },
        error: reject,
        complete: () => resolve({ task: events.at(-1), events }),
      },
    );
  });
}

const done = (task: any) => task.status === 'SUCCEEDED' || task.status === 'FAILED';

async function generate(seed: number): Promise<string> {
  const { body } = await gateway.gql(GENERATE, { input: smallInput({ steps: 30, seed }) });
  expect(body.errors).toBeUndefined();
  return body.data.generateVideo.id;
}

/** The ids of the tasks in the emulator's journal. */
const journalled = () =>
  new Set(
    readFileSync(join(dir, 'db.sqlite-emulator', 'tasks.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line).id as string),
  );

const sha = (bytes: ArrayBuffer) => createHash('sha256').update(Buffer.from(bytes)).digest('hex');

describe('the embedded emulator on the gateway origin', () => {
  let link: string;
  let digest: string;

  it('finishes a task across a SIGKILL mid-task, sent upstream once', async () => {
    const id = await generate(101);
    await eventWhere(gateway.ws(), id, (task) => task.status === 'PROCESSING');
    expect(journalled().size).toBe(1);
    await gateway.kill('SIGKILL');

    gateway = await startGatewayProcess(port, env);
    const { task } = await eventWhere(gateway.ws(), id, done);
    expect(task.status).toBe('SUCCEEDED');
    expect(journalled().size).toBe(1); // no second upstream task
    link = task.videos[0].url;
    expect(link).toBe(`http://127.0.0.1:${port}/videos/${id}/0.mp4`);
    expect(task.videos[0].expiresAt).toBeNull();

    const response = await fetch(link);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('video/mp4');
    const bytes = await response.arrayBuffer();
    expect(Buffer.from(bytes).subarray(4, 8).toString('latin1')).toBe('ftyp');
    digest = sha(bytes);
  }, 60_000);

  it('serves the same link after a graceful restart, with Range and download', async () => {
    expect(link).toBeDefined();
    const exit = await gateway.kill('SIGTERM');
    expect(exit.code).toBe(0);
    gateway = await startGatewayProcess(port, env);

    const again = await fetch(link);
    expect(again.status).toBe(200);
    const bytes = await again.arrayBuffer();
    expect(sha(bytes)).toBe(digest);

    const part = await fetch(link, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 0-99/${bytes.byteLength}`);
    expect((await part.arrayBuffer()).byteLength).toBe(100);

    const download = await fetch(`${link}?download`);
    expect(download.status).toBe(200);
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename=".+\.mp4"$/);
    await download.body?.cancel();
  }, 60_000);

  it('builds links on the host the client reached', async () => {
    const id = new URL(link).pathname.split('/')[2] as string;
    // fetch sets Host itself: node:http sends the one given.
    const body = JSON.stringify({ query: QUERY_TASK, variables: { id } });
    const answer = await new Promise<any>((resolve, reject) => {
      const req = request(
        `${gateway.url}/graphql`,
        {
          method: 'POST',
          headers: {
            host: `localhost:${port}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk) => {
            text += chunk;
          });
          res.on('end', () => resolve(JSON.parse(text)));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.data.videoTask.videos[0].url).toBe(`http://localhost:${port}/videos/${id}/0.mp4`);
  });

  it('answers a clear 404 for a video that does not exist', async () => {
    const missing = await fetch(`http://127.0.0.1:${port}/videos/${crypto.randomUUID()}/0.mp4`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).errors[0].extensions.code).toBe('NOT_FOUND');
  });

  it('mounts the emulator under /emulator, its API for the gateway alone', async () => {
    const info = await fetch(`${gateway.url}/emulator/`);
    expect(await info.json()).toMatchObject({ name: 'wan-video-emulator', emulated: true });
    const create = await fetch(`${gateway.url}/emulator/v3/async/wan-t2v`, {
      method: 'POST',
      headers: { authorization: 'Bearer a-guess', 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'x', width: 832, height: 480 }),
    });
    expect(create.status).toBe(401);
    const log = await fetch(`${gateway.url}/emulator/__emulator/requests`);
    expect(log.status).toBe(200);
  });

  it('ends FAILED within seconds a task the upstream no longer knows', async () => {
    const id = await generate(202);
    await eventWhere(gateway.ws(), id, (task) => task.status === 'PROCESSING');
    await gateway.kill('SIGKILL');
    // The emulator forgets every task, as an upstream that lost them would.
    await rm(join(dir, 'db.sqlite-emulator', 'tasks.jsonl'));

    gateway = await startGatewayProcess(port, env);
    const started = Date.now();
    const { task } = await eventWhere(gateway.ws(), id, done);
    expect(task.status).toBe('FAILED');
    expect(task.failureReason).toMatch(/TASK_NOT_FOUND/);
    // Three reads over at least 10 s, then the end: well under the 30-minute deadline.
    expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
  }, 60_000);
});
