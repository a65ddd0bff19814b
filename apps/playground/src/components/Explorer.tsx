import { EXAMPLES } from '@wan-video/operations';
import { useState } from 'react';

function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <button
      type="button"
      className="btn ghost small"
      aria-label={`Copy the ${label} operation`}
      onClick={() => {
        const clipboard = navigator.clipboard as Clipboard | undefined;
        if (!clipboard) {
          setState('failed');
          return;
        }
        clipboard.writeText(text).then(
          () => setState('copied'),
          () => setState('failed'),
        );
      }}
    >
      <span aria-live="polite">
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : 'Copy'}
      </span>
    </button>
  );
}

export function Explorer({ authRequired }: { authRequired: boolean }) {
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
          {authRequired && (
            <p>
              This gateway needs an API key: in the explorer's Headers tab, add{' '}
              <code>{'{"authorization": "Bearer <your key>"}'}</code>.
            </p>
          )}
          <p className="muted">Paste an operation into the explorer, or copy one to your code.</p>
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
              <CopyButton text={example.text} label={example.id} />
            </div>
            <p className="muted small-text">{example.note}</p>
            <pre>
              <code>{example.text}</code>
            </pre>
          </section>
        ))}
      </div>
      <div className="card explorer-frame">
        <iframe title="GraphQL explorer" src="/graphql" />
      </div>
    </div>
  );
}
