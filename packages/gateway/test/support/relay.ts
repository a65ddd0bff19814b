/**
 * An HTTP relay in front of the emulator, for tests of what a gateway does when the upstream made
 * a task but its answer never arrives: every request goes through to the emulator, and the
 * emulator's answer to a create can be passed on, held forever, or replaced.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the relay does with the emulator's answer to a create (after the emulator made the task). */
export type CreateFate =
  | { readonly kind: 'pass' }
  /** The gateway never hears back (as if it died between the upstream's 200 and its own write). */
  | { readonly kind: 'hold' }
  /** The gateway gets this status instead (a 502 from a proxy on the way back, say). */
  | { readonly kind: 'replace'; readonly status: number; readonly body: string };

export interface Relay {
  readonly url: string;
  /** What to do with the next creates' answers. */
  fate: CreateFate;
  /** The upstream task ids the emulator gave, whatever the gateway was told. */
  readonly created: string[];
  close(): Promise<void>;
}

export async function startRelay(target: string): Promise<Relay> {
  const created: string[] = [];
  const relay: Relay = {
    url: '',
    fate: { kind: 'pass' },
    created,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      try {
        const answer = await fetch(`${target}${req.url}`, {
          method: req.method ?? 'GET',
          headers: {
            authorization: String(req.headers.authorization ?? ''),
            'content-type': 'application/json',
          },
          ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
        });
        const text = await answer.text();
        const isCreate = req.method === 'POST' && (req.url ?? '').includes('/async/wan-t2v');
        if (isCreate && answer.ok) {
          created.push((JSON.parse(text) as { task_id: string }).task_id);
          const fate = relay.fate;
          if (fate.kind === 'hold') return;
          if (fate.kind === 'replace') {
            res.writeHead(fate.status, { 'content-type': 'application/json' }).end(fate.body);
            return;
          }
        }
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(text);
      } catch {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(relay, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  return relay;
}
