import { EXAMPLES } from '@wan-video/operations';
import { useEffect, useState } from 'react';
import { applyExplorerPreset, explorerPreset } from '../lib/explorer.js';
import { CopyButton } from './CopyButton.js';

interface ExplorerProps {
  readonly authRequired: boolean;
  readonly apiKey: string;
  /** The last task generated here: the explorer opens watching it. */
  readonly lastTaskId: string | null;
}

const storage = (): Storage | undefined => {
  try {
    return localStorage;
  } catch {
    return undefined;
  }
};

export function Explorer({ authRequired, apiKey, lastTaskId }: ExplorerProps) {
  // GraphiQL reads its query, variables and headers from storage when it loads: write them, then
  // (re)load it. A new task or key loads it again with them.
  const presetKey = `${lastTaskId ?? ''}\n${apiKey.trim()}`;
  const [loaded, setLoaded] = useState<string | null>(null);
  useEffect(() => {
    const [taskId = '', key = ''] = presetKey.split('\n');
    applyExplorerPreset(storage(), explorerPreset(taskId === '' ? null : taskId, key));
    setLoaded(presetKey);
  }, [presetKey]);

  return (
    <div className="explorer">
      <div className="explorer-side">
        <section className="card">
          <h2 className="card-title">The GraphQL API</h2>
          <p>
            The gateway speaks GraphQL at <code>/graphql</code>: queries and mutations over HTTP,
            subscriptions over WebSocket (graphql-ws). The explorer runs against this same gateway,
            so what you start there shows up in your history.
          </p>
          <p>
            {lastTaskId === null
              ? 'It opens with the history query. Generate a video and it opens watching it.'
              : `It opens with the "Watch it live" subscription for your last video (${lastTaskId}): press Run.`}
          </p>
          {authRequired && (
            <p>
              {apiKey.trim() === ''
                ? 'This gateway needs an API key: enter it at the top of the page, and the explorer sends it.'
                : 'It sends the API key entered on this page (see its Headers tab).'}
            </p>
          )}
          <p>
            <a
              className="btn secondary explorer-full"
              href="/graphql"
              target="_blank"
              rel="noopener"
            >
              Open the explorer full screen
            </a>
          </p>
        </section>
        {EXAMPLES.map((example) => (
          <section
            className="card example"
            key={example.id}
            aria-labelledby={`example-${example.id}`}
          >
            <div className="card-head">
              <h3 className="example-title" id={`example-${example.id}`}>
                {example.title}
              </h3>
              <CopyButton text={example.text} label={`the ${example.id} operation`} />
            </div>
            <p className="muted small-text">{example.note}</p>
            <pre>
              <code>{example.text}</code>
            </pre>
          </section>
        ))}
      </div>
      <div className="card explorer-frame">
        {loaded === presetKey && <iframe key={loaded} title="GraphQL explorer" src="/graphql" />}
      </div>
    </div>
  );
}
