import { type CSSProperties, useEffect, useState } from 'react';

interface ResultVideoProps {
  readonly url: string;
  readonly width: number;
  readonly height: number;
  readonly emulated: boolean;
}

/** Why a link did not play, from its own answer (the gateway's JSON error), in a sentence. */
async function whyNotPlaying(url: string): Promise<string> {
  try {
    const response = await fetch(url, { headers: { range: 'bytes=0-0' } });
    if (response.ok) return 'The browser could not play the file.';
    const body = (await response.json().catch(() => undefined)) as
      | { errors?: { message?: string }[]; message?: string }
      | undefined;
    const said = body?.errors?.[0]?.message ?? body?.message;
    return `The link answered HTTP ${response.status}${said ? `: ${said}` : '.'}`;
  } catch {
    return 'The gateway could not be reached.';
  }
}

/**
 * The finished video. The player is a strip taller than the frame, the frame at its top: the
 * native controls sit on that strip, below the picture, so they never cover the bottom of the
 * frame (where the emulator burns its "EMULATOR" mark). A link that does not play shows why,
 * never a blank player.
 */
export function ResultVideo({ url, width, height, emulated }: ResultVideoProps) {
  const style = { '--frame-w': width, '--frame-h': height } as CSSProperties;
  const [problem, setProblem] = useState<string | null>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new link is a new chance to play.
  useEffect(() => setProblem(null), [url]);
  return (
    <figure className="video-area" style={style}>
      {emulated && (
        <figcaption className="video-caption" data-testid="emulated-caption">
          Emulated video: procedural, not Wan output.
        </figcaption>
      )}
      {problem === null ? (
        <div className="video-box">
          <video
            data-testid="result-video"
            className="result-video"
            controls
            loop
            muted
            playsInline
            preload="metadata"
            src={url}
            onError={() => {
              void whyNotPlaying(url).then(setProblem);
            }}
          />
        </div>
      ) : (
        <div className="video-box video-unavailable" role="alert" data-testid="video-unavailable">
          <p>
            <strong>This video cannot be played.</strong> {problem}
          </p>
          <p className="muted">
            Generate it again with the same parameters and seed to get it back.
          </p>
        </div>
      )}
    </figure>
  );
}
