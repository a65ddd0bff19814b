import type { VideoInput } from '@wan-video/core';
import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import { type ConnectionState, EMPTY_TASK_STATE, type TaskState } from './client.js';
import { isVideoGatewayError, networkError, type VideoGatewayError } from './errors.js';
import type { VideoTask } from './operations.js';
import { useVideoGatewayClient } from './provider.js';

const noop = () => {};
const toError = (error: unknown): VideoGatewayError =>
  isVideoGatewayError(error) ? error : networkError(error);

export interface UseVideoTaskResult extends TaskState {
  readonly status: VideoTask['status'] | null;
  readonly progressPercent: number;
  readonly etaSeconds: number | null;
  /** Whether `progressPercent` and `etaSeconds` are the gateway's estimate between upstream reads. */
  readonly progressEstimated: boolean;
  readonly videos: VideoTask['videos'];
}

const withShortcuts = (state: TaskState): UseVideoTaskResult => ({
  ...state,
  status: state.task?.status ?? null,
  progressPercent: state.task?.progressPercent ?? 0,
  etaSeconds: state.task?.etaSeconds ?? null,
  progressEstimated: state.task?.progressEstimated ?? false,
  videos: state.task?.videos ?? [],
});

/**
 * The live state of one task: the snapshot now, then every change. Components reading the same
 * id share one subscription; it ends when the last of them unmounts or the task is final.
 * `null` watches nothing. On the server it renders the empty state and opens nothing.
 */
export function useVideoTask(id: string | null): UseVideoTaskResult {
  const client = useVideoGatewayClient();
  const subscribe = useCallback(
    (onChange: () => void) => (id ? client.watchTask(id, onChange) : noop),
    [client, id],
  );
  const getSnapshot = useCallback(
    () => (id ? client.getTaskState(id) : EMPTY_TASK_STATE),
    [client, id],
  );
  const state = useSyncExternalStore(subscribe, getSnapshot, () => EMPTY_TASK_STATE);
  const last = useRef<{ state: TaskState; result: UseVideoTaskResult } | undefined>(undefined);
  if (last.current?.state !== state) last.current = { state, result: withShortcuts(state) };
  return last.current.result;
}

export interface GenerateOptions {
  /** The same key again returns the same task and pays nothing twice. */
  readonly idempotencyKey?: string;
}

export interface UseGenerateVideoResult extends UseVideoTaskResult {
  /**
   * Validates the input (errors per field, before any request), starts the video and follows it.
   * Resolves with the task, or `null` when it failed (see `error`) or was superseded.
   */
  readonly generate: (input: VideoInput, options?: GenerateOptions) => Promise<VideoTask | null>;
  /** Forgets the task and the error, and cancels a request in flight. */
  readonly reset: () => void;
  /** The mutation is in flight. */
  readonly isPending: boolean;
}

/** Generate a video and watch it live: `const { generate, status, progressPercent, videos, error } = useGenerateVideo()`. */
export function useGenerateVideo(): UseGenerateVideoResult {
  const client = useVideoGatewayClient();
  const [taskId, setTaskId] = useState<string | null>(null);
  const [requestError, setRequestError] = useState<VideoGatewayError | null>(null);
  const [isPending, setPending] = useState(false);
  const inFlight = useRef<AbortController | null>(null);
  const mounted = useRef(false);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      inFlight.current?.abort();
    };
  }, []);

  const generate = useCallback(
    async (input: VideoInput, options: GenerateOptions = {}) => {
      inFlight.current?.abort();
      const controller = new AbortController();
      inFlight.current = controller;
      setRequestError(null);
      setTaskId(null);
      setPending(true);
      try {
        const task = await client.generate(input, { ...options, signal: controller.signal });
        if (!mounted.current || controller.signal.aborted) return null;
        setTaskId(task.id);
        return task;
      } catch (error) {
        if (mounted.current && !controller.signal.aborted) setRequestError(toError(error));
        return null;
      } finally {
        if (mounted.current && inFlight.current === controller) {
          inFlight.current = null;
          setPending(false);
        }
      }
    },
    [client],
  );

  const reset = useCallback(() => {
    inFlight.current?.abort();
    inFlight.current = null;
    setTaskId(null);
    setRequestError(null);
    setPending(false);
  }, []);

  const live = useVideoTask(taskId);
  return { ...live, error: requestError ?? live.error, generate, reset, isPending };
}

export interface UseVideoTasksResult {
  readonly tasks: readonly VideoTask[];
  readonly hasNextPage: boolean;
  readonly error: VideoGatewayError | null;
  readonly isLoading: boolean;
  readonly refetch: () => void;
}

/**
 * The caller's history, newest first, kept fresh: a task this client sees change is updated in
 * place, and a task it has not listed yet (just generated) brings a refetch.
 */
export function useVideoTasks(options: { first?: number } = {}): UseVideoTasksResult {
  const client = useVideoGatewayClient();
  const first = options.first ?? 20;
  const [state, setState] = useState<Omit<UseVideoTasksResult, 'refetch'>>({
    tasks: [],
    hasNextPage: false,
    error: null,
    isLoading: true,
  });
  const [generation, setGeneration] = useState(0);
  const refetch = useCallback(() => setGeneration((n) => n + 1), []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `generation` is the refetch trigger.
  useEffect(() => {
    const controller = new AbortController();
    client.listTasks(first, undefined, controller.signal).then(
      (page) => {
        if (controller.signal.aborted) return;
        for (const task of page.tasks) client.prime(task);
        setState({
          tasks: page.tasks,
          hasNextPage: page.hasNextPage,
          error: null,
          isLoading: false,
        });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((previous) => ({ ...previous, error: toError(error), isLoading: false }));
      },
    );
    return () => controller.abort();
  }, [client, first, generation]);

  const listed = useRef(new Set<string>());
  listed.current = new Set(state.tasks.map((task) => task.id));
  useEffect(
    () =>
      client.onTaskChange((task) => {
        if (!listed.current.has(task.id)) {
          refetch();
          return;
        }
        setState((previous) => ({
          ...previous,
          tasks: previous.tasks.map((known) => (known.id === task.id ? task : known)),
        }));
      }),
    [client, refetch],
  );

  return { ...state, refetch };
}

/**
 * The client's WebSocket state (`idle`, `connecting`, `connected`, `reconnecting`), for a
 * "Reconnecting…" badge: watched tasks resume by themselves once it is `connected` again.
 */
export function useConnectionState(): ConnectionState {
  const client = useVideoGatewayClient();
  return useSyncExternalStore(
    (listener) => client.onConnectionChange(listener),
    () => client.getConnectionState(),
    () => 'idle',
  );
}
