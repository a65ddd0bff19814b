import {
  isVideoGatewayError,
  useVideoGatewayClient,
  VideoGatewayError,
  type VideoTask,
} from '@wan-video/react-hooks';
import { useCallback, useEffect, useRef, useState } from 'react';

/** Tasks per page: the first page, and each "Load more". */
export const PAGE_SIZE = 20;

export interface HistoryState {
  readonly tasks: readonly VideoTask[];
  readonly hasNextPage: boolean;
  readonly isLoading: boolean;
  readonly isLoadingMore: boolean;
  readonly error: VideoGatewayError | null;
}

export interface UseHistoryResult extends HistoryState {
  /** Reads the first page again, keeping the older pages already loaded below it. */
  readonly refetch: () => void;
  /** Reads the page after the last one loaded. */
  readonly loadMore: () => void;
}

const toError = (error: unknown): VideoGatewayError =>
  isVideoGatewayError(error)
    ? error
    : new VideoGatewayError('network', 'Could not reach the video gateway.');

/** The first page's tasks, then the older ones already loaded that it does not list. */
function mergeFirstPage(
  first: readonly VideoTask[],
  known: readonly VideoTask[],
  keepOlder: boolean,
) {
  if (!keepOlder) return first;
  const ids = new Set(first.map((task) => task.id));
  const last = first.at(-1);
  const older = known.filter(
    (task) => !ids.has(task.id) && (last === undefined || task.createdAt <= last.createdAt),
  );
  return [...first, ...older];
}

/**
 * Every task of this key, newest first, a page at a time (`videoTasks` with `first`/`after`),
 * kept fresh: a task this client sees change is updated in place, one it has not listed (just
 * generated) and the tab regaining focus bring the first page again.
 */
export function useHistory(): UseHistoryResult {
  const client = useVideoGatewayClient();
  const [state, setState] = useState<HistoryState>({
    tasks: [],
    hasNextPage: false,
    isLoading: true,
    isLoadingMore: false,
    error: null,
  });
  const listed = useRef(new Set<string>());
  listed.current = new Set(state.tasks.map((task) => task.id));
  /** Primes the client with a page's tasks, as listed already (no refetch for them). */
  const prime = useCallback(
    (tasks: readonly VideoTask[]) => {
      for (const task of tasks) {
        listed.current.add(task.id);
        client.prime(task);
      }
    },
    [client],
  );
  const cursor = useRef<string | null>(null);
  const pages = useRef(0);
  const [generation, setGeneration] = useState(0);
  const refetch = useCallback(() => setGeneration((n) => n + 1), []);

  // biome-ignore lint/correctness/useExhaustiveDependencies: `generation` is the refetch trigger.
  useEffect(() => {
    const controller = new AbortController();
    client.listTasks(PAGE_SIZE, undefined, controller.signal).then(
      (page) => {
        if (controller.signal.aborted) return;
        prime(page.tasks);
        const keepOlder = pages.current > 1;
        if (!keepOlder) cursor.current = page.endCursor;
        pages.current = Math.max(1, pages.current);
        setState((previous) => ({
          ...previous,
          tasks: mergeFirstPage(page.tasks, previous.tasks, keepOlder),
          hasNextPage: keepOlder ? previous.hasNextPage : page.hasNextPage,
          isLoading: false,
          error: null,
        }));
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState((previous) => ({ ...previous, isLoading: false, error: toError(error) }));
      },
    );
    return () => controller.abort();
  }, [client, prime, generation]);

  const loading = useRef(false);
  const loadMore = useCallback(() => {
    if (loading.current || cursor.current === null) return;
    loading.current = true;
    setState((previous) => ({ ...previous, isLoadingMore: true }));
    client.listTasks(PAGE_SIZE, cursor.current).then(
      (page) => {
        loading.current = false;
        prime(page.tasks);
        cursor.current = page.endCursor;
        pages.current += 1;
        setState((previous) => {
          const ids = new Set(previous.tasks.map((task) => task.id));
          return {
            ...previous,
            tasks: [...previous.tasks, ...page.tasks.filter((task) => !ids.has(task.id))],
            hasNextPage: page.hasNextPage,
            isLoadingMore: false,
            error: null,
          };
        });
      },
      (error: unknown) => {
        loading.current = false;
        setState((previous) => ({ ...previous, isLoadingMore: false, error: toError(error) }));
      },
    );
  }, [client, prime]);

  // A change to a listed task updates it; an unknown task (one just generated) brings a refetch.
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

  // Back to the tab: what happened meanwhile (another tab, the API) shows up.
  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState === 'visible') refetch();
    };
    window.addEventListener('focus', refetch);
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      window.removeEventListener('focus', refetch);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [refetch]);

  return { ...state, refetch, loadMore };
}
