import type { VideoInput } from '@wan-video/core';
import {
  useConnectionState,
  useGenerateVideo,
  useVideoTask,
  VideoGatewayProvider,
  type VideoTask,
} from '@wan-video/react-hooks';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApiKeyField } from './components/ApiKeyField.js';
import { CodePanel } from './components/CodePanel.js';
import { Explorer } from './components/Explorer.js';
import { GenerateForm } from './components/GenerateForm.js';
import { History } from './components/History.js';
import { type Tab, Tabs, tabFromHash } from './components/Tabs.js';
import { TaskView } from './components/TaskView.js';
import { useBackOnline } from './hooks/back-online.js';
import { useGatewayInfo } from './hooks/gateway-info.js';
import { useRoute } from './hooks/route.js';
import { type FormState, formFromTask, INITIAL_FORM, validateForm } from './lib/form.js';
import { taskIdOf, taskPath } from './lib/route.js';

/** Where the API key is kept: this tab only, never the URL. */
const API_KEY_STORAGE = 'wan-video.apiKey';
/** The gateway serves this app, so its API is on the same origin. */
const GRAPHQL_URL = `${location.origin}/graphql`;

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

/** Scrolls the task's card into view unless it is in view already, so progress shows at once. */
function revealTask() {
  const card = document.getElementById('task-card');
  if (!card) return;
  const box = card.getBoundingClientRect();
  if (box.top >= 0 && box.top + 160 <= window.innerHeight) return;
  const smooth = !window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  card.scrollIntoView({ block: 'start', behavior: smooth ? 'smooth' : 'auto' });
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
  const emulated = info.status === 'ok' && info.info.emulated;

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

  // The task shown is the URL's (`/tasks/<id>`); while a generate request is out, its outcome.
  const [route, navigate] = useRoute();
  const routeTaskId = taskIdOf(route);
  const [requesting, setRequesting] = useState(false);
  /** The generate request whose task gets the URL; another navigation meanwhile cancels that. */
  const awaited = useRef(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new route is the trigger.
  useEffect(() => {
    // Back, forward or a history item: the URL's task replaces a request's outcome.
    awaited.current = 0;
    setRequesting(false);
  }, [route]);
  const [lastGeneratedId, setLastGeneratedId] = useState<string | null>(null);

  const gen = useGenerateVideo();
  const generate = gen.generate;
  const [form, setForm] = useState<FormState>(INITIAL_FORM);
  const formInput = useMemo(() => validateForm(form).data, [form]);

  // A page opened at a task's URL (a reload, a shared link) fills the form from that task.
  const [refillId, setRefillId] = useState(routeTaskId);
  const refill = useVideoTask(refillId);
  useEffect(() => {
    if (!refill.task) return;
    setForm(formFromTask(refill.task));
    setRefillId(null);
  }, [refill.task]);

  const requests = useRef(0);
  const run = useCallback(
    (input: VideoInput) => {
      const request = ++requests.current;
      awaited.current = request;
      setRequesting(true);
      setRefillId(null);
      revealTask();
      void generate(input).then((task) => {
        if (!task) return;
        setLastGeneratedId(task.id);
        // Unless another task was opened meanwhile, the new one gets the URL.
        if (awaited.current === request) navigate(taskPath(task.id));
      });
    },
    [generate, navigate],
  );

  const open = useCallback(
    (id: string) => {
      navigate(taskPath(id));
      revealTask();
    },
    [navigate],
  );
  const goHome = useCallback(() => navigate('/'), [navigate]);

  const edit = useCallback((task: VideoTask) => {
    setForm(formFromTask(task));
    document.getElementById('prompt')?.focus();
  }, []);

  const shownId = requesting ? null : routeTaskId;
  const requestError = requesting ? gen.error : null;

  // The connection coming back (the socket again, or an answer after a network error) clears
  // what it left behind: a stale "cannot reach" error, and the notice above the page.
  const connection = useConnectionState();
  const reset = gen.reset;
  const onBack = useCallback(() => {
    setEpoch((n) => n + 1);
    if (requestError?.kind === 'network') {
      reset();
      setRequesting(false);
    }
  }, [requestError, reset]);
  const wasReconnecting = useRef(false);
  useEffect(() => {
    if (connection === 'reconnecting') wasReconnecting.current = true;
    else if (connection === 'connected' && wasReconnecting.current) {
      wasReconnecting.current = false;
      onBack();
    }
  }, [connection, onBack]);
  useBackOnline(requestError?.kind === 'network', onBack);

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
            <h1>
              <a
                href="/"
                className="home-link"
                onClick={(event) => {
                  event.preventDefault();
                  goHome();
                }}
              >
                wan-video playground
              </a>
            </h1>
            <p className="tagline">Write a prompt, watch the video being made, play it.</p>
          </div>
        </div>
        <Tabs tab={tab} onTab={selectTab} />
      </header>

      {emulated && (
        <div className="banner" data-testid="emulator-banner" role="note">
          <strong>Emulator mode.</strong> Videos come from the local emulator, not Wan 2.1: they are
          generated test clips, while requests, progress and errors behave as they do for real.
        </div>
      )}
      {info.status === 'error' && info.error.kind !== 'auth' && (
        <div className="notice" role="status" data-testid="gateway-notice">
          <span>
            {info.error.kind === 'network'
              ? 'Cannot reach the gateway. Is it running? Trying again every few seconds.'
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
              <CodePanel input={formInput} apiKey={apiKey} graphqlUrl={GRAPHQL_URL} />
            </div>
            <div className="column" id="task-area">
              <TaskView
                taskId={shownId}
                isPending={gen.isPending}
                requestError={requestError}
                authRequired={authRequired || needsKey}
                emulated={emulated}
                onRun={run}
                onEdit={edit}
                onHome={goHome}
              />
              {canLoad ? (
                <History
                  key={`${epoch}:${committedKey.current}`}
                  apiKey={committedKey.current}
                  selectedId={shownId}
                  onOpen={open}
                />
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
          {explorerOpened && (
            <Explorer
              authRequired={authRequired || needsKey}
              apiKey={committedKey.current}
              lastTaskId={lastGeneratedId ?? routeTaskId}
            />
          )}
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
