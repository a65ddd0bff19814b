import { type GraphQLSSEPluginOptions, useGraphQLSSE } from '@graphql-yoga/plugin-graphql-sse';
import { type ExecutionResult, GraphQLError, parse } from 'graphql';
import {
  type GraphQLParams,
  isAsyncIterable,
  mapAsyncIterator,
  type Plugin,
  type YogaServer,
} from 'graphql-yoga';
import type { Auth } from '../auth.js';
import { codeForStatus, errorBody } from '../errors.js';
import type { Logger } from '../logger.js';
import { forTheWire } from './error-codes.js';

/** Where a stream reserved in single-connection mode is named (graphql-sse's TOKEN_HEADER_KEY). */
const TOKEN_HEADER = 'x-graphql-event-stream-token';

export interface GraphQLSSEOptions {
  /**
   * Where the graphql-sse protocol is served, in both its modes. `/graphql` keeps yoga's own
   * SSE (distinct connections), which GraphiQL uses.
   * @default '/graphql/stream'
   */
  readonly endpoint?: string;
  /** Who may call: every request to the endpoint (reservation, stream, operation) needs a key. */
  readonly auth: Auth;
  readonly logger: Logger;
}

/**
 * The graphql-sse protocol (`graphql-sse`'s `createClient`), distinct connections and single
 * connection (`PUT` reserves a stream, `GET` opens it, `POST` adds operations), on yoga's
 * `useGraphQLSSE`, with two repairs:
 *
 * - Every request is authenticated (`Authorization: Bearer <key>`); a refusal is 401 with a
 *   GraphQL-shaped UNAUTHENTICATED body, so nobody without a key can reserve streams.
 * - Each operation runs through yoga's own pipeline (`getResultForParams`), as on `/graphql`.
 *   The plugin's pipeline answers a failed parse or context with a 500 carrying a stack trace,
 *   a validation or variable error with "Unable to detect operation AST", and drops errors of
 *   subscriptions. Here every failure is a coded result on the stream (`next`, then
 *   `complete`), in both modes.
 *
 * The protocol's own refusals (no stream, no operation id, bad JSON) get a code by their status.
 */
export function useGraphQLOverSSE(options: GraphQLSSEOptions): Plugin {
  const { auth, logger } = options;
  const sse = useGraphQLSSE({
    endpoint: options.endpoint ?? '/graphql/stream',
    authenticate: (request) => {
      try {
        auth.callerFor(request.headers.get('authorization'));
      } catch (error) {
        const message = error instanceof Error ? error.message : 'Send a valid API key.';
        return [
          JSON.stringify(errorBody('UNAUTHENTICATED', message)),
          {
            status: 401,
            statusText: 'Unauthorized',
            headers: { 'content-type': 'application/json; charset=utf-8' },
          },
        ];
      }
      // A reservation always gets a fresh token: graphql-sse's client sends its last token again
      // when `headers` is an object, and a client should never choose its own.
      if (request.method === 'PUT') return crypto.randomUUID();
      return (
        request.headers.get(TOKEN_HEADER) ??
        new URL(request.url, 'http://gateway.invalid').searchParams.get('token') ??
        crypto.randomUUID()
      );
    },
  } satisfies GraphQLSSEPluginOptions);
  return {
    onYogaInit({ yoga }) {
      sse.onYogaInit?.({ yoga: throughYogaPipeline(yoga, logger) });
    },
    onRequest(payload) {
      return sse.onRequest?.({
        ...payload,
        // Returned, so that the request waits for the rewritten answer.
        endResponse: (response) => withCode(response).then(payload.endResponse),
      });
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the server context of the yoga this serves
type AnyYoga = YogaServer<any, any>;

/** A document for the plugin to look at; the operation itself is parsed by yoga. */
const PLACEHOLDER = parse('{ __typename }');

/**
 * `yoga` as the plugin sees it: an "enveloped" whose parse, validate and context never fail and
 * whose execute and subscribe run the request's params through yoga's own pipeline (parse,
 * validate, context, execute, masking), so that every failure comes back as a result.
 */
function throughYogaPipeline(yoga: AnyYoga, logger: Logger): AnyYoga {
  const getEnveloped = (initial: { request: Request; params: GraphQLParams }) => {
    const run = () => runOperation(yoga, initial, logger);
    return {
      parse: () => PLACEHOLDER,
      validate: () => [],
      contextFactory: () => initial,
      execute: run,
      subscribe: run,
    };
  };
  return Object.create(yoga, { getEnveloped: { value: getEnveloped } }) as AnyYoga;
}

async function runOperation(
  yoga: AnyYoga,
  context: { request: Request; params: GraphQLParams },
  logger: Logger,
): Promise<ExecutionResult | AsyncIterable<ExecutionResult>> {
  let result: ExecutionResult | AsyncIterable<ExecutionResult> | undefined;
  try {
    result = await yoga.getResultForParams(
      { params: context.params, request: context.request },
      context,
    );
  } catch (error) {
    // yoga's checks of the params throw (its HTTP path answers them the same way).
    result = { errors: [asGraphQLError(error)] };
  }
  if (result === undefined) result = { errors: [asGraphQLError(undefined)] };
  if (isAsyncIterable(result)) return mapAsyncIterator(result, (item) => forTheWire(item, logger));
  // graphql-sse streams a result only when it has `data` (a request error has none).
  return { data: null, ...forTheWire(result, logger) };
}

const asGraphQLError = (error: unknown): GraphQLError =>
  error instanceof GraphQLError
    ? error
    : new GraphQLError('Unexpected error.', {
        ...(error instanceof Error ? { originalError: error } : {}),
      });

/** A refusal of the protocol itself (a JSON body without codes), with a code from its status. */
async function withCode(response: Response): Promise<Response> {
  if (response.status < 400) return response;
  if (!response.headers.get('content-type')?.includes('application/json')) return response;
  const body = (await response.json()) as {
    errors?: { message?: unknown; extensions?: Record<string, unknown> }[];
  };
  const code = codeForStatus(response.status);
  const errors = (body.errors ?? [{ message: response.statusText }]).map((error) => ({
    ...error,
    extensions: { code, ...error.extensions },
  }));
  return new Response(JSON.stringify({ errors }), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
