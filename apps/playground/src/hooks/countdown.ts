import { useEffect, useState } from 'react';
import { etaLeft } from '../lib/eta.js';

/**
 * The ETA counted down each second between the gateway's pushes: each new figure (or a new
 * snapshot, `stamp`) restarts the count from it; it stops at 0.
 */
export function useCountdown(eta: number | null, stamp: string): number | null {
  const [received, setReceived] = useState(() => ({ eta, stamp, at: Date.now() }));
  const [now, setNow] = useState(() => Date.now());
  if (received.eta !== eta || received.stamp !== stamp) {
    const at = Date.now();
    setReceived({ eta, stamp, at });
    setNow(at);
  }
  const left = etaLeft(received.eta, received.at, now);
  const counting = left !== null && left > 0;
  useEffect(() => {
    if (!counting) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [counting]);
  return left;
}
