import { EXAMPLES } from '@wan-video/operations';

/**
 * GraphiQL (served by the gateway at /graphql, on this same origin) starts from what it keeps in
 * localStorage: the query, the variables and, since the gateway renders it with
 * `shouldPersistHeaders`, the headers. The playground writes them before opening it, so the
 * explorer runs with the page's API key and watches the last task generated.
 */
export const GRAPHIQL_STORAGE = {
  query: 'graphiql:query',
  variables: 'graphiql:variables',
  headers: 'graphiql:headers',
  tabs: 'graphiql:tabState',
} as const;

const example = (id: string): string =>
  EXAMPLES.find((candidate) => candidate.id === id)?.text ?? '';

export interface ExplorerPreset {
  readonly query: string;
  readonly variables: string;
  readonly headers: string;
}

/** What the explorer opens with: the "watch it live" subscription for `taskId`, or the history query. */
export function explorerPreset(taskId: string | null, apiKey: string): ExplorerPreset {
  const key = apiKey.trim();
  return {
    query: taskId === null ? example('query') : example('subscription'),
    variables: taskId === null ? '{}' : JSON.stringify({ id: taskId }, null, 2),
    headers: key === '' ? '{}' : JSON.stringify({ Authorization: `Bearer ${key}` }, null, 2),
  };
}

/**
 * Writes the preset where GraphiQL reads it, dropping its saved tabs (it would reopen those
 * instead). Storage that fails leaves GraphiQL as it was.
 */
export function applyExplorerPreset(storage: Storage | undefined, preset: ExplorerPreset): void {
  try {
    storage?.removeItem(GRAPHIQL_STORAGE.tabs);
    storage?.setItem(GRAPHIQL_STORAGE.query, preset.query);
    storage?.setItem(GRAPHIQL_STORAGE.variables, preset.variables);
    storage?.setItem(GRAPHIQL_STORAGE.headers, preset.headers);
  } catch {
    // Unavailable: the explorer opens with its defaults.
  }
}
