/**
 * Findings of the second adversarial run, in one process: a burst of subscribes on one socket,
 * every string bounded, clients that do not read their answers, and upstream text as data.
 * (Findings that need real processes, a lock, a kill or a signal: hardening-2-processes.test.ts.)
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LIMITS } from '@wan-video/core';
import { type Emulator, startEmulator } from '@wan-video/emulator';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { CLOSE_TOO_SLOW } from '../src/websocket-backpressure.js';
import { freePort } from './support/a-process.js';
import { FAT_QUERY, fatDatabase } from './support/fat-tasks.js';
import { type Relay, startRelay } from './support/relay.js';
import {
  creates,
  GENERATE,
  QUERY_TASK,
  type Stack,
  smallInput,
  startStack,
  watch,
} from './support/stack.js';

const stacks: Stack[] = [];
async function stack(options: Parameters<typeof startStack>[0] = {}) {
  const started = await startStack(options);
  stacks.push(started);
  return started;
}
const servers: Server[] = [];
const relays: Relay[] = [];
const emulators: Emulator[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of stacks.splice(0)) await s.stop().catch(() => {});
  for (const relay of relays.splice(0)) await relay.close();
  for (const emulator of emulators.splice(0)) await emulator.close();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A graphql-ws connection spoken by hand: every message it receives is kept. */
async function rawSocket(url: string) {
  const ws = new WebSocket(url, 'graphql-transport-ws');
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  await once(ws, 'open');
  ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  await vi.waitFor(() => expect(messages.map((m) => m.type)).toContain('connection_ack'));
  return { ws, messages, closed };
}

describe('finding 1: the per-socket operation cap holds under a burst', () => {
  it('5,000 subscribes sent at once on one socket: exactly 100 accepted, 4,900 RATE_LIMITED', async () => {
    const s = await stack({ emulator: { faults: { stallTasks: { progress: 10 } } } });
    const { body } = await s.gql(GENERATE, { input: smallInput({ seed: 201 }) });
    const id = body.data.generateVideo.id as string;
    const { ws, messages } = await rawSocket(s.gateway.wsUrl);
    const query = 'subscription($id: ID!) { videoTask(id: $id) { status } }';
    // One synchronous loop: the frames leave in a few TCP segments and arrive as one burst.
    for (let i = 0; i < 5000; i++) {
      ws.send(
        JSON.stringify({ id: `s${i}`, type: 'subscribe', payload: { query, variables: { id } } }),
      );
    }
    const answered = () => new Set(messages.filter((m) => m.id).map((m) => m.id as string));
    await vi.waitFor(() => expect(answered().size).toBe(5000), { timeout: 25_000, interval: 100 });
    const nexts = new Set(messages.filter((m) => m.type === 'next').map((m) => m.id));
    const errors = messages.filter((m) => m.type === 'error');
    expect(nexts.size).toBe(100);
    expect(errors).toHaveLength(4900);
    for (const error of errors) {
      expect(nexts.has(error.id)).toBe(false);
      expect(error.payload[0].extensions).toMatchObject({
        code: 'RATE_LIMITED',
        limit: 'operations_per_connection',
      });
    }
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.terminate();
  });
});

describe('finding 2: every string input is bounded', () => {
  it(`a LoRA path over ${LIMITS.loraPath.maxLength} characters is BAD_USER_INPUT naming it, and nothing is sent`, async () => {
    const s = await stack();
    const { maxLength } = LIMITS.loraPath;
    const ok = await s.gql(GENERATE, {
      input: smallInput({ seed: 202, loras: [{ path: 'l'.repeat(maxLength), scale: 0.5 }] }),
    });
    expect(ok.body.errors).toBeUndefined();
    const before = creates(await s.upstream()).length;
    const { body } = await s.gql(GENERATE, {
      input: smallInput({
        seed: 203,
        loras: [
          { path: 'ok', scale: 1 },
          { path: '🎬'.repeat(maxLength + 1), scale: 1 },
        ],
      }),
    });
    expect(body.errors?.[0].extensions).toEqual({
      code: 'BAD_USER_INPUT',
      issues: [
        {
          path: ['input', 'loras', 1, 'path'],
          rule: 'max_length',
          message: `loras[1].path must be at most ${maxLength} characters (got ${maxLength + 1})`,
        },
      ],
    });
    expect(creates(await s.upstream())).toHaveLength(before);
  });
});

describe('finding 3: a client that does not read its answers', () => {
  it('over WebSocket: closed with 4008 once 4 MiB wait for it; the event loop and /metrics stay responsive', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wan-fat-'));
    dirs.push(dir);
    const databasePath = join(dir, 'fat.sqlite');
    await fatDatabase(databasePath);
    const s = await stack({ databasePath });
    const { ws, messages, closed } = await rawSocket(s.gateway.wsUrl);
    // The client stops reading: the kernel's buffers fill, then the server's.
    (ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    for (let i = 0; i < 100; i++) {
      ws.send(JSON.stringify({ id: `q${i}`, type: 'subscribe', payload: { query: FAT_QUERY } }));
    }
    const startedAt = performance.now();
    const metrics = await fetch(`${s.gateway.url}/metrics`);
    const metricsMs = performance.now() - startedAt;
    expect(metrics.status).toBe(200);
    await vi.waitFor(
      () =>
        expect(
          s.logs.some((line) => line.includes('closed a WebSocket whose client read too slowly')),
        ).toBe(true),
      { timeout: 20_000, interval: 50 },
    );
    delay.disable();
    // The client reads again: its backlog, then the close frame that says why.
    (ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
    const { code } = await closed;
    expect(code).toBe(CLOSE_TOO_SLOW);
    // Far fewer than the 100 answers asked for were computed and queued: about 4 MiB of them.
    const answers = messages.filter((m) => m.type === 'next').length;
    expect(answers).toBeLessThan(20);
    // No turn of the event loop was spent on this client's answers for long (one turn for all of
    // them: 6 to 9 s here, and /metrics as long).
    expect(delay.max / 1e6).toBeLessThan(2000);
    expect(metricsMs).toBeLessThan(2000);
  });

  it('over HTTP: a connection pipelining 200 requests without reading is cut off after 8', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wan-fat-'));
    dirs.push(dir);
    const databasePath = join(dir, 'fat.sqlite');
    await fatDatabase(databasePath);
    const s = await stack({ databasePath });
    const { port } = new URL(s.gateway.url);
    const socket = connect(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.pause();
    const body = JSON.stringify({ query: FAT_QUERY });
    const request = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    socket.write(request.repeat(200));
    await vi.waitFor(
      () =>
        expect(
          s.logs.some((line) =>
            line.includes('closed an HTTP connection whose client reads too slowly'),
          ),
        ).toBe(true),
      { timeout: 20_000, interval: 50 },
    );
    socket.resume();
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
    });
    await once(socket, 'close');
    // The connection was closed before 8 answers could even be sent: at most 8 were made.
    expect(received.split('HTTP/1.1 200').length - 1).toBeLessThanOrEqual(8);
    // The gateway still serves everyone else.
    expect((await s.gql('{ gateway { emulated } }')).status).toBe(200);
  });
});

/** An upstream on loopback answering every create with `status` and `body`; reads with `read`. */
async function hostileUpstream(status: number, body: unknown) {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const HOSTILE = {
  reason: 'BAD_REQUEST<script>alert(1)</script>',
  message: 'first line\nsecond line <img src=x onerror=alert(1)>\u0007\r\n\tthird line',
};

/** Whatever the body holds, nowhere an `originalError` or a stack. */
function expectNoInternals(body: unknown) {
  const text = JSON.stringify(body);
  expect(text).not.toContain('originalError');
  expect(text).not.toMatch(/"stack"/);
  expect(text).not.toMatch(/at [\w.<>]+ \((?:file:|\/|node:)/);
}

describe('finding 7: upstream text is data', () => {
  const developmentMode = () => {
    // yoga adds `originalError` (with its stack) to masked errors when NODE_ENV is development.
    const previous = process.env.NODE_ENV;
    process.env.NODE_ENV = 'development';
    return () => {
      process.env.NODE_ENV = previous;
    };
  };

  it('a refused create: UPSTREAM_REJECTED with the upstream text as data, one line in the message', async () => {
    const restore = developmentMode();
    try {
      const upstream = await hostileUpstream(400, { code: 400, ...HOSTILE, metadata: {} });
      const s = await stack({ env: { NOVITA_BASE_URL: upstream } });
      const { body } = await s.gql(GENERATE, { input: smallInput({ seed: 204 }) });
      const [error] = body.errors ?? [];
      expect(error.extensions).toEqual({
        code: 'UPSTREAM_REJECTED',
        status: 400,
        reason: HOSTILE.reason,
        upstreamMessage: HOSTILE.message,
      });
      // Nothing was created upstream, so no task is named: there is none.
      expect(error.extensions.taskId).toBeUndefined();
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it checks
      expect(error.message).not.toMatch(/[\u0000-\u001f]/);
      expect(error.message).toContain('second line <img src=x onerror=alert(1)>');
      expectNoInternals(body);
    } finally {
      restore();
    }
  });

  it('an unconfirmed create: UPSTREAM_UNAVAILABLE naming the task it kept, whose reason is one line', async () => {
    const restore = developmentMode();
    try {
      const upstream = await hostileUpstream(500, { code: 500, ...HOSTILE, metadata: {} });
      const s = await stack({ env: { NOVITA_BASE_URL: upstream } });
      const { body } = await s.gql(GENERATE, { input: smallInput({ seed: 205 }) });
      const [error] = body.errors ?? [];
      expect(error.extensions).toMatchObject({
        code: 'UPSTREAM_UNAVAILABLE',
        status: 500,
        upstreamMessage: HOSTILE.message,
        taskId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(error.message).toContain(error.extensions.taskId);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it checks
      expect(error.message).not.toMatch(/[\u0000-\u001f]/);
      expectNoInternals(body);
      const task = await s.gql(QUERY_TASK, { id: error.extensions.taskId });
      expect(task.body.data.videoTask).toMatchObject({ status: 'FAILED' });
      const reason = task.body.data.videoTask.failureReason as string;
      expect(reason).toContain('may or may not exist');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it checks
      expect(reason).not.toMatch(/[\u0000-\u001f]/);
      expectNoInternals(task.body);
    } finally {
      restore();
    }
  });

  it('an unreadable answer to a create: the task is named, nothing of the body or a stack leaks', async () => {
    const restore = developmentMode();
    try {
      const upstream = await hostileUpstream(200, '<html>\n<script>alert(1)</script>');
      const s = await stack({ env: { NOVITA_BASE_URL: upstream } });
      const { body } = await s.gql(GENERATE, { input: smallInput({ seed: 206 }) });
      const [error] = body.errors ?? [];
      expect(error.extensions).toMatchObject({
        code: 'UPSTREAM_UNAVAILABLE',
        taskId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(JSON.stringify(body)).not.toContain('<script>');
      expectNoInternals(body);
    } finally {
      restore();
    }
  });
});

describe('finding 5: no orphaned paid task in webhook mode', () => {
  it('a create the upstream made but answered 502: FAILED at first, then its webhook adopts it and it ends SUCCEEDED', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wan-adopt-'));
    dirs.push(dir);
    const emulator = await startEmulator({ timeScale: 20, storageDir: join(dir, 'videos') });
    emulators.push(emulator);
    // The gateway reaches the emulator through a relay that turns the emulator's answer to the
    // create into a 502, after the emulator made (and billed) the task.
    const relay = await startRelay(emulator.url);
    relays.push(relay);
    relay.fate = {
      kind: 'replace',
      status: 502,
      body: '{"code":502,"reason":"BAD_GATEWAY","message":"upstream hiccup"}',
    };
    const port = await freePort();
    const s = await stack({
      env: {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        NOVITA_BASE_URL: relay.url,
      },
      gateway: { webhookFallbackMs: 120_000 },
    });
    const { body } = await s.gql(GENERATE, { input: smallInput({ seed: 207 }) });
    const [error] = body.errors ?? [];
    expect(error.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', status: 502 });
    const taskId = error.extensions.taskId as string;
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);
    expect(relay.created).toHaveLength(1);
    expect((await s.gql(QUERY_TASK, { id: taskId })).body.data.videoTask.status).toBe('FAILED');

    // The task ends upstream; the emulator calls the webhook URL, which names the gateway's task.
    await vi.waitFor(
      async () =>
        expect((await s.gql(QUERY_TASK, { id: taskId })).body.data.videoTask).toMatchObject({
          status: 'SUCCEEDED',
          failureReason: null,
          videos: [{ url: expect.any(String) }],
        }),
      { timeout: 20_000, interval: 100 },
    );
    expect(s.logs.some((line) => line.includes('adopted'))).toBe(true);
    // One create, ever.
    const made = creates([...emulator.requests()]);
    expect(made).toHaveLength(1);
    expect(made[0]?.taskId).toBe(relay.created[0]);
    const sub = watch(s.ws(), taskId);
    await sub.done;
    expect(sub.events.at(-1)).toMatchObject({ id: taskId, status: 'SUCCEEDED' });
  });

  it('a webhook with the right secret naming a task the upstream does not have changes nothing', async () => {
    // An upstream that fails the create (5xx: the task is kept FAILED) and knows no task.
    let webhookUrl = '';
    const upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.method === 'POST') {
          webhookUrl = JSON.parse(Buffer.concat(chunks).toString()).extra.webhook.url;
          res.writeHead(500, { 'content-type': 'application/json' }).end('{"code":500}');
          return;
        }
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end('{"code":404,"reason":"TASK_NOT_FOUND","message":"no such task"}');
      });
    });
    servers.push(upstream);
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = await freePort();
    const s = await stack({
      env: {
        PORT: String(port),
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        NOVITA_BASE_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      },
    });
    const { body } = await s.gql(GENERATE, { input: smallInput({ seed: 208 }) });
    const taskId = body.errors?.[0].extensions.taskId as string;
    expect(webhookUrl).toContain(taskId);
    const hook = await fetch(webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        event_type: 'ASYNC_TASK_RESULT',
        payload: {
          task: { task_id: 'not-upstream', status: 'TASK_STATUS_SUCCEED', progress_percent: 100 },
          videos: [
            { video_url: 'https://evil.example/x.mp4', video_url_ttl: '3600', video_type: 'mp4' },
          ],
        },
      }),
    });
    expect(hook.status).toBe(202);
    expect((await s.gql(QUERY_TASK, { id: taskId })).body.data.videoTask).toMatchObject({
      status: 'FAILED',
      videos: [],
    });
    expect(s.logs.some((line) => line.includes('does not confirm'))).toBe(true);
  });
});
