import type { InfoState } from '../hooks/gateway-info.js';

interface ApiKeyFieldProps {
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly onCommit: () => void;
  readonly info: InfoState;
}

/** The API key, when the gateway needs one: kept in this tab, never in the URL. */
export function ApiKeyField({ value, onChange, onCommit, info }: ApiKeyFieldProps) {
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
