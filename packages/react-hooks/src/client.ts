import { safeParseVideoInput, type VideoInput } from '@wan-video/core';
import {
  GatewayInfoQuery,
  GenerateVideoMutation,
  type ResultOf,
  type VariablesOf,
  VideoTaskSubscription,
  VideoTasksQuery,
} from '@wan-video/operations';
import { ClientError, GraphQLClient } from 'graphql-request';
import { createClient, type Client as WsClient } from 'graphql-ws';
import {
  fromGraphQLError,
  isVideoGatewayError,
  networkError,
  VideoGatewayError,
} from './errors.js';
import {
  type GatewayInfo,
  isTerminal,
  textOf,
  type VideoTask,
  type VideoTaskPage,
} from './operations.js';

export interface VideoGatewayClientOptions {
  /** The gateway's GraphQL endpoint over HTTP: `http://localhost:4000/graphql`. */
  url: string;
  /**
   * The WebSocket endpoint.
   * @default `url` with http(s) replaced by ws(s)
   */
  wsUrl?: string;
  /** The API key to send, when the gateway requires one; may be async. Asked before each connection and request. */
  getAuthToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /**
   * The WebSocket class (needed in Node, where there is no global one before Node 22).
   * @default globalThis.WebSocket
   */
  webSocketImpl?: unknown;
  /**
   * The fetch for queries and mutations.
   * @default globalThis.fetch
   */
  fetch?: typeof globalThis.fetch;
  /**
   * How many times to reconnect a dropped WebSocket before giving up.
   * @default Infinity
   */
  retryAttempts?: number;
}

/** What a watcher of one task sees. */
export interface TaskState {
  readonly task: VideoTask | null;
  readonly error: VideoGatewayError | null;
  /** Whether a live subscription is open for it now. */
  readonly isLive: boolean;
}

export const EMPTY_TASK_STATE: TaskState = Object.freeze({
  task: null,
  error: null,
  isLive: false,
});

interface Entry {
  state: TaskState;
  readonly listeners: Set<() => void>;
  dispose: (() => void) | undefined;
  closeTimer: ReturnType<typeof setTimeout> | undefined;
}

/** Only these fields change while a task runs; the rest are the same in every snapshot. */
const sameTask = (a: VideoTask | null, b: VideoTask) =>
  a !== null &&
  a.status === b.status &&
  a.progressPercent === b.progressPercent &&
  a.etaSeconds === b.etaSeconds &&
  a.progressEstimated === b.progressEstimated &&
  a.failureReason === b.failureReason &&
  a.updatedAt === b.updatedAt &&
  a.videos.length === b.videos.length &&
  a.videos.every((video, i) => video.url === b.videos[i]?.url) &&
  a.input.seed === b.input.seed;

/**
 * The framework-free core of the hooks: one graphql-ws client (lazy: no socket until the first
 * subscription; reconnects with backoff and resubscribes), one HTTP client for queries and
 * mutations, and a ref-counted store of live tasks: however many readers watch a task, one
 * subscription serves them, and it closes when the last leaves or the task ends.
 */
/**
 * The client's WebSocket, as a person should hear of it: `idle` (no socket: nothing is watched),
 * `connecting` (the first socket opening), `connected`, or `reconnecting` (the socket dropped
 * while tasks were watched; they resume, each with a fresh snapshot, once it is back).
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting';

export class VideoGatewayClient {
  readonly #options: VideoGatewayClientOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #changeListeners = new Set<(task: VideoTask) => void>();
  readonly #connectionListeners = new Set<() => void>();
  #connection: ConnectionState = 'idle';
  #ws: WsClient | undefined;
  #http: GraphQLClient | undefined;

  constructor(options: VideoGatewayClientOptions) {
    this.#options = options;
  }

  /** Validates with core's schema, then runs `generateVideo`. A bad input throws before any request. */
  async generate(
    input: VideoInput,
    options: { idempotencyKey?: string; signal?: AbortSignal } = {},
  ): Promise<VideoTask> {
    const parsed = safeParseVideoInput(input);
    if (!parsed.success) {
      throw new VideoGatewayError('validation', parsed.error.message, {
        code: 'BAD_USER_INPUT',
        issues: parsed.error.issues.map((issue) => ({
          path: ['input', ...issue.path],
          message: issue.message,
        })),
      });
    }
    const data = await this.#request(
      GenerateVideoMutation,
      { input: input as AsSent<VideoInput>, idempotencyKey: options.idempotencyKey ?? null },
      options.signal,
    );
    this.prime(data.generateVideo);
    return data.generateVideo;
  }

  /** The caller's tasks, newest first. */
  async listTasks(first = 20, after?: string, signal?: AbortSignal): Promise<VideoTaskPage> {
    const data = await this.#request(VideoTasksQuery, { first, after: after ?? null }, signal);
    return {
      tasks: data.videoTasks.edges.map((edge) => edge.node),
      hasNextPage: data.videoTasks.pageInfo.hasNextPage,
      endCursor: data.videoTasks.pageInfo.endCursor,
    };
  }

  /** How the gateway runs (emulated upstream, auth required, limits). */
  async gatewayInfo(signal?: AbortSignal): Promise<GatewayInfo> {
    return (await this.#request(GatewayInfoQuery, {}, signal)).gateway;
  }

  /** The state of a task now (stable between changes, for `useSyncExternalStore`). */
  getTaskState(id: string): TaskState {
    return this.#entries.get(id)?.state ?? EMPTY_TASK_STATE;
  }

  /**
   * Watches a task: the first watcher opens its subscription, the last one leaving closes it
   * (a moment later, so React Strict Mode's unmount-and-remount keeps the same subscription).
   */
  watchTask(id: string, onChange: () => void): () => void {
    const entry = this.#entry(id);
    entry.listeners.add(onChange);
    if (entry.closeTimer !== undefined) {
      clearTimeout(entry.closeTimer);
      entry.closeTimer = undefined;
    }
    if (!entry.dispose && !isTerminal(entry.state.task)) this.#open(id, entry);
    return () => {
      entry.listeners.delete(onChange);
      if (entry.listeners.size > 0 || entry.closeTimer !== undefined) return;
      entry.closeTimer = setTimeout(() => {
        entry.closeTimer = undefined;
        if (entry.listeners.size === 0) this.#close(id, entry);
      }, 0);
    };
  }

  /** The WebSocket's state now (stable between changes, for `useSyncExternalStore`). */
  getConnectionState(): ConnectionState {
    return this.#connection;
  }

  /** Tells of each change of `getConnectionState()`. */
  onConnectionChange(listener: () => void): () => void {
    this.#connectionListeners.add(listener);
    return () => this.#connectionListeners.delete(listener);
  }

  #setConnection(next: ConnectionState) {
    if (next === this.#connection) return;
    this.#connection = next;
    for (const listener of [...this.#connectionListeners]) listener();
  }

  /** Whether a subscription is open (a dropped socket then means reconnecting, not idle). */
  #watching(): boolean {
    for (const entry of this.#entries.values()) if (entry.dispose) return true;
    return false;
  }

  /** Tells of every task change this client sees (for lists that refresh). */
  onTaskChange(listener: (task: VideoTask) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  /** Records a task snapshot (from a mutation or a query) as the latest known state. */
  prime(task: VideoTask): void {
    this.#set(this.#entry(task.id), { task });
  }

  /** Closes every subscription and the socket. */
  async dispose(): Promise<void> {
    for (const [id, entry] of this.#entries) this.#close(id, entry);
    await this.#ws?.dispose();
    this.#ws = undefined;
    this.#setConnection('idle');
  }

  #entry(id: string): Entry {
    let entry = this.#entries.get(id);
    if (!entry) {
      entry = {
        state: EMPTY_TASK_STATE,
        listeners: new Set(),
        dispose: undefined,
        closeTimer: undefined,
      };
      this.#entries.set(id, entry);
    }
    return entry;
  }

  #set(entry: Entry, patch: Partial<TaskState>) {
    const before = entry.state;
    const taskChanged = patch.task != null && !sameTask(before.task, patch.task);
    const task = taskChanged ? (patch.task as VideoTask) : before.task;
    const error = patch.error === undefined ? before.error : patch.error;
    const isLive = patch.isLive ?? before.isLive;
    if (!taskChanged && error === before.error && isLive === before.isLive) return;
    entry.state = { task, error, isLive };
    if (taskChanged && task) for (const listener of this.#changeListeners) listener(task);
    for (const listener of [...entry.listeners]) listener();
  }

  #open(id: string, entry: Entry) {
    this.#set(entry, { isLive: true, error: null });
    let ended = false;
    const variables: VariablesOf<typeof VideoTaskSubscription> = { id };
    const dispose = this.#wsClient().subscribe<ResultOf<typeof VideoTaskSubscription>>(
      { query: textOf(VideoTaskSubscription), variables },
      {
        next: (result) => {
          if (result.errors?.length) {
            const [first] = result.errors;
            this.#set(entry, { error: fromGraphQLError(first ?? {}), isLive: false });
            return;
          }
          const task = result.data?.videoTask;
          if (!task) return;
          // After a reconnect the first snapshot replaces what we had: no gap, no stale state.
          this.#set(entry, { task, error: null });
          if (isTerminal(task)) {
            ended = true;
            this.#close(id, entry);
          }
        },
        error: (error) => {
          entry.dispose = undefined;
          this.#set(entry, { error: toSocketError(error), isLive: false });
        },
        complete: () => {
          entry.dispose = undefined;
          if (!ended) this.#set(entry, { isLive: false });
        },
      },
    );
    entry.dispose = dispose;
  }

  #close(_id: string, entry: Entry) {
    const dispose = entry.dispose;
    entry.dispose = undefined;
    dispose?.();
    this.#set(entry, { isLive: false });
    if (this.#connection === 'reconnecting' && !this.#watching()) this.#setConnection('idle');
  }

  #wsClient(): WsClient {
    if (this.#ws) return this.#ws;
    const options = this.#options;
    this.#ws = createClient({
      url: options.wsUrl ?? options.url.replace(/^http/, 'ws'),
      lazy: true,
      lazyCloseTimeout: 1000,
      retryAttempts: options.retryAttempts ?? Number.POSITIVE_INFINITY,
      // Exponential backoff with full jitter, 0.5 s to 15 s.
      retryWait: async (retries) => {
        const ceiling = Math.min(15_000, 500 * 2 ** retries);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
      },
      // A refused key (4403) or a bad request (4400) will not get better by retrying.
      shouldRetry: (event) =>
        !(isCloseEvent(event) && (event.code === 4403 || event.code === 4400)),
      connectionParams: async () => {
        const token = await options.getAuthToken?.();
        return token ? { authorization: `Bearer ${token}` } : {};
      },
      ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
      on: {
        connecting: (isRetry) => this.#setConnection(isRetry ? 'reconnecting' : 'connecting'),
        connected: () => this.#setConnection('connected'),
        // The lazy close after the last subscription is idle; a drop under watchers is not.
        closed: () => this.#setConnection(this.#watching() ? 'reconnecting' : 'idle'),
      },
    });
    return this.#ws;
  }

  #httpClient(): GraphQLClient {
    this.#http ??= new GraphQLClient(this.#options.url, {
      ...(this.#options.fetch ? { fetch: this.#options.fetch } : {}),
    });
    return this.#http;
  }

  /** Runs a query or mutation over HTTP: variables and result typed by the document. */
  async #request<Document extends HttpDocument>(
    document: Document,
    variables: VariablesOf<Document>,
    signal?: AbortSignal,
  ): Promise<ResultOf<Document>> {
    const token = await this.#options.getAuthToken?.();
    try {
      return await this.#httpClient().request<ResultOf<Document>>({
        document: textOf(document),
        variables,
        requestHeaders: token ? { authorization: `Bearer ${token}` } : {},
        ...(signal ? { signal } : {}),
      });
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      if (isVideoGatewayError(error)) throw error;
      if (error instanceof ClientError) {
        const [first] = error.response.errors ?? [];
        if (first) throw fromGraphQLError(first, error);
        if (error.response.status === 401)
          throw new VideoGatewayError('auth', 'The gateway refused the API key.', { cause: error });
        throw new VideoGatewayError(
          'unknown',
          `The gateway answered HTTP ${error.response.status}.`,
          { cause: error },
        );
      }
      throw networkError(error);
    }
  }
}

/**
 * Core's input as JSON sends it: a member left `undefined` is not sent, so the schema's input
 * type (which has no `undefined` members) must accept the rest, field by field.
 */
type AsSent<T> = { [K in keyof T]: Exclude<T[K], undefined> };

/** The documents `#request` sends. */
type HttpDocument = typeof GenerateVideoMutation | typeof VideoTasksQuery | typeof GatewayInfoQuery;

function isCloseEvent(event: unknown): event is { code: number; reason: string } {
  return (
    typeof event === 'object' &&
    event !== null &&
    'code' in event &&
    typeof (event as { code: unknown }).code === 'number'
  );
}

function toSocketError(error: unknown): VideoGatewayError {
  if (Array.isArray(error) && error.length > 0) return fromGraphQLError(error[0] as object);
  if (isCloseEvent(error)) {
    if (error.code === 4403)
      return new VideoGatewayError('auth', 'The gateway refused the API key.', {
        code: 'FORBIDDEN',
        cause: error,
      });
    return networkError(
      new Error(`the connection closed (${error.code}${error.reason ? `: ${error.reason}` : ''})`),
    );
  }
  return networkError(error);
}
