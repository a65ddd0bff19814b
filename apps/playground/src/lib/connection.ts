/**
 * The state of the hooks' WebSocket, seen from outside: the hooks do not expose it, but they take
 * a `webSocketImpl`, so the playground hands them a WebSocket class that reports its sockets'
 * opening and closing. A socket that closes without the client closing it has dropped: the
 * client is reconnecting until a socket opens again.
 */
export type ConnectionStatus = 'idle' | 'open' | 'reconnecting';

export interface ConnectionMonitor {
  /** Pass to `VideoGatewayProvider` as `webSocketImpl`. */
  readonly WebSocket: typeof WebSocket;
  readonly getStatus: () => ConnectionStatus;
  readonly subscribe: (listener: () => void) => () => void;
}

export function createConnectionMonitor(Base: typeof WebSocket): ConnectionMonitor {
  let status: ConnectionStatus = 'idle';
  const listeners = new Set<() => void>();
  const set = (next: ConnectionStatus) => {
    if (next === status) return;
    status = next;
    for (const listener of [...listeners]) listener();
  };

  class MonitoredWebSocket extends Base {
    #closedByClient = false;

    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener('open', () => set('open'));
      this.addEventListener('close', () => {
        if (!this.#closedByClient) set('reconnecting');
        else if (status === 'open') set('idle');
      });
    }

    override close(code?: number, reason?: string): void {
      this.#closedByClient = true;
      super.close(code, reason);
    }
  }

  return {
    WebSocket: MonitoredWebSocket,
    getStatus: () => status,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
