import { createContext, type ReactNode, useContext, useEffect, useRef, useState } from 'react';
import { VideoGatewayClient, type VideoGatewayClientOptions } from './client.js';

const ClientContext = createContext<VideoGatewayClient | null>(null);

export interface VideoGatewayProviderProps extends VideoGatewayClientOptions {
  children?: ReactNode;
  /** A client made elsewhere (tests, several providers sharing one); the provider does not dispose it. */
  client?: VideoGatewayClient;
}

/**
 * Owns one gateway client for the components below it: one WebSocket (opened on the first
 * subscription, not at render, so server rendering opens none) and one HTTP client.
 * `getAuthToken` may change between renders; the latest one is always used.
 */
export function VideoGatewayProvider({
  children,
  client: given,
  ...options
}: VideoGatewayProviderProps) {
  const latestToken = useRef(options.getAuthToken);
  latestToken.current = options.getAuthToken;
  const [client] = useState(
    () =>
      given ??
      new VideoGatewayClient({
        ...options,
        getAuthToken: () => latestToken.current?.(),
      }),
  );
  const pendingDispose = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    if (given) return;
    // Strict Mode unmounts and remounts at once: a remount cancels the dispose.
    clearTimeout(pendingDispose.current);
    return () => {
      pendingDispose.current = setTimeout(() => void client.dispose(), 0);
    };
  }, [client, given]);
  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>;
}

/** The provider's client. Throws outside a `VideoGatewayProvider`. */
export function useVideoGatewayClient(): VideoGatewayClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useVideoGatewayClient must be used inside <VideoGatewayProvider>');
  return client;
}
