import {
  LIMITS,
  MODEL_NAME,
  TASK_STATUSES,
  type TaskStatus,
  type VideoAsset,
} from '@wan-video/core';
import { builder } from '../builder.js';
import { gatewayError } from '../errors.js';
import type { TaskEvent, TaskEventStream } from '../events/types.js';
import { tapOf } from '../fanout.js';
import { videoLink } from '../http/videos.js';
import { encodeCursor } from '../service.js';
import type { TaskRecord } from '../store/types.js';
import {
  isDone,
  isEstimable,
  isShown,
  PROGRESS_TICK_MS,
  preciseNow,
  publicStatus,
  RESYNC_MS,
  type ShownTask,
  shownAt,
} from '../task.js';
import { DateTime, Seed } from './scalars.js';
import { WebhookInput, webhookOptionOf } from './webhook-input.js';

export const VideoTaskStatus = builder.enumType('VideoTaskStatus', {
  description: 'Where a video task is in its life. SUCCEEDED and FAILED are final.',
  values: Object.fromEntries(TASK_STATUSES.map((status) => [status, { value: status }])) as Record<
    TaskStatus,
    { value: TaskStatus }
  >,
});

/** One video of a task, as the schema shows it: by the task and its place in the list. */
interface TaskVideo {
  readonly taskId: string;
  readonly index: number;
  readonly asset: VideoAsset;
}

const Video = builder.objectRef<TaskVideo>('Video').implement({
  description:
    "A finished video, served from the gateway's own origin (Range requests work; add `?download` to save it as a file).",
  fields: (t) => ({
    url: t.string({
      description:
        'Works for as long as the gateway keeps the task: it reads the upstream again for a fresh source whenever needed. Anyone holding the link can play it.',
      resolve: (video, _args, ctx) => videoLink(ctx.origin, video.taskId, video.index),
    }),
    type: t.string({
      description: 'The container, such as `mp4`.',
      resolve: (video) => video.asset.type,
    }),
    expiresAt: t.field({
      type: DateTime,
      nullable: true,
      description:
        'When `url` stops working: null, as the gateway serves it for as long as it keeps the task (no retention limit is set).',
      resolve: () => null,
    }),
  }),
});

const Lora = builder.objectRef<{ path: string; scale: number }>('Lora').implement({
  fields: (t) => ({ path: t.exposeString('path'), scale: t.exposeFloat('scale') }),
});

const VideoTaskInput = builder.objectRef<TaskRecord>('VideoTaskInput').implement({
  description:
    'The request as accepted: defaults filled, and the seed the upstream used once known.',
  fields: (t) => ({
    prompt: t.string({ resolve: (r) => r.input.prompt }),
    negativePrompt: t.string({ nullable: true, resolve: (r) => r.input.negativePrompt ?? null }),
    width: t.int({ resolve: (r) => r.input.width }),
    height: t.int({ resolve: (r) => r.input.height }),
    seed: t.field({
      type: Seed,
      description:
        'The seed used: a -1 request shows the concrete seed once the upstream reports it.',
      resolve: (r) => r.seedUsed ?? r.input.seed,
    }),
    steps: t.int({ resolve: (r) => r.input.steps }),
    guidanceScale: t.float({ resolve: (r) => r.input.guidanceScale }),
    flowShift: t.float({ resolve: (r) => r.input.flowShift }),
    loras: t.field({ type: [Lora], resolve: (r) => r.input.loras ?? [] }),
    modelName: t.string({ resolve: (r) => r.input.modelName }),
  }),
});

/** A task as shown now, unless a subscription already decided how (with its floor). */
const shown = (record: TaskRecord): ShownTask =>
  isShown(record) ? record : shownAt(record, Date.now());

export const VideoTask = builder.objectRef<TaskRecord>('VideoTask').implement({
  description:
    'One text-to-video task, from QUEUED to SUCCEEDED (with videos) or FAILED (with a reason).',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.field({ type: VideoTaskStatus, resolve: publicStatus }),
    progressPercent: t.int({
      description:
        '0 to 100; never goes backwards for a subscriber. Between upstream reads it is estimated from the last figure and the ETA (see progressEstimated).',
      resolve: (r) => (r.status === 'SUCCEEDED' ? 100 : shown(r).progressPercent),
    }),
    etaSeconds: t.int({
      nullable: true,
      description:
        'Seconds the upstream expects it still needs; counted down between upstream reads.',
      resolve: (r) => shown(r).etaSeconds,
    }),
    progressEstimated: t.boolean({
      description:
        "Whether progressPercent and etaSeconds are the gateway's estimate since the upstream's last figure (which replaces it at the next read), not that figure.",
      resolve: (r) => shown(r).progressEstimated,
    }),
    failureReason: t.string({ nullable: true, resolve: (r) => r.failureReason }),
    input: t.field({ type: VideoTaskInput, resolve: (r) => r }),
    videos: t.field({
      type: [Video],
      description: "The videos of a SUCCEEDED task, on the gateway's origin.",
      resolve: (r) => r.videos.map((asset, index) => ({ taskId: r.id, index, asset })),
    }),
    createdAt: t.field({ type: DateTime, resolve: (r) => r.createdAt }),
    updatedAt: t.field({ type: DateTime, resolve: (r) => r.updatedAt }),
    completedAt: t.field({ type: DateTime, nullable: true, resolve: (r) => r.completedAt }),
  }),
});

const PageInfo = builder
  .objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo')
  .implement({
    fields: (t) => ({
      hasNextPage: t.exposeBoolean('hasNextPage'),
      endCursor: t.exposeString('endCursor', { nullable: true }),
    }),
  });

const VideoTaskEdge = builder.objectRef<TaskRecord>('VideoTaskEdge').implement({
  fields: (t) => ({
    cursor: t.string({ resolve: encodeCursor }),
    node: t.field({ type: VideoTask, resolve: (r) => r }),
  }),
});

const VideoTaskConnection = builder
  .objectRef<{ tasks: readonly TaskRecord[]; hasNextPage: boolean }>('VideoTaskConnection')
  .implement({
    description: "The caller's tasks, newest first.",
    fields: (t) => ({
      edges: t.field({ type: [VideoTaskEdge], resolve: (page) => [...page.tasks] }),
      pageInfo: t.field({
        type: PageInfo,
        resolve: (page) => {
          const last = page.tasks.at(-1);
          return { hasNextPage: page.hasNextPage, endCursor: last ? encodeCursor(last) : null };
        },
      }),
    }),
  });

const LoraInput = builder.inputType('LoraInput', {
  fields: (t) => ({
    path: t.string({ required: true }),
    scale: t.float({ required: true }),
  }),
});

const GenerateVideoInput = builder.inputType('GenerateVideoInput', {
  description: `What to generate. Rules: prompt ${LIMITS.prompt.minLength}-${LIMITS.prompt.maxLength} characters; width x height one of 832x480, 480x832, 1280x720, 720x1280; steps ${LIMITS.steps.min}-${LIMITS.steps.max} (default ${LIMITS.steps.default}); guidanceScale ${LIMITS.guidanceScale.min}-${LIMITS.guidanceScale.max} (default ${LIMITS.guidanceScale.default}); flowShift ${LIMITS.flowShift.min}-${LIMITS.flowShift.max} (default ${LIMITS.flowShift.default}); at most ${LIMITS.loras.maxItems} loras; modelName ${MODEL_NAME}.`,
  fields: (t) => ({
    prompt: t.string({ required: true }),
    negativePrompt: t.string(),
    width: t.int({ required: true }),
    height: t.int({ required: true }),
    seed: t.field({ type: Seed, description: 'Default -1: a random seed.' }),
    steps: t.int(),
    guidanceScale: t.float(),
    flowShift: t.float(),
    loras: t.field({ type: [LoraInput] }),
    modelName: t.string(),
  }),
});

const GatewayInfo = builder
  .objectRef<import('../builder.js').GatewayInfo>('GatewayInfo')
  .implement({
    description: 'How this gateway runs, for clients that adapt to it.',
    fields: (t) => ({
      emulated: t.exposeBoolean('emulated', {
        description:
          'True when the upstream is the embedded emulator: videos are procedural, not Wan output.',
      }),
      authRequired: t.exposeBoolean('authRequired'),
      webhooks: t.exposeBoolean('webhooks'),
      maxInFlightTasks: t.exposeInt('maxInFlightTasks'),
      mutationsPerMinute: t.exposeInt('mutationsPerMinute'),
    }),
  });

builder.queryType({
  fields: (t) => ({
    videoTask: t.field({
      type: VideoTask,
      nullable: true,
      description: "One of the caller's tasks; another client's task is NOT_FOUND.",
      args: { id: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) => ctx.service.visible(ctx.caller.id, String(args.id)),
    }),
    videoTasks: t.field({
      type: VideoTaskConnection,
      description: "The caller's tasks, newest first.",
      args: { first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
      resolve: (_root, args, ctx) => ctx.service.list(ctx.caller.id, args.first ?? 20, args.after),
    }),
    gateway: t.field({ type: GatewayInfo, resolve: (_root, _args, ctx) => ctx.info }),
  }),
});

builder.mutationType({
  fields: (t) => ({
    generateVideo: t.field({
      type: VideoTask,
      description:
        'Starts a video and returns at once with the task QUEUED. With an idempotencyKey, a retry returns the same task and pays nothing twice. With a webhook, its final ASYNC_TASK_RESULT event is POSTed there, signed (see webhookSecret).',
      args: {
        input: t.arg({ type: GenerateVideoInput, required: true }),
        idempotencyKey: t.arg.string(),
        webhook: t.arg({ type: WebhookInput }),
      },
      resolve: (_root, args, ctx) =>
        ctx.service.generate(ctx.caller.id, args.input, args.idempotencyKey, {
          webhook: webhookOptionOf(args.webhook),
          origin: ctx.origin,
        }),
    }),
  }),
});

builder.subscriptionType({
  fields: (t) => ({
    videoTask: t.field({
      type: VideoTask,
      description: 'The task now, then every change; completes after SUCCEEDED or FAILED.',
      args: { id: t.arg.id({ required: true }) },
      subscribe: (_root, args, ctx) => watch(ctx, String(args.id)),
      resolve: (event: TaskEvent, _args, ctx) => {
        ctx.metrics.subscriptionExecutions.inc();
        // Only live changes count: the first snapshot is a read, not a push. A WebSocket group
        // observes the latency once per member as it sends each its frame (see `fanout.ts`).
        if (event.observedAt >= 0) {
          const tap = tapOf(ctx);
          if (tap) tap.changed(event.observedAt);
          else ctx.metrics.pushLatency.observe(Math.max(0, preciseNow() - event.observedAt) / 1000);
        }
        return event.record;
      },
    }),
  }),
});

/**
 * The current state first, then each newer version, until the task ends. The event stream is
 * opened before the current state is read, so no change can fall between the two. Over
 * graphql-ws this runs once per group of like subscribers (`fanout.ts`); over SSE (yoga's and
 * `/graphql/stream`) once per subscriber, with its own execution per change (yoga writes those
 * responses; the gateway has no socket there to send a shared frame on).
 */
function watch(ctx: import('../builder.js').GatewayContext, id: string): AsyncGenerator<TaskEvent> {
  const ready = ctx.events.ready();
  if (ready !== true) {
    // Without the event bus this replica would push nothing: refuse, so the client retries
    // (on another replica, or here once the bus is back).
    throw gatewayError(
      'UPSTREAM_UNAVAILABLE',
      'Live updates are unavailable on this server right now; subscribe again in a moment.',
      { retryAfterSeconds: 2 },
    );
  }
  const stream = ctx.events.subscribe(id);
  const events = follow(ctx, id, stream);
  // A subscriber leaving (unsubscribe, socket closed, SSE aborted) calls `return`, which a
  // generator waiting for the next event runs only at its next yield: that may never come.
  // Closing the stream ends the wait now, so the `finally` below runs at once.
  const end = events.return.bind(events);
  events.return = (value) => {
    stream.close();
    return end(value);
  };
  return events;
}

async function* follow(
  ctx: import('../builder.js').GatewayContext,
  id: string,
  stream: TaskEventStream,
): AsyncGenerator<TaskEvent> {
  // A WebSocket group counts its members itself (one source serves them all); SSE is counted here.
  const counted = tapOf(ctx) === undefined;
  if (counted) ctx.metrics.liveSubscriptions.inc();
  try {
    let current = await ctx.service.visible(ctx.caller.id, id);
    /** The progress this subscriber was shown last: what it is shown never goes backwards. */
    let floor = 0;
    const show = (record: TaskRecord, observedAt: number): TaskEvent => {
      const view = shownAt(record, Date.now(), floor);
      floor = view.progressPercent;
      return { record: view, observedAt };
    };
    yield show(current, -1);
    if (isDone(current)) return;
    let next: Promise<IteratorResult<TaskEvent>> | undefined;
    /** When the last event came (or the store was last read): see RESYNC_MS. */
    let heardAt = Date.now();
    for (;;) {
      next ??= stream.next();
      // While the task is in progress, no more than PROGRESS_TICK_MS goes by without a push:
      // the estimate for now, when the upstream has nothing new.
      const estimable = isEstimable(current);
      const event = await within(next, estimable ? PROGRESS_TICK_MS : RESYNC_MS);
      if (event === TICK) {
        if (Date.now() - heardAt >= RESYNC_MS) {
          // Quiet for long: a change may have been lost on its way; the store has it.
          heardAt = Date.now();
          const stored = await ctx.service.visible(ctx.caller.id, id).catch(() => undefined);
          if (stored && stored.version > current.version) {
            current = stored;
            yield show(current, -1);
            if (isDone(current)) return;
            continue;
          }
        }
        if (estimable) yield show(current, -1);
        continue;
      }
      next = undefined;
      if (event.done) return;
      heardAt = Date.now();
      if (event.value.record.version <= current.version) continue;
      current = event.value.record;
      yield show(current, event.value.observedAt);
      if (isDone(current)) return;
    }
  } finally {
    stream.close();
    if (counted) ctx.metrics.liveSubscriptions.dec();
  }
}

const TICK = Symbol('tick');

/** `promise`'s value, or TICK if `ms` pass first (the promise is left to settle later). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TICK> {
  let timer: NodeJS.Timeout | undefined;
  const tick = new Promise<typeof TICK>((resolve) => {
    timer = setTimeout(() => resolve(TICK), ms);
  });
  return Promise.race([promise, tick]).finally(() => clearTimeout(timer));
}
