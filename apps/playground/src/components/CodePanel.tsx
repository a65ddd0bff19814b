import type { ResolvedVideoInput } from '@wan-video/core';
import { type KeyboardEvent, useState } from 'react';
import {
  SNIPPET_LANGUAGES,
  type SnippetLanguage,
  snippetFor,
  snippetInput,
} from '../lib/snippets.js';
import { CopyButton } from './CopyButton.js';

interface CodePanelProps {
  /** The form's request once valid; `null` while a field needs fixing. */
  readonly input: ResolvedVideoInput | null;
  readonly apiKey: string;
  readonly graphqlUrl: string;
}

/** The call the form stands for, as code to copy: curl, JavaScript (Node) and React. */
export function CodePanel({ input, apiKey, graphqlUrl }: CodePanelProps) {
  const [language, setLanguage] = useState<SnippetLanguage>('curl');
  const text =
    input === null
      ? null
      : snippetFor(language, {
          url: graphqlUrl,
          apiKey: apiKey.trim() === '' ? null : apiKey,
          input: snippetInput(input),
        });
  const onKeyDown = (event: KeyboardEvent<HTMLButtonElement>) => {
    const index = SNIPPET_LANGUAGES.findIndex((candidate) => candidate.id === language);
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (step === 0) return;
    event.preventDefault();
    const next =
      SNIPPET_LANGUAGES[(index + step + SNIPPET_LANGUAGES.length) % SNIPPET_LANGUAGES.length];
    if (!next) return;
    setLanguage(next.id);
    document.getElementById(`code-tab-${next.id}`)?.focus();
  };
  const label = SNIPPET_LANGUAGES.find((candidate) => candidate.id === language)?.label ?? '';
  return (
    <section className="card code-card" aria-labelledby="code-heading" data-testid="code-panel">
      <div className="card-head">
        <h2 id="code-heading" className="card-title">
          Code
        </h2>
        {text !== null && <CopyButton text={text} label={`the ${label} snippet`} />}
      </div>
      <div className="code-tabs" role="tablist" aria-label="Language">
        {SNIPPET_LANGUAGES.map((candidate) => (
          <button
            key={candidate.id}
            type="button"
            role="tab"
            id={`code-tab-${candidate.id}`}
            className="code-tab"
            aria-selected={language === candidate.id}
            aria-controls="code-snippet"
            tabIndex={language === candidate.id ? 0 : -1}
            onClick={() => setLanguage(candidate.id)}
            onKeyDown={onKeyDown}
          >
            {candidate.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id="code-snippet" aria-labelledby={`code-tab-${language}`}>
        {text === null ? (
          <p className="muted">Fix the form, and the code for its request appears here.</p>
        ) : (
          <pre className="code-block" data-testid="code-snippet">
            <code>{text}</code>
          </pre>
        )}
        <p className="hint">
          {language === 'curl'
            ? 'Starts the video and prints its id; watch it with the subscription in the explorer.'
            : language === 'javascript'
              ? 'Node 20 or later, as an ES module (generate.mjs): starts the video and follows it to the end.'
              : 'A component on @wan-video/react-hooks: the provider, useGenerateVideo and useVideoTask.'}
        </p>
      </div>
    </section>
  );
}
