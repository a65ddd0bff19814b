/**
 * A real HTTP receiver of the gateway's signed webhooks: every request is kept with its headers
 * and raw body, and its Standard Webhooks signature is checked with `standardwebhooks`'
 * `Webhook.verify` against the secret the test read from `webhookSecret`.
 */
import { EventEmitter, once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  /** `Webhook.verify` passed with the secret set at the time it arrived. */
  readonly verified: boolean;
  /** Why it did not, if it did not. */
  readonly verifyError: string | undefined;
  /** The parsed body, when verified. */
  readonly event: any;
  /** Whether the request is still open (a hung answer the gateway has not given up on). */
  open: boolean;
}

export interface Receiver {
  readonly url: string;
  readonly port: number;
  readonly received: ReceivedWebhook[];
  /** The secret each request is verified with (read from `webhookSecret`). */
  secret: string | undefined;
  /** How to answer the n-th request (0-based): status and headers; 204 by default; `hang`: never. */
  answer: (
    index: number,
    request: IncomingMessage,
  ) => { status: number; headers?: Record<string, string>; hang?: boolean };
  /** Resolves once `count` requests in all have arrived. */
  until(count: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const events = new EventEmitter();
  const received: ReceivedWebhook[] = [];
  const receiver: Receiver = {
    url: '',
    port: 0,
    received,
    secret: undefined,
    answer: () => ({ status: 204 }),
    async until(count) {
      while (received.length < count) await once(events, 'request');
      return received.slice(0, count);
    },
    close: async () => {},
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([name, value]) => [name, String(value)]),
      );
      let verified = false;
      let verifyError: string | undefined;
      let event: any;
      try {
        if (!receiver.secret) throw new Error('no secret set');
        event = new Webhook(receiver.secret).verify(body, headers);
        verified = true;
      } catch (error) {
        verifyError = error instanceof Error ? error.message : String(error);
      }
      const index = received.length;
      const { status, headers: answerHeaders, hang } = receiver.answer(index, req);
      const entry: ReceivedWebhook = {
        path: req.url ?? '/',
        headers,
        body,
        verified,
        verifyError,
        event,
        open: true,
      };
      received.push(entry);
      res.on('close', () => {
        entry.open = false;
      });
      if (!hang) {
        res.writeHead(status, answerHeaders ?? {});
        res.end('ignored by the gateway');
      }
      events.emit('request');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return Object.assign(receiver, {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
