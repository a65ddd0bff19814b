import type { CSSProperties } from 'react';

interface ResultVideoProps {
  readonly url: string;
  readonly width: number;
  readonly height: number;
  readonly emulated: boolean;
}

/**
 * The finished video. The player is a strip taller than the frame, the frame at its top: the
 * native controls sit on that strip, below the picture, so they never cover the bottom of the
 * frame (where the emulator burns its "EMULATOR" mark).
 */
export function ResultVideo({ url, width, height, emulated }: ResultVideoProps) {
  const style = { '--frame-w': width, '--frame-h': height } as CSSProperties;
  return (
    <figure className="video-area" style={style}>
      {emulated && (
        <figcaption className="video-caption" data-testid="emulated-caption">
          Emulated video: procedural, not Wan output.
        </figcaption>
      )}
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
        />
      </div>
    </figure>
  );
}
