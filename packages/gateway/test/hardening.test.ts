/** Regressions from the review: shutdown with creates in flight, early webhooks, discarded tasks, crowds. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { createClient } from 'graphql-ws';
import Database from 'libsql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { creates, GENERATE, type Stack, smallInput, startStack, watch } from './support/stack.js';

const stacks: Stack[] = [];
async function stack(options: Parameters<typeof startStack>[0] = {}) {
  const started = await startStack(options);
  stacks.push(started);
  return started;
}
afterEach(async () => {
  for (const s of stacks.splice(0)) await s.stop().catch(() => {});
});

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('shutdown', () => {
  it('lets a create in flight finish, record its upstream id and answer its client', async () => {
    const s = await stack({ emulator: { faults: { latencyMs: 800, routes: ['create'] } } });
    const pending = s.gql(GENERATE, { input: smallInput({ seed: 61 }) });
    await vi.waitFor(async () => expect(creates(await s.upstream())).toHaveLength(1));
    await s.gateway.stop();
    const { body } = await pending;
    expect(body.errors).toBeUndefined();
    expect(body.data.generateVideo.status).toBe('QUEUED');
    const db = new Database(s.databasePath, { readonly: true });
    const rows = db.prepare('SELECT status, upstream_task_id FROM tasks').all() as {
      status: string;
      upstream_task_id: string | null;
    }[];
    db.close();
    expect(rows).toEqual([{ status: 'QUEUED', upstream_task_id: expect.any(String) }]);
  });
});

describe('a task the upstream never created', () => {
  it('ends its subscribers with FAILED instead of leaving them open', async () => {
    const s = await stack({
      emulator: {
        faults: {
          latencyMs: 400,
          rateLimit: { count: 10, retryAfterSeconds: 120 },
          routes: ['create'],
        },
      },
    });
    const mutation = s.gql(GENERATE, { input: smallInput({ seed: 62 }) });
    let id = '';
    await vi.waitFor(async () => {
      const list = await s.gql('{ videoTasks(first: 1) { edges { node { id } } } }');
      id = list.body.data.videoTasks.edges[0]?.node.id ?? '';
      expect(id).not.toBe('');
    });
    const sub = watch(s.ws(), id);
    const { body } = await mutation;
    expect(body.errors?.[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    await sub.done;
    expect(sub.events.at(-1)).toMatchObject({ status: 'FAILED' });
    expect(sub.events.at(-1).failureReason).toMatch(/did not create/);
  });
});

describe('crowds', () => {
  it('a crowd of /readyz calls makes one upstream probe', async () => {
    const s = await stack({ emulator: { faults: { latencyMs: 300, routes: ['result'] } } });
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => fetch(`${s.gateway.url}/readyz`)),
    );
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    const probes = (await s.upstream()).filter(
      (entry) => entry.taskId === 'wan-video-readiness-probe',
    );
    expect(probes).toHaveLength(1);
  });

  it('one WebSocket may hold at most 100 operations', async () => {
    const s = await stack({ emulator: { faults: { stallTasks: { progress: 10 } } } });
    const { body } = await s.gql(GENERATE, { input: smallInput({ seed: 63 }) });
    const id = body.data.generateVideo.id;
    const client = createClient({
      url: s.gateway.wsUrl,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    try {
      const firsts: Promise<unknown>[] = [];
      const stops: (() => void)[] = [];
      for (let i = 0; i < 100; i++) {
        firsts.push(
          new Promise((resolve, reject) => {
            stops.push(
              client.subscribe(
                {
                  query: 'subscription($id: ID!) { videoTask(id: $id) { status } }',
                  variables: { id },
                },
                { next: resolve, error: reject, complete: () => {} },
              ),
            );
          }),
        );
      }
      await Promise.all(firsts);
      const refused = await new Promise<unknown>((resolve) => {
        client.subscribe(
          { query: 'subscription($id: ID!) { videoTask(id: $id) { status } }', variables: { id } },
          { next: () => {}, error: resolve, complete: () => resolve('completed') },
        );
      });
      expect(JSON.stringify(refused)).toContain('operations_per_connection');
      for (const stop of stops) stop();
    } finally {
      await client.dispose();
    }
  });
});

describe('a webhook that beats the create answer', () => {
  it('is not lost: the task is read as soon as its upstream id is known', async () => {
    // A real upstream on loopback that finishes at once and calls the webhook before answering the create.
    let reads = 0;
    const upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        if (req.method === 'POST') {
          const hook = JSON.parse(Buffer.concat(chunks).toString()).extra.webhook.url as string;
          await fetch(hook, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"event_type":"ASYNC_TASK_RESULT"}',
          });
          res
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ task_id: 'early-1' }));
          return;
        }
        reads++;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            extra: { seed: '1' },
            task: {
              task_id: 'early-1',
              task_type: 'WAN_TXT_TO_VIDEO',
              status: 'TASK_STATUS_SUCCEED',
              reason: '',
              eta: 0,
              progress_percent: 100,
            },
            videos: [
              { video_url: 'http://127.0.0.1:1/v.mp4', video_url_ttl: '3600', video_type: 'mp4' },
            ],
          }),
        );
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    try {
      const port = await freePort();
      const s = await stack({
        env: {
          PORT: String(port),
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          NOVITA_BASE_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
        },
        gateway: { webhookFallbackMs: 120_000 },
      });
      const { body } = await s.gql(GENERATE, { input: smallInput({ seed: 64 }) });
      const sub = watch(s.ws(), body.data.generateVideo.id);
      await sub.done;
      expect(sub.events.at(-1).status).toBe('SUCCEEDED');
      expect(reads).toBe(1);
    } finally {
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    }
  });
});
