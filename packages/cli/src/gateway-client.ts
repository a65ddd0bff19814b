import type { VideoInput } from '@wan-video/core';
import {
  GenerateVideoMutation,
  type ResultOf,
  type VariablesOf,
  type VideoTask,
  VideoTaskQuery,
  VideoTaskSubscription,
  VideoTasksQuery,
} from '@wan-video/operations';
import { print } from 'graphql';
import { ClientError, GraphQLClient } from 'graphql-request';
import { createClient } from 'graphql-ws';
import type { Endpoint } from './endpoint.js';
import { GatewayError, InterruptedError, isCliError, UnreachableError } from './errors.js';
import { isTerminal } from './task.js';

export interface GatewayClientOptions {
  readonly endpoint: Endpoint;
  /** Sent as `Authorization: Bearer <key>`, and as `connectionParams.authorization` over WebSocket. */
  readonly apiKey?: string | undefined;
  /** How long one HTTP request (or a WebSocket's handshake) may take, in ms. */
  readonly timeoutMs: number;
  /** Aborts requests and ends a subscription (Ctrl-C). */
  readonly signal: AbortSignal;
  /** The WebSocket class: `ws` in Node. */
  readonly webSocketImpl: unknown;
  /** @default globalThis.fetch */
  readonly fetch?: typeof globalThis.fetch;
  /** Told when a live connection dropped and is being opened again. */
  readonly onReconnecting?: (reason: string) => void;
}

/** A page of the caller's tasks, newest first. */
export type VideoTaskPage = ResultOf<typeof VideoTasksQuery>['videoTasks'];

/**
 * WebSocket close codes after which a subscription reconnects and resubscribes (the gateway
 * restarting or a connection dropped on the way); any other close ends the command. The first
 * snapshot after a reconnect is the task as it is then, so nothing is missed.
 */
export const RETRYABLE_CLOSE_CODES: ReadonlySet<number> = new Set([
  1001, // going away
  1006, // closed without a close frame: a dropped connection, or none could be opened
  1011, // the server hit an unexpected condition
  1012, // service restart (the gateway's SIGTERM)
  1013, // try again later
  4418, // no connection acknowledgement in time
]);
const RECONNECT_ATTEMPTS = 8;

/** Network error codes (Node's and undici's), in words. */
const NETWORK_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'the host name could not be looked up',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_SOCKET: 'the connection was lost',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  ECONNABORTED: 'the connection was aborted',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed',
};

/** The first `code` in an error's cause chain (an AggregateError's first member included). */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const { code, cause, errors } = current as {
      code?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string' && code in NETWORK_REASONS) return code;
    current = cause ?? (Array.isArray(errors) ? errors[0] : undefined);
  }
  return undefined;
}

interface GraphQLErrorLike {
  readonly message?: unknown;
  readonly extensions?: Readonly<Record<string, unknown>> | undefined;
}

/** A GraphQL error from the gateway as a `GatewayError` (code and message as it sent them). */
function fromGraphQLError(error: GraphQLErrorLike, cause?: unknown): GatewayError {
  const extensions = error.extensions ?? {};
  const code = typeof extensions.code === 'string' ? extensions.code : 'GRAPHQL_ERROR';
  const message =
    typeof error.message === 'string' ? error.message : 'The gateway answered with an error.';
  const issues = Array.isArray(extensions.issues)
    ? (extensions.issues as { path?: unknown; message?: unknown }[]).flatMap((issue) =>
        typeof issue.message === 'string'
          ? [{ path: Array.isArray(issue.path) ? issue.path : [], message: issue.message }]
          : [],
      )
    : [];
  return new GatewayError(code, message, { cause, issues });
}

function isCloseEvent(value: unknown): value is { code: number; reason: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'number' &&
    'reason' in value
  );
}

/**
 * The gateway over HTTP (graphql-request: the mutation and queries) and WebSocket (graphql-ws:
 * the live `videoTask` subscription). Every failure comes out as a `CliError`: unreachable
 * (exit 3) or refused with the gateway's code (exit 4).
 */
export function createGatewayClient(options: GatewayClientOptions) {
  const { endpoint, apiKey, timeoutMs, signal } = options;
  const authorization = apiKey ? { authorization: `Bearer ${apiKey}` } : undefined;
  const http = new GraphQLClient(endpoint.httpUrl, {
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(authorization ? { headers: authorization } : {}),
  });

  const unreachable = (detail: string, cause?: unknown) =>
    new UnreachableError(`cannot reach the gateway at ${endpoint.httpUrl}: ${detail}`, { cause });

  /** Turns whatever a request threw into a `CliError`. */
  function toCliError(error: unknown): Error {
    if (isCliError(error)) return error;
    if (signal.aborted) return new InterruptedError('interrupted');
    if (error instanceof ClientError) {
      const [first] = error.response.errors ?? [];
      if (first) return fromGraphQLError(first, error);
      const status = error.response.status;
      if (status === 502 || status === 503 || status === 504) {
        return unreachable(`HTTP ${status} from the server in front of it`, error);
      }
      return new GatewayError(
        `HTTP_${status}`,
        `${endpoint.httpUrl} answered HTTP ${status} without a GraphQL answer: is --url a wan-video gateway?`,
        { cause: error },
      );
    }
    if (error instanceof Error && error.name === 'TimeoutError') {
      return unreachable(`no answer within ${timeoutMs / 1000} s`, error);
    }
    const code = networkCode(error);
    if (code) return unreachable(`${NETWORK_REASONS[code]} (${code})`, error);
    if (error instanceof TypeError) {
      const { cause } = error as { cause?: unknown };
      const detail = cause instanceof Error ? `${error.message}: ${cause.message}` : error.message;
      return unreachable(detail, error);
    }
    if (error instanceof SyntaxError) {
      return new GatewayError(
        'BAD_RESPONSE',
        `${endpoint.httpUrl} did not answer with GraphQL JSON: is --url a wan-video gateway?`,
        { cause: error },
      );
    }
    return error instanceof Error ? error : new Error(String(error));
  }

  async function request<Document extends HttpDocument>(
    document: Document,
    variables: VariablesOf<Document>,
  ): Promise<ResultOf<Document>> {
    try {
      return await http.request<ResultOf<Document>>({
        document: print(document),
        variables: variables as Record<string, unknown>,
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (error) {
      throw toCliError(error);
    }
  }

  /** Turns what the subscription failed with (GraphQL errors, a close event, an error) into a `CliError`. */
  function toSubscriptionError(error: unknown): Error {
    if (isCliError(error)) return error;
    if (Array.isArray(error) && error.length > 0)
      return fromGraphQLError(error[0] as object, error);
    if (isCloseEvent(error)) {
      if (error.code === 4403 || error.code === 4401) {
        return new GatewayError(
          'UNAUTHENTICATED',
          `the gateway refused the WebSocket connection (${error.code}${error.reason ? ` ${error.reason}` : ''}): send a valid API key with --key or WAN_VIDEO_API_KEY`,
          { cause: error },
        );
      }
      if (error.code === 4429 || error.code === 4008) {
        return new GatewayError(
          'RATE_LIMITED',
          `the gateway closed the WebSocket (${error.code}${error.reason ? ` ${error.reason}` : ''})`,
          { cause: error },
        );
      }
      return new UnreachableError(
        `lost the live connection to ${endpoint.wsUrl} (closed ${error.code}${error.reason ? `: ${error.reason}` : ''})`,
        { cause: error },
      );
    }
    return toCliError(error);
  }

  return {
    /** Starts a video (`generateVideo`); the task comes back at once, QUEUED. */
    async generate(input: VideoInput, idempotencyKey: string | undefined): Promise<VideoTask> {
      const data = await request(GenerateVideoMutation, {
        input: input as VariablesOf<typeof GenerateVideoMutation>['input'],
        idempotencyKey: idempotencyKey ?? null,
      });
      return data.generateVideo;
    },

    /** One of the caller's tasks, read once (fresh video URLs). */
    async task(id: string): Promise<VideoTask> {
      const data = await request(VideoTaskQuery, { id });
      if (!data.videoTask) throw new GatewayError('NOT_FOUND', `No task ${id}.`);
      return data.videoTask;
    },

    /** The caller's tasks, newest first. */
    async list(first: number, after: string | undefined): Promise<VideoTaskPage> {
      return (await request(VideoTasksQuery, { first, after: after ?? null })).videoTasks;
    },

    /**
     * Follows a task over the `videoTask` subscription until it ends, calling `onSnapshot` with
     * each snapshot; resolves with the last (SUCCEEDED or FAILED). A dropped connection is
     * opened again (`RETRYABLE_CLOSE_CODES`); Ctrl-C (the signal) rejects with InterruptedError.
     */
    async follow(id: string, onSnapshot: (task: VideoTask) => void): Promise<VideoTask> {
      let lastClose: string | undefined;
      const ws = createClient({
        url: endpoint.wsUrl,
        webSocketImpl: options.webSocketImpl,
        lazy: true,
        connectionParams: authorization ?? {},
        connectionAckWaitTimeout: timeoutMs,
        retryAttempts: RECONNECT_ATTEMPTS,
        shouldRetry: (event) => isCloseEvent(event) && RETRYABLE_CLOSE_CODES.has(event.code),
        // Exponential backoff with full jitter, 0.5 s to 8 s: about a minute in all.
        retryWait: async (retries) => {
          options.onReconnecting?.(lastClose ?? 'the connection dropped');
          const ceiling = Math.min(8000, 500 * 2 ** retries);
          await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
        },
        on: {
          closed: (event) => {
            if (isCloseEvent(event)) {
              lastClose = `closed ${event.code}${event.reason ? `: ${event.reason}` : ''}`;
            }
          },
        },
      });
      const snapshots = ws.iterate<ResultOf<typeof VideoTaskSubscription>>({
        query: print(VideoTaskSubscription),
        variables: { id } satisfies VariablesOf<typeof VideoTaskSubscription>,
      });
      const stop = () => void snapshots.return?.();
      signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const result of snapshots) {
          const [first] = result.errors ?? [];
          if (first) throw fromGraphQLError(first, result.errors);
          const task = result.data?.videoTask;
          if (!task) continue;
          onSnapshot(task);
          if (isTerminal(task)) return task;
        }
        if (signal.aborted) throw new InterruptedError('interrupted');
        throw new UnreachableError(
          `the gateway ended the subscription to task ${id} before the task ended`,
        );
      } catch (error) {
        throw toSubscriptionError(error);
      } finally {
        signal.removeEventListener('abort', stop);
        await ws.dispose();
      }
    },
  };
}

export type GatewayClient = ReturnType<typeof createGatewayClient>;

/** The documents sent over HTTP. */
type HttpDocument = typeof GenerateVideoMutation | typeof VideoTaskQuery | typeof VideoTasksQuery;
