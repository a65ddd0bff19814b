/**
 * A round-robin TCP proxy for scale-out tests, as a load balancer in front of replicas: each
 * incoming connection goes to the next backend in turn; when that backend refuses the connection
 * (a replica down or restarting), the next one is tried, as nginx does. Bytes are piped both ways.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** Which backend each accepted connection went to (index into `backends`), in order. */
  readonly routed: number[];
  /** Stops listening and cuts every connection. */
  close(): Promise<void>;
}

export async function startTcpProxy(backends: readonly number[], port = 0): Promise<TcpProxy> {
  if (backends.length === 0) throw new Error('a proxy needs at least one backend');
  let next = 0;
  const routed: number[] = [];
  const open = new Set<Socket>();
  const track = (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  };

  const server = createServer((client) => {
    track(client);
    client.pause();
    client.on('error', () => {});
    const first = next;
    next = (next + 1) % backends.length;
    const attempt = (tried: number) => {
      if (tried >= backends.length || client.destroyed) {
        client.destroy();
        return;
      }
      const index = (first + tried) % backends.length;
      const upstream = connect(backends[index] as number, '127.0.0.1');
      track(upstream);
      let connected = false;
      upstream.on('error', () => {
        // Refused before it connected: the next backend; after: the connection is over.
        if (connected) client.destroy();
        else attempt(tried + 1);
      });
      upstream.once('connect', () => {
        connected = true;
        routed.push(index);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    url: `http://127.0.0.1:${address.port}`,
    routed,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of open) socket.destroy();
      await closed;
    },
  };
}
