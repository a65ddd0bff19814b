import { useVideoGatewayClient } from '@wan-video/react-hooks';
import { useEffect, useRef } from 'react';

const PROBE_MS = 3000;

/**
 * While `active` (an error says the gateway cannot be reached), asks the gateway every few
 * seconds whether it answers again, and calls `onBack` once it does.
 */
export function useBackOnline(active: boolean, onBack: () => void) {
  const client = useVideoGatewayClient();
  const latest = useRef(onBack);
  latest.current = onBack;
  useEffect(() => {
    if (!active) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const probe = () => {
      client.gatewayInfo(controller.signal).then(
        () => {
          if (!controller.signal.aborted) latest.current();
        },
        () => {
          if (!controller.signal.aborted) timer = setTimeout(probe, PROBE_MS);
        },
      );
    };
    timer = setTimeout(probe, PROBE_MS);
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [active, client]);
}
