import { createContext, type ReactNode, useContext, useSyncExternalStore } from 'react';
import type { ConnectionMonitor, ConnectionStatus } from '../lib/connection.js';

const MonitorContext = createContext<ConnectionMonitor | null>(null);

export function ConnectionProvider({
  monitor,
  children,
}: {
  monitor: ConnectionMonitor;
  children: ReactNode;
}) {
  return <MonitorContext.Provider value={monitor}>{children}</MonitorContext.Provider>;
}

const idle = () => 'idle' as const;
const noSubscription = () => () => {};

/** The live connection's state: `reconnecting` after the socket dropped, until one opens again. */
export function useConnectionStatus(): ConnectionStatus {
  const monitor = useContext(MonitorContext);
  return useSyncExternalStore(
    monitor?.subscribe ?? noSubscription,
    monitor?.getStatus ?? idle,
    idle,
  );
}
