/**
 * The hooks against the real gateway and emulator in this process, through @testing-library/react.
 */
import { act, cleanup, render, screen, waitFor } from '@testing-library/react';
import { StrictMode, useEffect } from 'react';
import { renderToString } from 'react-dom/server';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  type UseGenerateVideoResult,
  useConnectionState,
  useGenerateVideo,
  useVideoTask,
  useVideoTasks,
  VideoGatewayClient,
  type VideoGatewayClientOptions,
  VideoGatewayProvider,
} from '../src/index.js';
import { countingWebSocket, type LiveGateway, startLiveGateway } from './support/live-gateway.js';
import { INPUT, LONG_INPUT } from './support/videos.js';

let live: LiveGateway;
beforeAll(async () => {
  live = await startLiveGateway();
});
afterAll(() => live.stop());
afterEach(() => {
  cleanup();
  live.emulator.setFaults({});
});

const input = INPUT;

/**
 * How long a wait for a task to end may take (its upstream time, a few seconds, on a busy
 * machine): under the 30 s test timeout, so a stuck task fails showing where it stopped.
 */
const UNTIL_RENDERED = { timeout: 25_000 } as const;

function providerProps(extra: Partial<VideoGatewayClientOptions> = {}, on: LiveGateway = live) {
  const ws = countingWebSocket();
  return { props: { url: on.url, webSocketImpl: ws.WebSocketImpl, ...extra }, ws };
}

/** Generates a task through the client API (no React), for tests about watching. */
async function createTask(patch: Record<string, unknown> = {}, on: LiveGateway = live) {
  const client = new VideoGatewayClient({ url: on.url });
  const task = await client.generate({ ...input, ...patch });
  await client.dispose();
  return task;
}

function Generator({ onState }: { onState: (state: UseGenerateVideoResult) => void }) {
  const state = useGenerateVideo();
  useEffect(() => {
    onState(state);
  });
  return (
    <div>
      <button type="button" onClick={() => void state.generate(input)}>
        generate
      </button>
      <span data-testid="status">{state.status ?? 'idle'}</span>
      <span data-testid="progress">{state.progressPercent}</span>
      {state.videos[0] && <video data-testid="video" src={state.videos[0].url} muted />}
      {state.error && <span data-testid="error">{state.error.kind}</span>}
    </div>
  );
}

function Watcher({ id, label }: { id: string | null; label: string }) {
  const { status, isLive, error } = useVideoTask(id);
  return (
    <span data-testid={label}>
      {status ?? 'none'}:{isLive ? 'live' : 'idle'}:{error?.kind ?? ''}
    </span>
  );
}

describe('useGenerateVideo', () => {
  it('generates, then follows progress to SUCCEEDED with a video', async () => {
    const { props } = providerProps();
    const seen: UseGenerateVideoResult[] = [];
    render(
      <VideoGatewayProvider {...props}>
        <Generator onState={(state) => seen.push(state)} />
      </VideoGatewayProvider>,
    );
    act(() => screen.getByText('generate').click());
    await waitFor(
      () => expect(screen.getByTestId('status').textContent).toBe('SUCCEEDED'),
      UNTIL_RENDERED,
    );
    const statuses = [...new Set(seen.map((state) => state.status).filter(Boolean))];
    expect(statuses[0]).toBe('QUEUED');
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(seen.some((state) => state.isPending)).toBe(true);
    const progress = seen.map((state) => state.progressPercent);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    const video = screen.getByTestId('video').getAttribute('src') ?? '';
    expect((await fetch(video)).status).toBe(200);
  });

  it('reports validation errors per field before any network request', async () => {
    let requests = 0;
    const countingFetch: typeof fetch = (...args) => {
      requests++;
      return fetch(...args);
    };
    const { props, ws } = providerProps({ fetch: countingFetch });
    let latest: UseGenerateVideoResult | undefined;
    function Bad() {
      const state = useGenerateVideo();
      latest = state;
      return (
        <button
          type="button"
          onClick={() => void state.generate({ ...input, height: 832, steps: 99 })}
        >
          go
        </button>
      );
    }
    render(
      <VideoGatewayProvider {...props}>
        <Bad />
      </VideoGatewayProvider>,
    );
    act(() => screen.getByText('go').click());
    await waitFor(() => expect(latest?.error).not.toBeNull());
    expect(latest?.error?.kind).toBe('validation');
    expect(latest?.error?.issues.map((issue) => issue.path)).toEqual([
      ['input', 'steps'],
      ['input', 'height'],
    ]);
    expect(latest?.error?.issues[1]?.message).toBe('height must be 480 when width is 832');
    expect(requests).toBe(0);
    expect(ws.counter.opened).toBe(0);
  });
});

describe('unmounting', () => {
  it('cancels a mutation in flight and updates nothing after it', async () => {
    const signals: AbortSignal[] = [];
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const calls: Promise<unknown>[] = [];
    const heldFetch: typeof fetch = (input, init) => {
      if (init?.signal) signals.push(init.signal);
      // The request waits until the component is gone.
      const call = released.then(() => fetch(input, init));
      calls.push(call.catch(() => undefined));
      return call;
    };
    const { props } = providerProps({ fetch: heldFetch });
    const states: UseGenerateVideoResult[] = [];
    const view = render(
      <VideoGatewayProvider {...props}>
        <Generator onState={(state) => states.push(state)} />
      </VideoGatewayProvider>,
    );
    act(() => screen.getByText('generate').click());
    await waitFor(() => expect(signals).toHaveLength(1));
    const rendersBefore = states.length;
    view.unmount();
    expect(signals[0]?.aborted).toBe(true);
    release();
    await Promise.all(calls);
    expect(states.length).toBe(rendersBefore);
  });
});

describe('useVideoTask', () => {
  it('shares one subscription between components on one id, and closes it when they unmount', async () => {
    live.emulator.setFaults({ stallTasks: { progress: 30 } });
    const task = await createTask({ seed: 41 });
    const before = await live.liveSubscriptions();
    const { props, ws } = providerProps();
    const view = render(
      <VideoGatewayProvider {...props}>
        <Watcher id={task.id} label="a" />
        <Watcher id={task.id} label="b" />
      </VideoGatewayProvider>,
    );
    await waitFor(() => expect(screen.getByTestId('b').textContent).toMatch(/^PROCESSING:live/));
    expect(screen.getByTestId('a').textContent).toMatch(/^PROCESSING:live/);
    expect(await live.liveSubscriptions()).toBe(before + 1);
    expect(ws.counter.opened).toBe(1);
    view.unmount();
    await waitFor(async () => expect(await live.liveSubscriptions()).toBe(before));
  });

  it('opens no second subscription in Strict Mode', async () => {
    live.emulator.setFaults({ stallTasks: { progress: 30 } });
    const task = await createTask({ seed: 42 });
    const before = await live.liveSubscriptions();
    const { props } = providerProps();
    let renders = 0;
    function Counted() {
      renders++;
      return <Watcher id={task.id} label="strict" />;
    }
    const view = render(
      <StrictMode>
        <VideoGatewayProvider {...props}>
          <Counted />
        </VideoGatewayProvider>
      </StrictMode>,
    );
    await waitFor(() =>
      expect(screen.getByTestId('strict').textContent).toMatch(/^PROCESSING:live/),
    );
    expect(renders).toBeGreaterThan(1); // Strict Mode did double-render
    expect(await live.liveSubscriptions()).toBe(before + 1);
    view.unmount();
    await waitFor(async () => expect(await live.liveSubscriptions()).toBe(before));
  });

  it('reconnects and resumes after the server drops the socket, with one final event', async () => {
    // A slower emulator of its own: about 5 s upstream, long enough to drop the socket in the
    // middle (its video is rendered before the suites, like the others).
    const slow = await startLiveGateway({}, { timeScale: 5 });
    onTestFinished(async () => {
      cleanup();
      await slow.stop();
    });
    const task = await createTask(LONG_INPUT, slow);
    const { props, ws } = providerProps({}, slow);
    const finals: string[] = [];
    const states: string[] = [];
    function Final() {
      const { status } = useVideoTask(task.id);
      const connection = useConnectionState();
      useEffect(() => {
        if (status === 'SUCCEEDED' || status === 'FAILED') finals.push(status);
      }, [status]);
      useEffect(() => {
        if (states.at(-1) !== connection) states.push(connection);
      }, [connection]);
      return <span data-testid="final">{status ?? 'none'}</span>;
    }
    render(
      <VideoGatewayProvider {...props}>
        <Final />
      </VideoGatewayProvider>,
    );
    await waitFor(() =>
      expect(screen.getByTestId('final').textContent).toMatch(/QUEUED|PROCESSING/),
    );
    // The gateway goes away, closing every socket (1001), and comes back on the same port.
    await slow.restart();
    await waitFor(
      () => expect(screen.getByTestId('final').textContent).toBe('SUCCEEDED'),
      UNTIL_RENDERED,
    );
    expect(ws.counter.opened).toBeGreaterThanOrEqual(2);
    expect(finals).toEqual(['SUCCEEDED']);
    // The drop is told as it happens: connected, reconnecting, connected again (then idle once
    // the finished task's subscription closed the lazy socket).
    const dropped = states.indexOf('reconnecting');
    expect(states.slice(0, dropped)).toContain('connected');
    expect(dropped).toBeGreaterThan(0);
    expect(states.slice(dropped + 1)).toContain('connected');
  });

  it('reports an auth error for a bad token, over HTTP and WebSocket', async () => {
    const guarded = await startLiveGateway({ GATEWAY_API_KEYS: 'good-key-12345678' });
    try {
      const ws = countingWebSocket();
      let latest: UseGenerateVideoResult | undefined;
      function Auth() {
        const state = useGenerateVideo();
        latest = state;
        return (
          <button type="button" onClick={() => void state.generate(input)}>
            go
          </button>
        );
      }
      render(
        <VideoGatewayProvider
          url={guarded.url}
          webSocketImpl={ws.WebSocketImpl}
          getAuthToken={async () => 'wrong-key-0000000'}
        >
          <Auth />
          <Watcher id="00000000-0000-4000-8000-000000000000" label="ws" />
        </VideoGatewayProvider>,
      );
      act(() => screen.getByText('go').click());
      await waitFor(() => expect(latest?.error?.kind).toBe('auth'));
      await waitFor(() => expect(screen.getByTestId('ws').textContent).toBe('none:idle:auth'));
    } finally {
      cleanup();
      await guarded.stop();
    }
  });
});

describe('useVideoTasks', () => {
  it('lists the history, newest first, and refreshes as tasks are generated and change', async () => {
    const { props } = providerProps();
    let list: ReturnType<typeof useVideoTasks> | undefined;
    function History() {
      list = useVideoTasks({ first: 5 });
      return null;
    }
    render(
      <VideoGatewayProvider {...props}>
        <History />
        <Generator onState={() => {}} />
      </VideoGatewayProvider>,
    );
    await waitFor(() => expect(list?.isLoading).toBe(false));
    act(() => screen.getByText('generate').click());
    await waitFor(
      () => expect(screen.getByTestId('status').textContent).toBe('SUCCEEDED'),
      UNTIL_RENDERED,
    );
    await waitFor(() => expect(list?.tasks[0]?.status).toBe('SUCCEEDED'));
    expect(list?.tasks.length).toBeLessThanOrEqual(5);
  });
});

describe('server rendering', () => {
  it('renders with renderToString and opens no socket and sends no request', () => {
    let requests = 0;
    const ws = countingWebSocket();
    function Page() {
      const history = useVideoTasks();
      const generator = useGenerateVideo();
      return (
        <p>
          <Watcher id="00000000-0000-4000-8000-000000000000" label="ssr" />
          {history.isLoading ? 'loading' : 'loaded'}:{generator.status ?? 'idle'}
        </p>
      );
    }
    const html = renderToString(
      <VideoGatewayProvider
        url={live.url}
        webSocketImpl={ws.WebSocketImpl}
        fetch={(...args) => {
          requests++;
          return fetch(...args);
        }}
      >
        <Page />
      </VideoGatewayProvider>,
    );
    const text = html.replace(/<!-- -->/g, '');
    expect(text).toContain('none:idle:');
    expect(text).toContain('loading:idle');
    expect(ws.counter.opened).toBe(0);
    expect(requests).toBe(0);
  });
});
