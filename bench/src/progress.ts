/**
 * Progress freshness: how long a subscriber goes without hearing from a task while it is
 * PROCESSING, and how many upstream reads that costs. Tasks of about 20 s (time scale 1, so the
 * emulator's own pace), watched over graphql-ws through a gateway in polling mode as shipped (no
 * custom poll policy). The gap is measured between consecutive pushes a watcher receives while
 * the task is PROCESSING; reads are counted from the emulator's request log.
 *
 * Targets: the gap's p95 at most 3 s, with no more than ceil(T / 3 s) + 3 upstream reads per task.
 *
 * `run()` returns the section; run directly, it prints its markdown:
 * `node --import tsx src/progress.ts` (add `--conditions=@wan-video/source` to run the sources).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { taskDurationMs } from '@wan-video/emulator';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ascending,
  percentile,
  printSection,
  type Section,
  startEmulatorProcess,
  startGatewayProcess,
  type Target,
  table,
} from './common.js';

const TIME_SCALE = 1;
const TASKS = 8;
const API_KEY = 'bench-upstream-key';
const INPUT = {
  prompt: 'a lighthouse at dusk, waves breaking on the rocks',
  width: 832,
  height: 480,
  steps: 30,
  seed: 5151,
} as const;
const T_MS = taskDurationMs(INPUT, TIME_SCALE);
const MAX_GAP_P95_MS = 3000;
const MAX_READS = Math.ceil(T_MS / 3000) + 3;

const GENERATE = 'mutation ($input: GenerateVideoInput!) { generateVideo(input: $input) { id } }';
const WATCH =
  'subscription ($id: ID!) { videoTask(id: $id) { status progressPercent etaSeconds progressEstimated } }';

interface Push {
  readonly at: number;
  readonly status: string;
  readonly progressPercent: number;
  readonly progressEstimated: boolean;
}

const log = (message: string) => console.error(`progress: ${message}`);

export async function run(): Promise<Section> {
  const started = performance.now();
  const loadAtStart = os.loadavg()[0] ?? 0;
  const dir = await mkdtemp(join(os.tmpdir(), 'wan-bench-progress-'));
  const emulator = await startEmulatorProcess({
    timeScale: TIME_SCALE,
    apiKeys: [API_KEY],
    storageDir: join(dir, 'videos'),
  });
  const gateway = await startGatewayProcess({
    PORT: '0',
    NOVITA_API_KEY: API_KEY,
    NOVITA_BASE_URL: emulator.url,
    DATABASE_PATH: join(dir, 'gateway.db'),
    LOG_LEVEL: 'error',
  });
  const client = createClient({
    url: `${gateway.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
  });
  try {
    log(`${TASKS} tasks of about ${(T_MS / 1000).toFixed(0)} s, one watcher each`);
    const ids = await Promise.all(
      Array.from({ length: TASKS }, async (_, index) => {
        const response = await fetch(`${gateway.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            query: GENERATE,
            variables: { input: { ...INPUT, seed: INPUT.seed + index } },
          }),
        });
        const body = (await response.json()) as { data?: { generateVideo: { id: string } } };
        if (!body.data) throw new Error(`generateVideo failed: ${JSON.stringify(body)}`);
        return body.data.generateVideo.id;
      }),
    );
    const pushes = await Promise.all(
      ids.map(
        (id) =>
          new Promise<Push[]>((resolve, reject) => {
            const seen: Push[] = [];
            client.subscribe(
              { query: WATCH, variables: { id } },
              {
                next: (message) => {
                  const task = (message.data as { videoTask?: Omit<Push, 'at'> } | undefined)
                    ?.videoTask;
                  if (task) seen.push({ ...task, at: performance.now() });
                },
                error: reject,
                complete: () => resolve(seen),
              },
            );
          }),
      ),
    );
    const { requests } = await emulator.log();
    const created = requests.filter((entry) => entry.method === 'POST' && entry.taskId);
    const reads = created.map(
      (create) =>
        requests.filter((entry) => entry.taskId === create.taskId && entry.method === 'GET').length,
    );
    const gaps: number[] = [];
    let estimated = 0;
    let backwards = 0;
    for (const seen of pushes) {
      for (let index = 1; index < seen.length; index++) {
        const [before, after] = [seen[index - 1], seen[index]];
        if (!before || !after) continue;
        if (after.progressPercent < before.progressPercent) backwards++;
        if (before.status === 'PROCESSING') gaps.push(after.at - before.at);
      }
      estimated += seen.filter((push) => push.progressEstimated).length;
    }
    const sortedGaps = ascending(gaps);
    const sortedReads = ascending(reads);
    const gapP95 = percentile(sortedGaps, 95);
    const maxReads = sortedReads.at(-1) ?? Number.NaN;
    const pushCount = pushes.reduce((sum, seen) => sum + seen.length, 0);
    const targets: Target[] = [
      {
        name: `gap between pushes while PROCESSING (polling, T = ${(T_MS / 1000).toFixed(0)} s), p95`,
        target: `≤ ${MAX_GAP_P95_MS / 1000} s`,
        measured: `${(gapP95 / 1000).toFixed(2)} s`,
        met: gapP95 <= MAX_GAP_P95_MS,
      },
      {
        name: 'upstream reads per task meanwhile (max)',
        target: `≤ ceil(T/3 s)+3 = ${MAX_READS}`,
        measured: String(maxReads),
        met: maxReads <= MAX_READS,
      },
    ];
    const markdown = `## Progress freshness

${TASKS} tasks (${INPUT.width}×${INPUT.height}, ${INPUT.steps} steps: about ${(T_MS / 1000).toFixed(1)} s upstream at the emulator's own pace), each watched by one graphql-ws subscriber, through a gateway in polling mode with core's default poll policy. The gap is the time between two pushes a subscriber receives while the task is PROCESSING; between the upstream's figures, the gateway sends its estimate (\`progressEstimated: true\`) when 2.5 s pass without a change.

${table(
  ['measure', 'p50', 'p95', 'max', 'count'],
  [
    [
      'gap between pushes while PROCESSING, ms',
      percentile(sortedGaps, 50).toFixed(0),
      gapP95.toFixed(0),
      (sortedGaps.at(-1) ?? Number.NaN).toFixed(0),
      String(sortedGaps.length),
    ],
    [
      'upstream reads per task',
      String(percentile(sortedReads, 50)),
      String(percentile(sortedReads, 95)),
      String(maxReads),
      String(sortedReads.length),
    ],
  ],
)}

Pushes: ${pushCount} in all, ${estimated} of them estimates; progress went backwards ${backwards} times.

Load average (1 min) at the start: ${loadAtStart.toFixed(2)}. Run time: ${((performance.now() - started) / 1000).toFixed(0)} s.
`;
    return { title: 'Progress freshness', markdown, targets };
  } finally {
    await client.dispose();
    await gateway.close();
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printSection(await run());
}
