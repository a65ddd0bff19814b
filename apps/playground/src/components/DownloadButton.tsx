import { useState } from 'react';
import { downloadName, downloadViaBlob, isSameOrigin } from '../lib/download.js';

interface DownloadButtonProps {
  readonly taskId: string;
  readonly url: string;
  readonly type: string;
}

/**
 * Saves the video without leaving the page. On this origin a plain `<a download>` does it; from
 * another origin (where browsers ignore `download` and would open the video instead) the file is
 * fetched and saved from an object URL. If even that fails, the video opens in a new tab.
 */
export function DownloadButton({ taskId, url, type }: DownloadButtonProps) {
  const [state, setState] = useState<'idle' | 'saving' | 'failed'>('idle');
  const fileName = downloadName(taskId, type);
  const crossOrigin = !isSameOrigin(url, location.origin);
  return (
    <span className="download-row">
      <a
        className="btn secondary download"
        href={url}
        download={fileName}
        aria-busy={state === 'saving' || undefined}
        onClick={(event) => {
          if (!crossOrigin) return;
          event.preventDefault();
          if (state === 'saving') return;
          setState('saving');
          downloadViaBlob(url, fileName, {
            fetch: (...args) => fetch(...args),
            document,
            createObjectURL: (blob) => URL.createObjectURL(blob),
            revokeObjectURL: (objectUrl) => URL.revokeObjectURL(objectUrl),
          }).then(
            () => setState('idle'),
            () => {
              setState('failed');
              window.open(url, '_blank', 'noopener');
            },
          );
        }}
      >
        {state === 'saving' ? 'Downloading…' : 'Download MP4'}
      </a>
      {state === 'failed' && (
        <span className="hint" role="status">
          Could not download here; the video opened in a new tab.
        </span>
      )}
    </span>
  );
}
