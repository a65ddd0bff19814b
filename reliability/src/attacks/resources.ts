/**
 * Attacks on the gateway's resources: clients that ask for a lot and never read (GraphiQL's
 * page and assets, large answers over WebSocket, pipelined HTTP requests), a burst of subscribes
 * on one socket, and documents or bodies too big or too deep. Each one reads the gateway
 * process's RSS off /proc and times /healthz while it runs.
 *
 * The first part of this file is the toolkit the other attack families (browser.ts, tenancy.ts,
 * secrets.ts) import: a transcript of everything the gateway answered, raw HTTP with any
 * headers, graphql-ws spoken by hand, polling, RSS.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { LIMITS } from '@wan-video/core';
import { GenerateVideoMutation } from '@wan-video/operations';
import { print } from 'graphql';
import WebSocket from 'ws';
import { type Attack, leaksIn, ledger, outcome } from '../attack.js';
import { type Stack, withStack } from '../stack.js';

// The toolkit ----------------------------------------------------------------------------------

export const GENERATE = print(GenerateVideoMutation);

/** A small valid input: 832×480 at 10 steps takes about 0.3 s upstream at time scale 20. */
export const smallInput = (patch: Record<string, unknown> = {}) => ({
  prompt: 'a lighthouse at dusk, waves',
  width: 832,
  height: 480,
  steps: 10,
  seed: 7,
  ...patch,
});

export const MB = 1024 * 1024;

/** An HTTP answer as received: status, headers and body text. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** How a WebSocket ended: its close frame, or the HTTP status its upgrade was refused with. */
export type SocketEnd =
  | { readonly kind: 'closed'; readonly code: number; readonly reason: string }
  | { readonly kind: 'refused'; readonly status: number; readonly body: string }
  | { readonly kind: 'failed'; readonly error: string };

/**
 * Everything the gateway said during an attack, as text (bodies, headers, WebSocket messages,
 * close reasons), and how many answers were 5xx (or a close with 1011): what leaks are looked
 * for in and what `http500` counts.
 */
export class Transcript {
  readonly texts: string[] = [];
  http500 = 0;

  /** Keeps a text the gateway produced. */
  note(text: string): void {
    this.texts.push(text);
  }

  /** Keeps an HTTP answer and counts it when it is a 5xx. */
  answer(answer: Answer): Answer {
    if (answer.status >= 500) this.http500 += 1;
    this.note(JSON.stringify([answer.status, answer.headers, answer.body]));
    return answer;
  }

  /** Keeps how a socket ended; a 1011 close or a 5xx refusal counts as a 5xx. */
  end(end: SocketEnd): SocketEnd {
    if (end.kind === 'closed' && end.code === 1011) this.http500 += 1;
    if (end.kind === 'refused' && end.status >= 500) this.http500 += 1;
    this.note(JSON.stringify(end));
    return end;
  }

  /** Secrets of `stack` in this transcript and in everything the gateway wrote. */
  leaks(stack: Stack): number {
    return leaksIn([...this.texts, ...stack.output()], stack.secrets);
  }

  /** One HTTP request with any headers (Host included), its answer kept. */
  async http(url: string, options: RequestOptions = {}): Promise<Answer> {
    return this.answer(await send(url, options));
  }

  /** A GraphQL POST as JSON; the answer kept, its body parsed (undefined if not JSON). */
  async gql(
    url: string,
    query: string,
    variables: Record<string, unknown> = {},
    headers: Record<string, string> = {},
  ): Promise<Answer & { json: any }> {
    const answer = await this.http(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return { ...answer, json: parseJson(answer.body) };
  }
}

export const parseJson = (text: string): any => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** The first error code of a GraphQL answer body. */
export const codeOf = (json: any): string | undefined => json?.errors?.[0]?.extensions?.code;

/** Every error code of a list of GraphQL errors. */
export const codesIn = (errors: unknown): string[] =>
  Array.isArray(errors) ? errors.map((error) => error?.extensions?.code).filter(Boolean) : [];

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Gives up after this long (the answer is then status 0). */
  readonly timeoutMs?: number;
}

/** One HTTP request over loopback, on a connection of its own, with any headers. */
export function send(url: string, options: RequestOptions = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const body = options.body ?? '';
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: {
          ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
          ...options.headers,
        },
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', (error) => resolve({ status: 0, headers: {}, body: String(error) }));
      },
    );
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', (error) => resolve({ status: 0, headers: {}, body: String(error) }));
    req.end(body);
  });
}

/** Polls `check` every `everyMs` until it holds (true) or `ms` have passed (false). */
export async function until(
  check: () => boolean | Promise<boolean>,
  ms: number,
  everyMs = 50,
): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= end) return false;
    await delay(everyMs);
  }
}

/** How many of the gateway's output lines contain `text` so far. */
export const linesWith = (stack: Stack, text: string): number =>
  stack.output().filter((line) => line.includes(text)).length;

/** A graphql-transport-ws socket spoken by hand: every message it got, parsed, in order. */
export interface GqlSocket {
  readonly ws: WebSocket;
  readonly messages: any[];
  /** Resolves once the socket is gone, however that happened (kept in the transcript). */
  readonly ended: Promise<SocketEnd>;
  /** Sends one protocol message. */
  send(message: object): void;
}

/**
 * Opens a graphql-transport-ws socket with any headers; resolves once it is open or refused
 * (then `ended` says how). Messages and the end are kept in `transcript`.
 */
export async function openSocket(
  url: string,
  transcript: Transcript,
  headers: Record<string, string> = {},
): Promise<GqlSocket> {
  const ws = new WebSocket(url, 'graphql-transport-ws', { headers });
  const messages: any[] = [];
  ws.on('message', (data) => {
    const text = String(data);
    transcript.note(text);
    messages.push(parseJson(text) ?? { type: 'unparsable', text });
  });
  const ended = new Promise<SocketEnd>((resolve) => {
    let opened = false;
    let failure = '';
    ws.once('open', () => {
      opened = true;
    });
    ws.on('error', (error) => {
      failure ||= String(error);
    });
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({
          kind: 'refused',
          status: res.statusCode ?? 0,
          body: String(Buffer.concat(chunks)),
        });
        ws.terminate();
      });
    });
    ws.once('close', (code, reason) =>
      resolve(
        opened
          ? { kind: 'closed', code, reason: String(reason) }
          : { kind: 'failed', error: failure || `closed with ${code} before opening` },
      ),
    );
  }).then((end) => transcript.end(end));
  await Promise.race([once(ws, 'open').catch(() => {}), ended]);
  return {
    ws,
    messages,
    ended,
    send: (message) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
    },
  };
}

/** Sends `connection_init` and waits (at most `ms`) for the ack; false if refused or closed. */
export async function initSocket(
  socket: GqlSocket,
  payload?: Record<string, unknown>,
  ms = 15_000,
): Promise<boolean> {
  if (socket.ws.readyState !== WebSocket.OPEN) return false;
  socket.send({ type: 'connection_init', ...(payload ? { payload } : {}) });
  let gone = false;
  void socket.ended.then(() => {
    gone = true;
  });
  await until(() => gone || socket.messages.some((m) => m.type === 'connection_ack'), ms);
  return socket.messages.some((m) => m.type === 'connection_ack');
}

/** How a socket ended, waiting at most `ms` (then it is cut off, and `undefined`: still open). */
export async function endWithin(socket: GqlSocket, ms = 15_000): Promise<SocketEnd | undefined> {
  const end = await Promise.race([socket.ended, delay(ms).then(() => undefined)]);
  if (!end) socket.ws.terminate();
  return end;
}

/** The messages a socket got for operation `id`. */
export const messagesFor = (socket: GqlSocket, id: string): any[] =>
  socket.messages.filter((message) => message.id === id);

/** Runs one operation on an acknowledged socket to its end (complete or error), at most `ms`. */
export async function operate(
  socket: GqlSocket,
  id: string,
  payload: { query: string; variables?: Record<string, unknown> },
  ms = 30_000,
): Promise<any[]> {
  socket.send({ id, type: 'subscribe', payload });
  let gone = false;
  void socket.ended.then(() => {
    gone = true;
  });
  await until(
    () => gone || messagesFor(socket, id).some((m) => m.type === 'complete' || m.type === 'error'),
    ms,
  );
  return messagesFor(socket, id);
}

/** The gateway's resident memory now, in bytes, from /proc/<pid>/status. */
export function rss(stack: Stack): number {
  const pid = stack.gateway.child.pid;
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? 0) * 1024;
}

/** Waits until the gateway's RSS stops growing (`quietMs` without 4 MB more, at most 30 s). */
export async function settledRss(stack: Stack, quietMs = 2000): Promise<number> {
  let high = rss(stack);
  let quietSince = Date.now();
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && Date.now() - quietSince < quietMs) {
    await delay(200);
    const now = rss(stack);
    if (now > high + 4 * MB) quietSince = Date.now();
    high = Math.max(high, now);
  }
  return high;
}

export const mb = (bytes: number) => Math.round(bytes / MB);

/**
 * Times GETs of `urls` one after another, over and over, until `stop`; samples the gateway's RSS
 * between them. Answers go to `transcript`.
 */
export function watchResponsiveness(stack: Stack, urls: readonly string[], transcript: Transcript) {
  let running = true;
  const times: Record<string, number[]> = Object.fromEntries(urls.map((url) => [url, []]));
  const failures: string[] = [];
  let peakRss = rss(stack);
  const loop = (async () => {
    while (running) {
      for (const url of urls) {
        const started = performance.now();
        const answer = await transcript.http(url, { timeoutMs: 20_000 });
        times[url]?.push(performance.now() - started);
        if (answer.status !== 200) failures.push(`${new URL(url).pathname} ${answer.status}`);
        peakRss = Math.max(peakRss, rss(stack));
      }
      await delay(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const all = Object.values(times).flat();
      const worst = Object.fromEntries(
        Object.entries(times).map(([url, ms]) => [url, Math.max(...ms)]),
      );
      return { worst, worstMs: Math.max(...all), failures, samples: all.length, peakRss, times };
    },
  };
}

/**
 * How long a health or metrics call may take while an attack runs. Generous: the machine has two
 * cores and other work; what these attacks guard against blocked the process for 6 s and more.
 */
export const PROMPT_MS = 5000;

/** The median of some numbers. */
export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** `a ×2, b` for a list of values. */
export function tally(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].map(([value, n]) => (n > 1 ? `${value} ×${n}` : value)).join(', ');
}

/** The worst and median latency of each path, as text. */
export const latencies = (times: Record<string, number[]>) =>
  Object.entries(times)
    .map(
      ([url, ms]) =>
        `${new URL(url).pathname} worst ${Math.round(Math.max(...ms))} ms (median ${Math.round(median(ms))})`,
    )
    .join(', ');

// graphiql-slow-readers ------------------------------------------------------------------------

/** Paths under /graphql/assets/ the GraphiQL page links to, each once. */
function assetPaths(html: string): string[] {
  return [
    ...new Set([...html.matchAll(/\/graphql\/assets\/[0-9a-f]{16,}\.[a-z]+/g)].map((m) => m[0])),
  ];
}

/** A GET a browser would send for `path`, written by hand. */
const rawGet = (port: number, path: string, accept: string, encoding: string) =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: ${accept}\r\nAccept-Encoding: ${encoding}\r\n\r\n`;

/** Opens a socket, writes `requests` and stops reading at once. */
async function stalledClient(port: number, requests: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.pause();
  socket.write(requests);
  return socket;
}

/** One parsed HTTP/1.1 answer off a raw socket. */
interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** The complete answers at the front of `data` (content-length or chunked bodies). */
function parseAnswers(data: Buffer): RawAnswer[] {
  const answers: RawAnswer[] = [];
  let offset = 0;
  for (;;) {
    const headEnd = data.indexOf('\r\n\r\n', offset);
    if (headEnd < 0) return answers;
    const [statusLine = '', ...lines] = data
      .subarray(offset, headEnd)
      .toString('latin1')
      .split('\r\n');
    const headers = Object.fromEntries(
      lines.map((line) => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()];
      }),
    );
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (headers['transfer-encoding']?.includes('chunked')) {
      const parts: Buffer[] = [];
      for (;;) {
        const sizeEnd = data.indexOf('\r\n', bodyStart);
        if (sizeEnd < 0) return answers;
        const size = Number.parseInt(data.subarray(bodyStart, sizeEnd).toString('latin1'), 16);
        if (data.length < sizeEnd + 2 + size + 2) return answers;
        parts.push(data.subarray(sizeEnd + 2, sizeEnd + 2 + size));
        bodyStart = sizeEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
      offset = bodyStart;
    } else {
      const length = Number(headers['content-length'] ?? 0);
      if (data.length < bodyStart + length) return answers;
      body = data.subarray(bodyStart, bodyStart + length);
      offset = bodyStart + length;
    }
    answers.push({ status, headers, body });
  }
}

/** Resumes a stalled socket and reads until `count` answers arrived or it closed (at most `ms`). */
async function readAnswers(socket: Socket, count: number, ms = 60_000): Promise<RawAnswer[]> {
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.once('close', () => {
    closed = true;
  });
  socket.resume();
  await until(() => closed || parseAnswers(Buffer.concat(chunks)).length >= count, ms, 100);
  return parseAnswers(Buffer.concat(chunks));
}

/** Kept in the transcript as text: status, headers, and the body unless it is an asset. */
const keepRaw = (transcript: Transcript, answer: RawAnswer) =>
  transcript.answer({
    status: answer.status,
    headers: answer.headers,
    body: answer.headers['content-type']?.includes('javascript')
      ? `(${answer.body.length} bytes of script)`
      : answer.body.toString('utf8'),
  });

/** Waits (at most `ms`) until RSS falls to `target`, nudging the process with requests. */
async function rssFallsTo(stack: Stack, target: number, ms: number): Promise<number> {
  let low = rss(stack);
  await until(
    async () => {
      await send(`${stack.gateway.url}/healthz`);
      low = Math.min(low, rss(stack));
      return low <= target;
    },
    ms,
    500,
  );
  return low;
}

const graphiqlSlowReaders: Attack = {
  id: 'graphiql-slow-readers',
  title: 'GraphiQL page and assets asked for by clients that never read',
  expected:
    'RSS grows by far less than clients × page size (< 100 MB in all); /healthz answers within 5 s meanwhile; a stalled client that reads gets every answer whole; RSS comes back within 30 MB of where it was once they leave; no 5xx',
  fast: true,
  async run(scale) {
    const clients = scale === 'full' ? 100 : 30;
    return withStack({}, async (stack) => {
      const transcript = new Transcript();
      const { port } = stack.gateway;
      const page = await transcript.http(stack.gateway.graphqlUrl, {
        headers: { accept: 'text/html' },
      });
      const assets = assetPaths(page.body);
      // Warm: the bundle is made (and gzipped) once per process, before measuring.
      let pageBytes = Buffer.byteLength(page.body);
      for (const path of assets) {
        const plain = await send(`${stack.gateway.url}${path}`, {
          headers: { 'accept-encoding': 'identity' },
        });
        transcript.answer({ ...plain, body: `(${plain.body.length} chars)` });
        pageBytes += Number(plain.headers['content-length'] ?? plain.body.length);
        const gzipped = await send(`${stack.gateway.url}${path}`, {
          headers: { 'accept-encoding': 'gzip' },
        });
        transcript.answer({ ...gzipped, body: `(${gzipped.body.length} chars)` });
      }
      const before = await settledRss(stack);
      const requests = (encoding: string) =>
        rawGet(port, '/graphql', 'text/html', encoding) +
        assets.map((path) => rawGet(port, path, '*/*', encoding)).join('');
      const sockets: Socket[] = [];
      const watch = watchResponsiveness(stack, [`${stack.gateway.url}/healthz`], transcript);
      try {
        for (let i = 0; i < clients; i++) {
          // Half take gzip, half not: both shared copies are pinned.
          sockets.push(await stalledClient(port, requests(i % 2 ? 'gzip' : 'identity')));
        }
        const held = await settledRss(stack);
        const seen = await watch.stop();
        const peak = Math.max(held, seen.peakRss);
        // The first client reads at last: every answer, whole.
        const answers = await readAnswers(sockets[0] as Socket, 1 + assets.length);
        for (const answer of answers) keepRaw(transcript, answer);
        const whole =
          answers.length === 1 + assets.length && answers.every((a) => a.status === 200);
        for (const socket of sockets) socket.destroy();
        const after = await rssFallsTo(stack, before + 30 * MB, 30_000);
        const growth = peak - before;
        const ok =
          growth < 100 * MB &&
          seen.worstMs < PROMPT_MS &&
          seen.failures.length === 0 &&
          whole &&
          after <= before + 30 * MB;
        return outcome(
          ok,
          `${clients} clients each asked for the page and its ${assets.length} assets (${(pageBytes / MB).toFixed(1)} MB, ${Math.round((clients * pageBytes) / MB)} MB in all) and never read: RSS ${mb(before)} MB → ${mb(peak)} MB (+${mb(growth)} MB), ${mb(after)} MB once they left; ${latencies(seen.times)} over ${seen.samples} calls while they came and stayed${seen.failures.length ? ` (failed: ${seen.failures.slice(0, 3).join(', ')})` : ''}; the client that read got ${answers.length}/${1 + assets.length} answers${whole ? ', all 200' : ''}`,
          { cases: clients, http500: transcript.http500, leaks: transcript.leaks(stack) },
        );
      } finally {
        for (const socket of sockets) socket.destroy();
        await watch.stop();
      }
    });
  },
};

// ws-op-cap-burst ------------------------------------------------------------------------------

/** Operations one WebSocket may have open at once (the gateway's MAX_OPERATIONS_PER_SOCKET). */
const OPERATIONS_PER_SOCKET = 100;

const WATCH_STATUS = 'subscription($id: ID!) { videoTask(id: $id) { id status } }';

/** Creates one task over HTTP; its id, or undefined (the answer is kept). */
export async function createTask(
  stack: Stack,
  transcript: Transcript,
  input: Record<string, unknown>,
  headers: Record<string, string> = {},
  idempotencyKey?: string,
): Promise<string | undefined> {
  const answer = await transcript.gql(
    stack.gateway.graphqlUrl,
    GENERATE,
    { input, ...(idempotencyKey ? { idempotencyKey } : {}) },
    headers,
  );
  return answer.json?.data?.generateVideo?.id;
}

const wsOpCapBurst: Attack = {
  id: 'ws-op-cap-burst',
  title: '5,000 subscribes at once on one graphql-ws socket',
  expected: `exactly ${OPERATIONS_PER_SOCKET} accepted, the other 4,900 answered error RATE_LIMITED (operations_per_connection), none both; the socket stays open; no 5xx`,
  fast: true,
  async run() {
    const burst = 5000;
    // The task never finishes: every subscription accepted stays open.
    return withStack({ emulator: { faults: { stallTasks: { progress: 10 } } } }, async (stack) => {
      const transcript = new Transcript();
      const id = await createTask(stack, transcript, smallInput({ seed: 301 }));
      if (!id) return outcome(false, `no task to subscribe to: ${transcript.texts.at(-1)}`, {});
      const socket = await openSocket(stack.gateway.wsUrl, transcript);
      if (!(await initSocket(socket))) return outcome(false, 'the socket was not acknowledged', {});
      const started = performance.now();
      // One synchronous loop: the frames leave in a few TCP segments and arrive as one burst.
      for (let i = 0; i < burst; i++) {
        socket.send({
          id: `s${i}`,
          type: 'subscribe',
          payload: { query: WATCH_STATUS, variables: { id } },
        });
      }
      const answered = () => new Set(socket.messages.filter((m) => m.id).map((m) => m.id)).size;
      await until(
        () => answered() >= burst || socket.ws.readyState !== WebSocket.OPEN,
        60_000,
        100,
      );
      const ms = performance.now() - started;
      const accepted = new Set(socket.messages.filter((m) => m.type === 'next').map((m) => m.id));
      const errors = socket.messages.filter((m) => m.type === 'error');
      const rateLimited = errors.filter(
        (m) =>
          m.payload?.[0]?.extensions?.code === 'RATE_LIMITED' &&
          m.payload[0].extensions.limit === 'operations_per_connection',
      );
      const both = errors.filter((m) => accepted.has(m.id)).length;
      const open = socket.ws.readyState === WebSocket.OPEN;
      socket.ws.terminate();
      await socket.ended;
      const { doubleCreates, orphaned } = await ledger(stack, [], 0);
      const ok =
        accepted.size === OPERATIONS_PER_SOCKET &&
        errors.length === burst - OPERATIONS_PER_SOCKET &&
        rateLimited.length === errors.length &&
        both === 0 &&
        open;
      return outcome(
        ok,
        `${burst} subscribes in one burst: ${accepted.size} accepted, ${errors.length} errors (${rateLimited.length} RATE_LIMITED operations_per_connection), ${both} both, ${answered()} answered in ${Math.round(ms)} ms; the socket ${open ? 'stayed open' : 'was closed'}`,
        {
          cases: burst,
          http500: transcript.http500,
          leaks: transcript.leaks(stack),
          doubleCreates,
          orphaned,
        },
      );
    });
  },
};

// Fat tasks: large answers ---------------------------------------------------------------------

/** Every string of the input at its bound: about 7 KB of input per task. */
const FAT_INPUT = {
  prompt: 'p'.repeat(LIMITS.prompt.maxLength),
  negativePrompt: 'n'.repeat(LIMITS.negativePrompt.maxLength),
  width: 832,
  height: 480,
  steps: 10,
  seed: 7,
  loras: Array.from({ length: LIMITS.loras.maxItems }, (_, i) => ({
    path: `${i}`.repeat(LIMITS.loraPath.maxLength),
    scale: 1,
  })),
};

/** About 7 KB of JSON per task listed: 700 KB with 100 fat tasks. */
const FAT_QUERY =
  '{ videoTasks(first: 100) { edges { node { input { prompt negativePrompt loras { path } } } } } }';

/** A stack whose tasks fail upstream at once (nothing is rendered) and whose limits are open. */
const FAT_STACK = {
  env: { MUTATIONS_PER_MINUTE: '100000', MAX_IN_FLIGHT_TASKS: '10000' },
  emulator: { faults: { failTasks: { reason: 'a fat task, not rendered' } } },
};

/** Creates `count` fat tasks over HTTP, four at a time; their ids. */
async function createFatTasks(stack: Stack, transcript: Transcript, count: number) {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next += 1;
      const id = await createTask(stack, transcript, FAT_INPUT);
      if (id) ids.push(id);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return ids;
}

/** The size of one FAT_QUERY answer, in bytes. */
async function fatAnswerBytes(stack: Stack, transcript: Transcript): Promise<number> {
  const answer = await transcript.gql(stack.gateway.graphqlUrl, FAT_QUERY);
  return Buffer.byteLength(answer.body);
}

// ws-slow-consumer -----------------------------------------------------------------------------

/** The close code for a client too slow to read (the gateway's CLOSE_TOO_SLOW). */
const CLOSE_TOO_SLOW = 4008;

/** A well-behaved client that keeps asking over WebSocket and HTTP until `stop`. */
async function startBystander(stack: Stack, transcript: Transcript) {
  const socket = await openSocket(stack.gateway.wsUrl, transcript);
  const acked = await initSocket(socket);
  let running = acked;
  let ok = 0;
  const failures: string[] = acked ? [] : ['not acknowledged'];
  let worstMs = 0;
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const started = performance.now();
      const overWs = await operate(socket, `b${n}`, { query: '{ gateway { emulated } }' }, 20_000);
      const overHttp = await transcript.gql(stack.gateway.graphqlUrl, '{ gateway { emulated } }');
      worstMs = Math.max(worstMs, performance.now() - started);
      const wsOk = overWs.some((m) => m.type === 'next' && m.payload?.data?.gateway);
      const httpOk = overHttp.status === 200 && overHttp.json?.data?.gateway;
      if (wsOk && httpOk) ok += 1;
      else failures.push(`round ${n}: ws ${wsOk ? 'ok' : 'failed'}, http ${overHttp.status}`);
      await delay(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      socket.ws.close();
      return { ok, failures, worstMs };
    },
  };
}

/** A socket that asks for `count` fat answers and reads nothing. */
async function slowConsumer(stack: Stack, transcript: Transcript, count: number) {
  const socket = await openSocket(stack.gateway.wsUrl, transcript);
  await initSocket(socket);
  // The client stops reading: the kernel's buffers fill, then the gateway's.
  (socket.ws as unknown as { _socket: Socket })._socket.pause();
  for (let i = 0; i < count; i++) {
    socket.send({ id: `q${i}`, type: 'subscribe', payload: { query: FAT_QUERY } });
  }
  return socket;
}

/** Resumes a paused socket and waits (at most `ms`) for its end. */
function resumeUntilEnd(socket: GqlSocket, ms: number): Promise<SocketEnd | undefined> {
  (socket.ws as unknown as { _socket: Socket })._socket.resume();
  return endWithin(socket, ms);
}

const wsSlowConsumer: Attack = {
  id: 'ws-slow-consumer',
  title: 'WebSocket clients that stop reading while large answers queue up',
  expected: `each slow socket is closed with ${CLOSE_TOO_SLOW} after far fewer answers than it asked for; RSS grows < 40 MB per slow socket; /healthz and /metrics answer within 5 s meanwhile; a bystander's WebSocket and HTTP calls all succeed; no 5xx, no task lost`,
  fast: true,
  async run(scale) {
    const tasks = 100;
    const slowSockets = scale === 'full' ? 4 : 1;
    const asked = OPERATIONS_PER_SOCKET;
    return withStack(FAT_STACK, async (stack) => {
      const transcript = new Transcript();
      const ids = await createFatTasks(stack, transcript, tasks);
      const answerBytes = await fatAnswerBytes(stack, transcript);
      const before = await settledRss(stack);
      const { url } = stack.gateway;
      const watch = watchResponsiveness(stack, [`${url}/healthz`, `${url}/metrics`], transcript);
      const bystander = await startBystander(stack, transcript);
      const sockets: GqlSocket[] = [];
      for (let i = 0; i < slowSockets; i++)
        sockets.push(await slowConsumer(stack, transcript, asked));
      const toldTooSlow = await until(
        () => linesWith(stack, 'closed a WebSocket whose client read too slowly') >= slowSockets,
        60_000,
        100,
      );
      // The clients read again: their backlog, then the close frame that says why.
      const ends = await Promise.all(sockets.map((socket) => resumeUntilEnd(socket, 30_000)));
      const seen = await watch.stop();
      const byClient = await bystander.stop();
      const codes = ends.map((end) => (end?.kind === 'closed' ? end.code : (end?.kind ?? 'open')));
      const answered = sockets.map((s) => s.messages.filter((m) => m.type === 'next').length);
      const growth = seen.peakRss - before;
      const books = await ledger(stack, ids);
      const ok =
        ids.length === tasks &&
        toldTooSlow &&
        codes.every((code) => code === CLOSE_TOO_SLOW) &&
        answered.every((n) => n < asked / 4) &&
        growth < slowSockets * 40 * MB &&
        seen.worstMs < PROMPT_MS &&
        seen.failures.length === 0 &&
        byClient.failures.length === 0 &&
        byClient.ok > 0;
      return outcome(
        ok,
        `${slowSockets} socket(s) each asked for ${asked} answers of ${(answerBytes / MB).toFixed(2)} MB (${tasks} fat tasks) and stopped reading: closed with ${codes.join(', ')} after ${answered.join(', ')} answers; RSS ${mb(before)} → ${mb(seen.peakRss)} MB (+${mb(growth)} MB); ${latencies(seen.times)} over ${seen.samples} calls; bystander ${byClient.ok} rounds ok, ${byClient.failures.length} failed${byClient.failures[0] ? ` (${byClient.failures[0]})` : ''}, worst round ${Math.round(byClient.worstMs)} ms`,
        {
          cases: slowSockets * asked,
          http500: transcript.http500,
          leaks: transcript.leaks(stack),
          ...books,
        },
      );
    });
  },
};

// http-pipelining ------------------------------------------------------------------------------

/** Unanswered requests one HTTP connection may have (the gateway's MAX_PIPELINED_REQUESTS). */
const MAX_PIPELINED = 8;

/** What the gateway's log line says of each connection it cut off. */
function cutOffs(stack: Stack): { pipelined: number; unsentBytes: number }[] {
  return stack
    .output()
    .filter((line) => line.includes('closed an HTTP connection whose client reads too slowly'))
    .map((line) => parseJson(line) ?? {});
}

const httpPipelining: Attack = {
  id: 'http-pipelining',
  title: 'One connection pipelining 200 large requests without reading',
  expected: `cut off once ${MAX_PIPELINED} answers wait (the 9th request closes it): at most ${MAX_PIPELINED} answers received; RSS grows < 50 MB; /healthz answers within 5 s and others are served; no 5xx`,
  fast: true,
  async run() {
    const pipelined = 200;
    return withStack(FAT_STACK, async (stack) => {
      const transcript = new Transcript();
      const ids = await createFatTasks(stack, transcript, 100);
      const answerBytes = await fatAnswerBytes(stack, transcript);
      const before = await settledRss(stack);
      const { port, url } = stack.gateway;
      const body = JSON.stringify({ query: FAT_QUERY });
      const request = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const watch = watchResponsiveness(stack, [`${url}/healthz`], transcript);
      // Written in one go: the requests arrive together, as a pipelining client sends them.
      const socket = await stalledClient(port, request.repeat(pipelined));
      try {
        const cut = await until(() => cutOffs(stack).length > 0, 30_000, 100);
        const answers = await readAnswers(socket, pipelined, 30_000);
        const closed = socket.destroyed || socket.readableEnded;
        for (const answer of answers) keepRaw(transcript, answer);
        const seen = await watch.stop();
        const after = await transcript.gql(stack.gateway.graphqlUrl, '{ gateway { emulated } }');
        const growth = seen.peakRss - before;
        const lines = cutOffs(stack);
        const at = [...new Set(lines.map((why) => why.pipelined))];
        const books = await ledger(stack, ids);
        const ok =
          cut &&
          closed &&
          answers.length <= MAX_PIPELINED &&
          at.length === 1 &&
          at[0] === MAX_PIPELINED + 1 &&
          growth < 50 * MB &&
          seen.worstMs < PROMPT_MS &&
          seen.failures.length === 0 &&
          after.status === 200;
        return outcome(
          ok,
          `${pipelined} requests for ${(answerBytes / MB).toFixed(2)} MB answers pipelined on one connection that read nothing: ${cut ? `refused at request ${at.join(', ')}` : 'no refusal logged within 30 s'}, the connection ${closed ? 'closed' : 'still open'}, ${answers.length} answers received (${answers.map((a) => a.status).join(' ') || 'none'}); RSS ${mb(before)} → ${mb(seen.peakRss)} MB (+${mb(growth)} MB); ${latencies(seen.times)}; another client then got ${after.status}. The refusal was logged ${lines.length} times (once per request already read)`,
          {
            cases: pipelined,
            http500: transcript.http500,
            leaks: transcript.leaks(stack),
            ...books,
          },
        );
      } finally {
        socket.destroy();
      }
    });
  },
};

// oversized-and-deep ---------------------------------------------------------------------------

/** Writes `bytes` on a new connection and reads the first answer (or what came before a close). */
export async function rawExchange(port: number, bytes: string, ms = 20_000): Promise<Answer> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  try {
    await once(socket, 'connect');
    socket.write(bytes);
    socket.pause();
    const [answer] = await readAnswers(socket, 1, ms);
    if (!answer) return { status: 0, headers: {}, body: 'no answer' };
    return { status: answer.status, headers: answer.headers, body: answer.body.toString('utf8') };
  } finally {
    socket.destroy();
  }
}

const aliasedCreates = (n: number) =>
  `mutation { ${Array.from({ length: n }, (_, i) => `a${i}: generateVideo(input: { prompt: "alias ${i}", width: 832, height: 480, steps: 10 }) { id }`).join(' ')} }`;

/** `__type { fields { type { ofType ×n { name } } } }`: 3 + n + 1 deep. */
const ofTypes = (n: number) =>
  `query { __type(name: "VideoTask") { fields { type { ${'ofType { '.repeat(n)}name${' }'.repeat(n)} } } } }`;

/** Nine deep again, each level in a fragment of its own. */
const FRAGMENTS_NINE_DEEP = `query { __type(name: "VideoTask") { ...L1 } }
fragment L1 on __Type { fields { ...L2 } }
fragment L2 on __Field { type { ...L3 } }
${[3, 4, 5, 6, 7].map((n) => `fragment L${n} on __Type { ofType { ...L${n + 1} } }`).join('\n')}
fragment L8 on __Type { name }`;

const COSTLY = `query { ${Array.from(
  { length: 14 },
  (_, i) =>
    `a${i}: videoTasks(first: 100) { edges { node { id input { prompt loras { path } } videos { url } } } }`,
).join(' ')} }`;

/** Documents graphql-armor must refuse, with the code each is refused with. */
const REFUSED_DOCUMENTS: readonly { name: string; query: string; code: string }[] = [
  { name: '9 deep', query: ofTypes(5), code: 'MAX_DEPTH_EXCEEDED' },
  { name: '9 deep through fragments', query: FRAGMENTS_NINE_DEEP, code: 'MAX_DEPTH_EXCEEDED' },
  { name: '600 deep under the token cap', query: ofTypes(600), code: 'MAX_DEPTH_EXCEEDED' },
  { name: '16 aliased creates', query: aliasedCreates(16), code: 'MAX_ALIASES_EXCEEDED' },
  {
    name: '21 directives',
    query: `query { ${'__typename @include(if: true) '.repeat(21)} }`,
    code: 'MAX_DIRECTIVES_EXCEEDED',
  },
  {
    name: '2,001 tokens',
    query: `query { ${'__typename '.repeat(2001)} }`,
    code: 'MAX_TOKENS_EXCEEDED',
  },
  { name: 'a cost over 5,000', query: COSTLY, code: 'COST_LIMIT_EXCEEDED' },
];

/** One probe: what was sent, what came back, whether it was what was expected. */
interface Probe {
  readonly name: string;
  readonly got: string;
  readonly ok: boolean;
}

/** Bodies and requests too big, over HTTP. */
async function oversizedOverHttp(stack: Stack, transcript: Transcript): Promise<Probe[]> {
  const { port, graphqlUrl } = stack.gateway;
  const probes: Probe[] = [];
  const judge = (name: string, answer: Answer, status: number, code?: string) => {
    transcript.answer(answer);
    const got = `${answer.status} ${codeOf(parseJson(answer.body)) ?? ''}`.trim();
    probes.push({ name, got, ok: answer.status === status && (!code || got.endsWith(code)) });
  };
  const padded = JSON.stringify({ query: `{ __typename } # ${'x'.repeat(70_000)}` });
  judge(
    'a 70 KB body',
    await send(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: padded,
    }),
    413,
    'PAYLOAD_TOO_LARGE',
  );
  const head = (headers: string) =>
    `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n${headers}\r\n`;
  judge(
    'Content-Length 100 MB, body never sent',
    await rawExchange(port, `${head('Content-Length: 104857600\r\n')}{"query":`),
    413,
    'PAYLOAD_TOO_LARGE',
  );
  const chunk = 'x'.repeat(64 * 1024);
  judge(
    'a chunked 1 MB body',
    await rawExchange(
      port,
      `${head('Transfer-Encoding: chunked\r\n')}${`${chunk.length.toString(16)}\r\n${chunk}\r\n`.repeat(16)}0\r\n\r\n`,
    ),
    411,
    'LENGTH_REQUIRED',
  );
  // Node answers 431 and drops the connection, sometimes before the client can read the 431.
  const longUrl = transcript.answer(
    await rawExchange(
      port,
      `GET /graphql?query=${encodeURIComponent(`{ __typename } #${'x'.repeat(80_000)}`)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`,
    ),
  );
  probes.push({
    name: 'an 80 KB URL',
    got: longUrl.status ? `${longUrl.status}` : 'connection cut',
    ok: longUrl.status === 431 || longUrl.status === 0,
  });
  return probes;
}

/** Variables and literals nested deeper than any schema type: refused, never a crash. */
async function nestedValues(stack: Stack, transcript: Transcript): Promise<Probe[]> {
  const depth = 15_000;
  // Written by hand: JSON.stringify itself cannot go this deep.
  const input = JSON.stringify(smallInput({ loras: '§' })).replace(
    '"§"',
    `${'['.repeat(depth)}${']'.repeat(depth)}`,
  );
  const raw = await transcript.http(stack.gateway.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"query":${JSON.stringify(GENERATE)},"variables":{"input":${input}}}`,
  });
  const overVariables = { ...raw, json: parseJson(raw.body) };
  const literal = `query { videoTask(id: ${'['.repeat(900)}"x"${']'.repeat(900)}) { id } }`;
  const overLiteral = await transcript.gql(stack.gateway.graphqlUrl, literal);
  return [
    { name: `variables ${depth} deep`, answer: overVariables },
    { name: 'a literal 900 deep', answer: overLiteral },
  ].map(({ name, answer }) => {
    const code = codeOf(answer.json);
    return {
      name,
      got: `${answer.status} ${code ?? ''}`.trim(),
      ok:
        answer.status < 500 && (code === 'BAD_USER_INPUT' || code === 'GRAPHQL_VALIDATION_FAILED'),
    };
  });
}

/** Each refused document over HTTP and over one WebSocket; then a message over its cap there. */
async function refusedDocuments(stack: Stack, transcript: Transcript): Promise<Probe[]> {
  const probes: Probe[] = [];
  const socket = await openSocket(stack.gateway.wsUrl, transcript);
  const acked = await initSocket(socket);
  for (const [i, { name, query, code }] of REFUSED_DOCUMENTS.entries()) {
    const overHttp = await transcript.gql(stack.gateway.graphqlUrl, query);
    const httpCodes = codesIn(overHttp.json?.errors);
    probes.push({
      name: `${name} (HTTP)`,
      got: `${overHttp.status} ${httpCodes.join('+')}`,
      ok: overHttp.status < 500 && httpCodes.includes(code) && !overHttp.json?.data,
    });
    const overWs = acked ? await operate(socket, `d${i}`, { query }, 15_000) : [];
    const wsCodes = codesIn(overWs.find((m) => m.type === 'error')?.payload);
    probes.push({
      name: `${name} (WebSocket)`,
      got: wsCodes.join('+') || (acked ? 'no error' : 'not acknowledged'),
      ok: wsCodes.includes(code) && !overWs.some((m) => m.type === 'next'),
    });
  }
  const stillOpen = socket.ws.readyState === WebSocket.OPEN;
  socket.send({
    id: 'big',
    type: 'subscribe',
    payload: { query: `{ __typename } #${'x'.repeat(70_000)}` },
  });
  const end = await endWithin(socket);
  probes.push({
    name: 'a 70 KB WebSocket message',
    got: `${stillOpen ? '' : 'socket closed before; '}${end?.kind === 'closed' ? `closed ${end.code}` : (end?.kind ?? 'still open')}`,
    ok: stillOpen && end?.kind === 'closed' && end.code === 1009,
  });
  socket.ws.terminate();
  return probes;
}

const oversizedAndDeep: Attack = {
  id: 'oversized-and-deep',
  title: 'Bodies over the limit; deep, alias-heavy, directive-heavy, costly and long documents',
  expected:
    'a body over 64 KB is 413 PAYLOAD_TOO_LARGE (even when never sent), no Content-Length is 411, an 80 KB URL 431 (or cut off); each armor limit refuses with its own code over HTTP and WebSocket (the socket stays open), a 70 KB WebSocket message closes it with 1009; nothing is created; no 5xx',
  fast: true,
  async run() {
    return withStack({}, async (stack) => {
      const transcript = new Transcript();
      const probes = [
        ...(await oversizedOverHttp(stack, transcript)),
        ...(await nestedValues(stack, transcript)),
        ...(await refusedDocuments(stack, transcript)),
      ];
      const creates = stack.emulator.requests().filter((entry) => entry.method === 'POST').length;
      const rows = stack.rows().length;
      const healthy = (await transcript.http(`${stack.gateway.url}/healthz`)).status === 200;
      const wrong = probes.filter((probe) => !probe.ok);
      const ok = wrong.length === 0 && creates === 0 && rows === 0 && healthy;
      return outcome(
        ok,
        `${probes.length - wrong.length}/${probes.length} refused as expected${wrong.length ? ` (not: ${wrong.map((p) => `${p.name} → ${p.got}`).join('; ')})` : ''}, answers: ${tally(probes.map((p) => p.got))}; ${creates} upstream creates, ${rows} rows; /healthz ${healthy ? 'ok' : 'FAILED'} after`,
        { cases: probes.length, http500: transcript.http500, leaks: transcript.leaks(stack) },
      );
    });
  },
};

export const RESOURCES_ATTACKS: readonly Attack[] = [
  graphiqlSlowReaders,
  wsOpCapBurst,
  wsSlowConsumer,
  httpPipelining,
  oversizedAndDeep,
];
