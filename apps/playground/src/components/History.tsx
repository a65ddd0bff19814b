import { useCallback, useMemo, useState } from 'react';
import { useHistory } from '../hooks/history.js';
import { readHidden, writeHidden } from '../lib/hidden.js';
import { HistoryItem } from './HistoryItem.js';

const storage = (): Storage | undefined => {
  try {
    return localStorage;
  } catch {
    return undefined;
  }
};

interface HistoryProps {
  readonly apiKey: string;
  readonly selectedId: string | null;
  readonly onOpen: (id: string) => void;
}

/** Every task of this key, newest first, 20 at a time; hidden ones are remembered per key. */
export function History({ apiKey, selectedId, onOpen }: HistoryProps) {
  const { tasks, isLoading, isLoadingMore, error, refetch, hasNextPage, loadMore } = useHistory();
  const [hidden, setHidden] = useState(() => readHidden(storage(), apiKey));
  const [showHidden, setShowHidden] = useState(false);
  const hiddenSet = useMemo(() => new Set(hidden), [hidden]);
  const update = useCallback(
    (next: (ids: readonly string[]) => readonly string[]) =>
      setHidden((previous) => {
        const ids = next(previous);
        writeHidden(storage(), apiKey, ids);
        return ids;
      }),
    [apiKey],
  );
  const hide = useCallback(
    (id: string) => update((ids) => (ids.includes(id) ? ids : [...ids, id])),
    [update],
  );
  const unhide = useCallback(
    (id: string) => update((ids) => ids.filter((i) => i !== id)),
    [update],
  );

  const visible = showHidden ? tasks : tasks.filter((task) => !hiddenSet.has(task.id));
  const hiddenHere = tasks.length - tasks.filter((task) => !hiddenSet.has(task.id)).length;

  return (
    <aside className="card history" aria-label="History">
      <div className="card-head">
        <h2 className="card-title">History</h2>
        <span className="history-tools">
          {hiddenHere > 0 && (
            <button
              type="button"
              className="btn ghost small"
              aria-pressed={showHidden}
              onClick={() => setShowHidden((value) => !value)}
            >
              {showHidden ? 'Leave hidden out' : `Show ${hiddenHere} hidden`}
            </button>
          )}
          <button type="button" className="btn ghost small" onClick={refetch}>
            Refresh
          </button>
        </span>
      </div>
      {isLoading ? (
        <p className="muted" role="status">
          Loading your videos…
        </p>
      ) : error && tasks.length === 0 ? (
        <p className="history-error">
          {error.kind === 'auth'
            ? 'The history needs a valid API key.'
            : error.kind === 'network'
              ? 'Cannot reach the gateway to load the history.'
              : `The history could not be loaded: ${error.message}`}
        </p>
      ) : tasks.length === 0 ? (
        <p className="muted">No videos yet. The ones you generate are listed here.</p>
      ) : (
        <>
          {visible.length === 0 ? (
            <p className="muted">Every video here is hidden.</p>
          ) : (
            <ul className="history-list">
              {visible.map((task) => (
                <HistoryItem
                  key={task.id}
                  listed={task}
                  selected={task.id === selectedId}
                  hidden={hiddenSet.has(task.id)}
                  onOpen={onOpen}
                  onHide={hide}
                  onUnhide={unhide}
                />
              ))}
            </ul>
          )}
          {hasNextPage && (
            <button
              type="button"
              className="btn secondary load-more"
              disabled={isLoadingMore}
              onClick={loadMore}
            >
              {isLoadingMore ? 'Loading…' : 'Load more'}
            </button>
          )}
          {error && <p className="history-error">{`Could not load more: ${error.message}`}</p>}
        </>
      )}
    </aside>
  );
}
