/**
 * Small helpers for the auth, limits, coalescing and ops suites: raw WebSockets, SSE with the
 * answer's status kept, Prometheus samples. Everything goes over loopback; nothing is mocked.
 */
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';

/** The two client keys the auth and idempotency suites configure. */
export const ALPHA_KEY = 'key-alpha-123456';
export const BETA_KEY = 'key-beta-654321';
export const GATEWAY_API_KEYS = `${ALPHA_KEY},${BETA_KEY}`;
export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

/** How a WebSocket ended: a close frame's code, or a failure before it opened. */
export type SocketEnd =
  | { readonly kind: 'closed'; readonly code: number; readonly reason: string }
  | { readonly kind: 'failed'; readonly error: Error; readonly status: number | undefined };

/**
 * Opens a raw `ws` socket speaking graphql-transport-ws. `opened` resolves once the handshake
 * succeeded (or rejects), `ended` once the socket is gone, however that happened.
 */
export function rawSocket(url: string) {
  const socket = new WebSocket(url, 'graphql-transport-ws');
  let open = false;
  const ended = new Promise<SocketEnd>((resolve) => {
    let failure: Error | undefined;
    socket.once('open', () => {
      open = true;
    });
    socket.on('error', (error) => {
      failure ??= error;
    });
    socket.on('close', (code, reason) => {
      if (open) return resolve({ kind: 'closed', code, reason: reason.toString() });
      const error = failure ?? new Error(`closed with ${code} before opening`);
      const status = /Unexpected server response: (\d+)/i.exec(error.message)?.[1];
      resolve({ kind: 'failed', error, status: status === undefined ? undefined : Number(status) });
    });
  });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    void ended.then((end) => reject(end.kind === 'failed' ? end.error : new Error('closed')));
  });
  opened.catch(() => {});
  return { socket, opened, ended };
}

/** Sends `connection_init` and waits for `connection_ack`. */
export function acknowledged(socket: WebSocket, payload?: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data)) as { type: string };
      if (message.type === 'connection_ack') {
        socket.off('message', onMessage);
        resolve();
      }
    };
    socket.on('message', onMessage);
    socket.once('close', (code) => reject(new Error(`closed with ${code} before the ack`)));
    socket.send(JSON.stringify({ type: 'connection_init', ...(payload ? { payload } : {}) }));
  });
}

/** The close code a graphql-ws client's next connection ends with (its `closed` event). */
export function nextClose(client: Client): Promise<number> {
  return new Promise((resolve) => {
    const off = client.on('closed', (event) => {
      off();
      resolve((event as { code: number }).code);
    });
  });
}

export interface SseAnswer {
  readonly status: number;
  readonly contentType: string;
  /** Every `data` payload, parsed, in order (the `complete` event ends the list). */
  readonly messages: any[];
  /** The body when it was not an event stream. */
  readonly text: string;
}

/** Runs one GraphQL operation over SSE to its end, keeping the HTTP status and every message. */
export async function sseOnce(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<SseAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const contentType = response.headers.get('content-type') ?? '';
  const text = await response.text();
  const messages: any[] = [];
  if (contentType.startsWith('text/event-stream')) {
    for (const block of text.split('\n\n')) {
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).trim();
      }
      if (event === 'complete') break;
      if (data) messages.push(JSON.parse(data));
    }
  }
  return { status: response.status, contentType, messages, text };
}

/** The gateway's /metrics text. */
export async function scrape(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}

/**
 * One sample of a Prometheus text exposition: the value of `name` with exactly these labels
 * (none: the unlabelled sample). `undefined` when there is no such line.
 */
export function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]\w*=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    if (have === wanted) return Number(match[3]);
  }
  return undefined;
}
