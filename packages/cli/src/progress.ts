import type { VideoTask } from '@wan-video/operations';
import { Presets, SingleBar } from 'cli-progress';
import type { Output } from './output.js';
import { formatSeconds, isTerminal, progressLine } from './task.js';

/** How a followed task is shown. */
export type ProgressMode =
  /** A live bar with percent and ETA on stderr (stderr is a terminal). */
  | 'bar'
  /** One plain line on stderr per status or percent change (`PROCESSING 45% eta 8s`). */
  | 'lines'
  /** `--json`: every snapshot as one JSON line on stdout (NDJSON). */
  | 'ndjson';

export interface ProgressView {
  /** Shows a snapshot (the first one starts the view). */
  update(task: VideoTask): void;
  /** Ends the view (restores the cursor); safe to call twice. */
  stop(): void;
}

/** The view for `mode`, writing through `output`. */
export function createProgressView(mode: ProgressMode, output: Output): ProgressView {
  switch (mode) {
    case 'ndjson': {
      let last: string | undefined;
      return {
        update(task) {
          // The subscription's first snapshot repeats the mutation's answer: one line for both.
          const line = JSON.stringify(task);
          if (line === last) return;
          last = line;
          output.data(line);
        },
        stop: () => {},
      };
    }
    case 'lines': {
      let last: string | undefined;
      return {
        update(task) {
          // A line per status or percent change; an ETA counting down alone is not a change.
          const key = `${task.status} ${task.progressPercent}`;
          if (key === last) return;
          last = key;
          output.note(progressLine(task));
        },
        stop: () => {},
      };
    }
    case 'bar':
      return createBar(output);
  }
}

function createBar(output: Output): ProgressView {
  const bar = new SingleBar(
    {
      stream: output.stderr as NodeJS.WriteStream,
      format: '{status} |{bar}| {percentage}% | ETA {taskEta} | {id}',
      hideCursor: true,
      barsize: 30,
      clearOnComplete: false,
      stopOnComplete: false,
      // The ETA is the gateway's (the upstream's estimate, counted down), not a guess from the rate.
      etaBuffer: 1,
    },
    Presets.shades_classic,
  );
  let started = false;
  let stopped = false;
  const payload = (task: VideoTask) => ({
    status: task.status.padEnd(10),
    id: task.id,
    taskEta: isTerminal(task) || task.etaSeconds == null ? '-' : formatSeconds(task.etaSeconds),
  });
  return {
    update(task) {
      if (stopped) return;
      if (!started) {
        started = true;
        bar.start(100, task.progressPercent, payload(task));
        return;
      }
      bar.update(task.progressPercent, payload(task));
    },
    stop() {
      if (stopped || !started) return;
      stopped = true;
      bar.stop();
    },
  };
}
