import type { VideoInput } from '@wan-video/core';
import {
  type GatewayInfo,
  isVideoGatewayError,
  useGenerateVideo,
  useVideoGatewayClient,
  VideoGatewayError,
  VideoGatewayProvider,
  type VideoTask,
} from '@wan-video/react-hooks';
import { type KeyboardEvent, useCallback, useEffect, useRef, useState } from 'react';
import { Explorer } from './components/Explorer.js';
import { GenerateForm } from './components/GenerateForm.js';
import { History } from './components/History.js';
import { TaskView } from './components/TaskView.js';
import { type FormState, formFromTask, INITIAL_FORM } from './lib/form.js';

/** Where the API key is kept: this tab only, never the URL. */
const API_KEY_STORAGE = 'wan-video.apiKey';
/** The gateway serves this app, so its API is on the same origin. */
const GRAPHQL_URL = `${location.origin}/graphql`;
/** Below this width the layout is one column. */
const ONE_COLUMN = '(max-width: 959px)';

function readStoredKey(): string {
  try {
    return sessionStorage.getItem(API_KEY_STORAGE) ?? '';
  } catch {
    return '';
  }
}

function storeKey(value: string) {
  try {
    if (value === '') sessionStorage.removeItem(API_KEY_STORAGE);
    else sessionStorage.setItem(API_KEY_STORAGE, value);
  } catch {
    // Storage may be unavailable (privacy settings); the key then lasts until reload.
  }
}

export function App() {
  const [apiKey, setApiKey] = useState(readStoredKey);
  const onApiKeyChange = useCallback((value: string) => {
    setApiKey(value);
    storeKey(value);
  }, []);
  return (
    <VideoGatewayProvider url={GRAPHQL_URL} getAuthToken={() => apiKey.trim() || null}>
      <Playground apiKey={apiKey} onApiKeyChange={onApiKeyChange} />
    </VideoGatewayProvider>
  );
}

type InfoState =
  | { readonly status: 'loading' }
  | { readonly status: 'ok'; readonly info: GatewayInfo }
  | { readonly status: 'error'; readonly error: VideoGatewayError };

/** How the gateway runs; asked again whenever `epoch` changes (a new key, a retry). */
function useGatewayInfo(epoch: number): InfoState {
  const client = useVideoGatewayClient();
  const [state, setState] = useState<InfoState>({ status: 'loading' });
  // biome-ignore lint/correctness/useExhaustiveDependencies: `epoch` is the refetch trigger.
  useEffect(() => {
    const controller = new AbortController();
    client.gatewayInfo(controller.signal).then(
      (info) => {
        if (!controller.signal.aborted) setState({ status: 'ok', info });
      },
      (error: unknown) => {
        if (controller.signal.aborted) return;
        setState({
          status: 'error',
          error: isVideoGatewayError(error)
            ? error
            : new VideoGatewayError('network', 'Could not reach the video gateway.'),
        });
      },
    );
    return () => controller.abort();
  }, [client, epoch]);
  return state;
}

type Tab = 'generate' | 'explorer';
const TABS: readonly { readonly id: Tab; readonly label: string }[] = [
  { id: 'generate', label: 'Generate' },
  { id: 'explorer', label: 'Explorer' },
];
const tabFromHash = (): Tab => (location.hash === '#explorer' ? 'explorer' : 'generate');

function Tabs({ tab, onTab }: { tab: Tab; onTab: (tab: Tab) => void }) {
  const onKeyDown = (event: KeyboardEvent<HTMLButtonElement>) => {
    const index = TABS.findIndex((candidate) => candidate.id === tab);
    let next: number;
    if (event.key === 'ArrowRight') next = (index + 1) % TABS.length;
    else if (event.key === 'ArrowLeft') next = (index - 1 + TABS.length) % TABS.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = TABS.length - 1;
    else return;
    event.preventDefault();
    const target = TABS[next];
    if (!target) return;
    onTab(target.id);
    document.getElementById(`tab-${target.id}`)?.focus();
  };
  return (
    <div className="tabs" role="tablist" aria-label="Playground sections">
      {TABS.map((candidate) => (
        <button
          key={candidate.id}
          type="button"
          role="tab"
          id={`tab-${candidate.id}`}
          className="tab"
          aria-selected={tab === candidate.id}
          aria-controls={`panel-${candidate.id}`}
          tabIndex={tab === candidate.id ? 0 : -1}
          onClick={() => onTab(candidate.id)}
          onKeyDown={onKeyDown}
        >
          {candidate.label}
        </button>
      ))}
    </div>
  );
}

interface ApiKeyFieldProps {
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly onCommit: () => void;
  readonly info: InfoState;
}

function ApiKeyField({ value, onChange, onCommit, info }: ApiKeyFieldProps) {
  const refused = info.status === 'error' && info.error.kind === 'auth';
  const status = refused
    ? value.trim() === ''
      ? 'This gateway needs an API key.'
      : 'The gateway refused this key.'
    : info.status === 'ok'
      ? 'Key accepted.'
      : '';
  return (
    // A form of its own, so Enter applies the key at once; it has no name, so never goes to a URL.
    <form
      className="key-bar"
      aria-label="API key"
      onSubmit={(event) => {
        event.preventDefault();
        onCommit();
      }}
    >
      <label htmlFor="api-key">API key</label>
      <input
        id="api-key"
        type="password"
        autoComplete="off"
        spellCheck={false}
        value={value}
        aria-invalid={refused || undefined}
        aria-describedby="api-key-hint"
        onChange={(event) => onChange(event.target.value)}
      />
      <p id="api-key-hint" className="hint">
        {status !== '' && (
          <span className={refused ? 'key-refused' : 'key-ok'} role="status">
            {status}{' '}
          </span>
        )}
        Kept in this tab only (sessionStorage), sent as a Bearer token.
      </p>
    </form>
  );
}

interface PlaygroundProps {
  readonly apiKey: string;
  readonly onApiKeyChange: (value: string) => void;
}

function Playground({ apiKey, onApiKeyChange }: PlaygroundProps) {
  // A new key (after a pause in typing, or on Enter) asks the gateway again.
  const [epoch, setEpoch] = useState(0);
  const committedKey = useRef(apiKey);
  const commitKey = useCallback(() => {
    committedKey.current = apiKey;
    setEpoch((n) => n + 1);
  }, [apiKey]);
  useEffect(() => {
    if (apiKey === committedKey.current) return;
    const timer = setTimeout(() => {
      if (committedKey.current !== apiKey) commitKey();
    }, 600);
    return () => clearTimeout(timer);
  }, [apiKey, commitKey]);

  const info = useGatewayInfo(epoch);
  const [authRequired, setAuthRequired] = useState(false);
  const needsKey =
    (info.status === 'ok' && info.info.authRequired) ||
    (info.status === 'error' && info.error.kind === 'auth');
  useEffect(() => {
    if (needsKey) setAuthRequired(true);
  }, [needsKey]);
  const canLoad = info.status === 'ok' || (info.status === 'error' && info.error.kind !== 'auth');

  const [tab, setTab] = useState<Tab>(tabFromHash);
  const [explorerOpened, setExplorerOpened] = useState(tab === 'explorer');
  const selectTab = useCallback((next: Tab) => {
    setTab(next);
    if (next === 'explorer') setExplorerOpened(true);
    history.replaceState(
      history.state,
      '',
      next === 'explorer' ? '#explorer' : `${location.pathname}${location.search}`,
    );
  }, []);
  useEffect(() => {
    const onHash = () => {
      const next = tabFromHash();
      setTab(next);
      if (next === 'explorer') setExplorerOpened(true);
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);

  const gen = useGenerateVideo();
  const generate = gen.generate;
  const [form, setForm] = useState<FormState>(INITIAL_FORM);
  const [view, setView] = useState<{ id: string | null; fromRequest: boolean }>({
    id: null,
    fromRequest: false,
  });

  const revealTask = useCallback(() => {
    if (!window.matchMedia(ONE_COLUMN).matches) return;
    const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
    document
      .getElementById('task-area')
      ?.scrollIntoView({ block: 'start', behavior: smooth ? 'smooth' : 'auto' });
  }, []);

  const run = useCallback(
    (input: VideoInput) => {
      setView({ id: null, fromRequest: true });
      revealTask();
      void generate(input).then((task) => {
        if (!task) return;
        // Unless another task was picked meanwhile, show the new one.
        setView((current) =>
          current.fromRequest && current.id === null ? { id: task.id, fromRequest: true } : current,
        );
      });
    },
    [generate, revealTask],
  );

  const select = useCallback(
    (id: string) => {
      setView({ id, fromRequest: false });
      revealTask();
    },
    [revealTask],
  );

  const edit = useCallback((task: VideoTask) => {
    setForm(formFromTask(task));
    document.getElementById('prompt')?.focus();
  }, []);

  const requestError = view.fromRequest && view.id === null ? gen.error : null;

  return (
    <div className="app">
      <header className="app-header">
        <div className="brand">
          <svg
            className="logo"
            viewBox="0 0 32 32"
            width="36"
            height="36"
            aria-hidden="true"
            focusable="false"
          >
            <rect width="32" height="32" rx="9" fill="currentColor" />
            <path d="M13 10.5v11l9-5.5z" fill="#fff" />
          </svg>
          <div>
            <h1>wan-video playground</h1>
            <p className="tagline">Write a prompt, watch the video being made, play it.</p>
          </div>
        </div>
        <Tabs tab={tab} onTab={selectTab} />
      </header>

      {info.status === 'ok' && info.info.emulated && (
        <div className="banner" data-testid="emulator-banner" role="note">
          <strong>Emulator mode.</strong> Videos come from the local emulator, not Wan 2.1: they are
          generated test clips, while requests, progress and errors behave as they do for real.
        </div>
      )}
      {info.status === 'error' && info.error.kind !== 'auth' && (
        <div className="notice" role="status">
          <span>
            {info.error.kind === 'network'
              ? 'Cannot reach the gateway. Is it running?'
              : `The gateway did not answer as expected: ${info.error.message}`}
          </span>
          <button type="button" className="btn secondary small" onClick={commitKey}>
            Retry
          </button>
        </div>
      )}
      {(authRequired || needsKey) && (
        <ApiKeyField value={apiKey} onChange={onApiKeyChange} onCommit={commitKey} info={info} />
      )}

      <main>
        <div
          role="tabpanel"
          id="panel-generate"
          aria-labelledby="tab-generate"
          hidden={tab !== 'generate'}
          className="panel"
        >
          <div className="layout">
            <div className="column">
              <GenerateForm
                form={form}
                onChange={setForm}
                isPending={gen.isPending}
                onGenerate={run}
              />
            </div>
            <div className="column" id="task-area">
              <TaskView
                taskId={view.id}
                isPending={gen.isPending}
                requestError={requestError}
                authRequired={authRequired || needsKey}
                onRun={run}
                onEdit={edit}
              />
              {canLoad ? (
                <History key={epoch} selectedId={view.id} onSelect={select} />
              ) : (
                <aside className="card history" aria-label="History">
                  <div className="card-head">
                    <h2 className="card-title">History</h2>
                  </div>
                  <p className="muted">
                    {info.status === 'loading'
                      ? 'Connecting to the gateway…'
                      : 'Enter your API key to see your videos.'}
                  </p>
                </aside>
              )}
            </div>
          </div>
        </div>
        <div
          role="tabpanel"
          id="panel-explorer"
          aria-labelledby="tab-explorer"
          hidden={tab !== 'explorer'}
          className="panel"
        >
          {explorerOpened && <Explorer authRequired={authRequired || needsKey} />}
        </div>
      </main>

      <footer className="app-footer">
        <span>
          GraphQL at <code>/graphql</code>
        </span>
        {info.status === 'ok' && (
          <span>
            {`Up to ${info.info.mutationsPerMinute} videos a minute, ${info.info.maxInFlightTasks} at once`}
          </span>
        )}
      </footer>
    </div>
  );
}
