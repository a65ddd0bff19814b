import { useEffect, useState } from 'react';

interface CopyButtonProps {
  readonly text: string;
  /** What is copied, for screen readers: "the curl snippet". */
  readonly label: string;
  /** The button's text before copying. */
  readonly idleText?: string;
}

/** Copies `text` to the clipboard and says so. */
export function CopyButton({ text, label, idleText = 'Copy' }: CopyButtonProps) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  // A new text is not copied yet.
  // biome-ignore lint/correctness/useExhaustiveDependencies: `text` is the reset trigger.
  useEffect(() => setState('idle'), [text]);
  return (
    <button
      type="button"
      className="btn ghost small"
      aria-label={`Copy ${label}`}
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
        {state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy failed' : idleText}
      </span>
    </button>
  );
}
