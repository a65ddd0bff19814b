import type { VideoTask } from '@wan-video/operations';
import { checkWritable, download } from './download.js';
import { GatewayError, InterruptedError, isCliError } from './errors.js';
import { EXIT_CODES, type ExitCode } from './exit-codes.js';
import type { GatewayClient } from './gateway-client.js';
import { type GenerateOptions, videoInputFrom } from './input.js';
import type { Output } from './output.js';
import { createProgressView, type ProgressMode } from './progress.js';
import { formatSeconds, isTerminal } from './task.js';

/** What every command gets: the client is made on demand, after the input is checked. */
export interface CommandContext {
  readonly output: Output;
  readonly json: boolean;
  readonly progress: ProgressMode;
  readonly signal: AbortSignal;
  readonly fetch?: typeof globalThis.fetch;
  /** Connects nothing by itself: requests go out when its methods are called. */
  client(): GatewayClient;
}

export interface GenerateCommandOptions extends GenerateOptions {
  readonly idempotencyKey?: string;
  readonly wait?: boolean;
  readonly out?: string;
}

/** `wan-video generate <prompt>`: validate, create, and with --wait/--out follow and save. */
export async function generateCommand(
  context: CommandContext,
  prompt: string,
  options: GenerateCommandOptions,
): Promise<ExitCode> {
  // Everything that can be checked here is, before anything is sent (or paid for).
  const input = videoInputFrom(prompt, options);
  if (options.out !== undefined) await checkWritable(options.out);
  const task = await context.client().generate(input, options.idempotencyKey);
  const wait = options.wait === true || options.out !== undefined;
  if (!wait) {
    if (context.json) context.output.json(task);
    else {
      context.output.data(task.id);
      context.output.note(
        `created task ${task.id} (${task.status}): follow it with wan-video watch ${task.id}`,
      );
    }
    return EXIT_CODES.ok;
  }
  if (!context.json) context.output.note(`created task ${task.id}`);
  return follow(context, task, options.out);
}

/** `wan-video watch <id>`: follow a task to its end; with --out, save its video. */
export async function watchCommand(
  context: CommandContext,
  id: string,
  options: { readonly out?: string },
): Promise<ExitCode> {
  if (options.out !== undefined) await checkWritable(options.out);
  // One read first: an unknown id, a refused key or an unreachable gateway fail at once.
  const task = await context.client().task(id);
  return follow(context, task, options.out);
}

/** `wan-video status <id>`: one read. Exits 1 when the task FAILED. */
export async function statusCommand(context: CommandContext, id: string): Promise<ExitCode> {
  const task = await context.client().task(id);
  if (context.json) context.output.json(task);
  else for (const line of describeTask(task)) context.output.data(line);
  return task.status === 'FAILED' ? EXIT_CODES.taskFailed : EXIT_CODES.ok;
}

/** `wan-video list`: the caller's tasks, newest first, a page at a time. */
export async function listCommand(
  context: CommandContext,
  options: { readonly first: number; readonly after?: string },
): Promise<ExitCode> {
  const page = await context.client().list(options.first, options.after);
  const tasks = page.edges.map((edge) => edge.node);
  if (context.json) {
    context.output.json({ tasks, pageInfo: page.pageInfo });
    return EXIT_CODES.ok;
  }
  for (const task of tasks) {
    context.output.data(
      [
        task.id,
        task.status.padEnd(10),
        `${String(task.progressPercent).padStart(3)}%`,
        task.createdAt,
        `${task.input.width}x${task.input.height}`,
        JSON.stringify(truncate(task.input.prompt, 60)),
      ].join('  '),
    );
  }
  if (tasks.length === 0) context.output.note('no tasks');
  if (page.pageInfo.hasNextPage && page.pageInfo.endCursor) {
    context.output.note(`more: wan-video list --after ${page.pageInfo.endCursor}`);
  }
  return EXIT_CODES.ok;
}

/** Shows `first` and every later snapshot until the task ends, then saves or prints its video. */
async function follow(
  context: CommandContext,
  first: VideoTask,
  out: string | undefined,
): Promise<ExitCode> {
  const view = createProgressView(context.progress, context.output);
  let last = first;
  try {
    view.update(first);
    if (!isTerminal(first)) {
      last = await context.client().follow(first.id, (task) => view.update(task));
    }
  } catch (error) {
    if (isCliError(error) && error instanceof InterruptedError) {
      throw new InterruptedError(
        `interrupted; task ${first.id} goes on in the gateway: wan-video watch ${first.id}`,
      );
    }
    throw error;
  } finally {
    view.stop();
  }
  if (last.status === 'FAILED') {
    context.output.note(`task ${last.id} FAILED: ${last.failureReason ?? 'no reason given'}`);
    return EXIT_CODES.taskFailed;
  }
  if (out === undefined) {
    const video = videoOf(last);
    if (!context.json) context.output.data(video.url);
    return EXIT_CODES.ok;
  }
  const saved = await save(context, last, out);
  context.output.note(`saved ${saved.path} (${formatBytes(saved.bytes)})`);
  if (!context.json) context.output.data(saved.path);
  return EXIT_CODES.ok;
}

/** Downloads a SUCCEEDED task's video; a refused link is read again once (links expire). */
async function save(context: CommandContext, task: VideoTask, out: string) {
  const options = { signal: context.signal, ...(context.fetch ? { fetch: context.fetch } : {}) };
  const url = videoOf(task).url;
  try {
    return await download(url, out, options);
  } catch (error) {
    if (context.signal.aborted) throw new InterruptedError(`interrupted; ${out} was not written`);
    const fresh = videoOf(await context.client().task(task.id)).url;
    if (fresh === url) throw error;
    return download(fresh, out, options);
  }
}

function videoOf(task: VideoTask): VideoTask['videos'][number] {
  const [video] = task.videos;
  if (!video) {
    throw new GatewayError('NO_VIDEO', `task ${task.id} SUCCEEDED without a video`);
  }
  return video;
}

/** `status`'s text: one `name  value` line per fact. */
function describeTask(task: VideoTask): string[] {
  const rows: [string, string][] = [
    ['id', task.id],
    ['status', task.status],
    [
      'progress',
      `${task.progressPercent}%${
        !isTerminal(task) && task.etaSeconds != null
          ? ` (eta ${formatSeconds(task.etaSeconds)})`
          : ''
      }`,
    ],
    ['prompt', JSON.stringify(task.input.prompt)],
    ['size', `${task.input.width}x${task.input.height}`],
    [
      'parameters',
      `seed ${task.input.seed}, steps ${task.input.steps}, guidance scale ${task.input.guidanceScale}, flow shift ${task.input.flowShift}, model ${task.input.modelName}`,
    ],
    ['created', task.createdAt],
  ];
  if (task.input.negativePrompt) rows.push(['negative', JSON.stringify(task.input.negativePrompt)]);
  for (const lora of task.input.loras) rows.push(['lora', `${lora.path}:${lora.scale}`]);
  if (task.completedAt) rows.push(['completed', task.completedAt]);
  if (task.failureReason) rows.push(['reason', task.failureReason]);
  for (const video of task.videos) {
    rows.push(['video', `${video.url} (${video.type}, until ${video.expiresAt})`]);
  }
  return rows.map(([name, value]) => `${name.padEnd(10)}  ${value}`);
}

const truncate = (text: string, max: number) =>
  [...text].length > max ? `${[...text].slice(0, max - 1).join('')}…` : text;

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
