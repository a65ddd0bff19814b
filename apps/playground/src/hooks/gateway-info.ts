import {
  type GatewayInfo,
  isVideoGatewayError,
  useVideoGatewayClient,
  VideoGatewayError,
} from '@wan-video/react-hooks';
import { useEffect, useState } from 'react';

export type InfoState =
  | { readonly status: 'loading' }
  | { readonly status: 'ok'; readonly info: GatewayInfo }
  | { readonly status: 'error'; readonly error: VideoGatewayError };

/** While the gateway cannot be reached, it is asked again this often, so the page notices it is back. */
const RETRY_MS = 3000;

/**
 * How the gateway runs; asked again whenever `epoch` changes (a new key, a retry), and every few
 * seconds while it cannot be reached.
 */
export function useGatewayInfo(epoch: number): InfoState {
  const client = useVideoGatewayClient();
  const [state, setState] = useState<InfoState>({ status: 'loading' });
  const [attempt, setAttempt] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: `epoch` and `attempt` trigger a new read.
  useEffect(() => {
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    client.gatewayInfo(controller.signal).then(
      (info) => {
        if (!controller.signal.aborted) setState({ status: 'ok', info });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        const known = isVideoGatewayError(error)
          ? error
          : new VideoGatewayError('network', 'Could not reach the video gateway.');
        setState({ status: 'error', error: known });
        if (known.kind === 'network') timer = setTimeout(() => setAttempt((n) => n + 1), RETRY_MS);
      },
    );
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [client, epoch, attempt]);
  return state;
}
