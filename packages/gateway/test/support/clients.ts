/**
 * Real GraphQL clients for the client tests, set up as the README's "Clients that ride out a
 * rolling restart" says: a graphql-ws client with the recommended options, under Apollo Client 4
 * (HttpLink + GraphQLWsLink, split by operation type) and under urql (fetchExchange +
 * subscriptionExchange). Each graphql-ws client records its closes and connects, so a test can
 * tell that a client reconnected by itself.
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import {
  fetchExchange,
  type OperationResult,
  subscriptionExchange,
  Client as UrqlClient,
} from '@urql/core';
import { OperationTypeNode, parse } from 'graphql';
import { type Client, type ClientOptions, createClient, type Sink } from 'graphql-ws';
import WebSocket from 'ws';
import { type Collected, WATCH } from './stack.js';

/** A slim `generateVideo`: its selection does not overlap the subscription's `input { seed }`. */
export const GENERATE_SLIM = /* GraphQL */ `
  mutation Generate($input: GenerateVideoInput!, $key: String) {
    generateVideo(input: $input, idempotencyKey: $key) { id status progressPercent }
  }
`;

/**
 * The README's graphql-ws options, word for word (see "Clients that ride out a rolling
 * restart"), plus `webSocketImpl`: Node 20 has no global WebSocket.
 */
export function readmeOptions(url: string, key: string): ClientOptions {
  return {
    url,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: (event) => (event as { code?: number }).code !== 4403,
    retryWait: (retries) =>
      new Promise((resolve) =>
        setTimeout(resolve, Math.min(2 ** retries, 4) * 1000 + 300 + Math.random() * 2700),
      ),
  };
}

export interface TrackedWsClient {
  readonly client: Client;
  /** The close code of every socket that closed, in order. */
  readonly closes: number[];
  /** One entry per acknowledged connection: whether it was a reconnect. */
  readonly connects: boolean[];
  /** One entry per connection attempt: whether it was a retry. */
  readonly attempts: boolean[];
}

/** `createClient(options)` with recorders on its `closed`, `connected` and `connecting` events. */
export function trackedWsClient(options: ClientOptions): TrackedWsClient {
  const closes: number[] = [];
  const connects: boolean[] = [];
  const attempts: boolean[] = [];
  const client = createClient({
    ...options,
    on: {
      closed: (event) => closes.push((event as { code: number }).code),
      connected: (_socket, _payload, wasRetry) => connects.push(wasRetry),
      connecting: (isRetry) => attempts.push(isRetry),
    },
  });
  return { client, closes, connects, attempts };
}

/** Apollo Client 4: queries and mutations over HttpLink, subscriptions over GraphQLWsLink. */
export function apolloClient(httpUrl: string, ws: Client, key: string): ApolloClient {
  return new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.split(
      ({ operationType }) => operationType === OperationTypeNode.SUBSCRIPTION,
      new GraphQLWsLink(ws),
      new HttpLink({ uri: httpUrl, headers: { authorization: `Bearer ${key}` } }),
    ),
  });
}

/** urql: queries and mutations over fetchExchange, subscriptions over graphql-ws. */
export function urqlClient(httpUrl: string, ws: Client, key: string): UrqlClient {
  return new UrqlClient({
    url: httpUrl,
    fetchOptions: { headers: { authorization: `Bearer ${key}` } },
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({
            // (The cast only bridges `data?:` and `data:` under exactOptionalPropertyTypes.)
            unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink as Sink),
          }),
        }),
      }),
    ],
  });
}

const WATCH_DOCUMENT = parse(WATCH);

/** Follows `videoTask(id)` through Apollo until the observable completes or errors. */
export function followApollo(client: ApolloClient, id: string): Collected {
  const events: any[] = [];
  const errors: unknown[] = [];
  let finish = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const subscription = client
    .subscribe<{ videoTask: any }>({ query: WATCH_DOCUMENT, variables: { id } })
    .subscribe({
      next: (result) => {
        if (result.error) errors.push(result.error);
        if (result.data) events.push(result.data.videoTask);
      },
      error: (error) => {
        errors.push(error);
        finish();
      },
      complete: () => finish(),
    });
  return {
    events,
    errors,
    done,
    unsubscribe: () => {
      subscription.unsubscribe();
      finish();
    },
  };
}

/**
 * wonka's callback protocol, which urql's result sources speak: a sink gets Start (with a
 * talkback to pull the next value or close), Push (a value) and End (the number 0).
 */
type Talkback = (signal: 0 /* Pull */ | 1 /* Close */) => void;
type Signal<T> = 0 | { tag: 0; 0: Talkback } | { tag: 1; 0: T };
type WonkaSource<T> = (sink: (signal: Signal<T>) => void) => void;

export interface UrqlCollected extends Collected {
  /**
   * The `videoTask` of each result with `hasNext: false`. urql marks every subscription result
   * `hasNext: true` and, when the server completes the subscription, sends the last result once
   * more with `hasNext: false`: an end marker, kept out of `events`.
   */
  readonly ends: any[];
}

/**
 * Follows `videoTask(id)` through urql until its result stream ends (urql ends it when the
 * server completes the subscription, or after an error). `.subscribe()` would not say when
 * the stream ended, so this reads the source itself, pulling each value as wonka's does.
 */
export function followUrql(client: UrqlClient, id: string): UrqlCollected {
  const events: any[] = [];
  const ends: any[] = [];
  const errors: unknown[] = [];
  let finish = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let talkback: Talkback = () => {};
  let ended = false;
  const source = client.subscription(WATCH, { id }) as unknown as WonkaSource<OperationResult>;
  source((signal) => {
    if (signal === 0) {
      ended = true;
      finish();
    } else if (signal.tag === 0) {
      talkback = signal[0];
      talkback(0);
    } else if (!ended) {
      const result = signal[0];
      if (result.error) errors.push(result.error);
      if (result.data) (result.hasNext === false ? ends : events).push(result.data.videoTask);
      talkback(0);
    }
  });
  return {
    events,
    ends,
    errors,
    done,
    unsubscribe: () => {
      if (!ended) {
        ended = true;
        talkback(1);
      }
      finish();
    },
  };
}

const ORDER = ['QUEUED', 'PROCESSING', 'SUCCEEDED'];

/**
 * The statuses seen, checked to be one run: no errors, in order, progress never going down,
 * one SUCCEEDED and last; PROCESSING among them unless `processing` is false.
 */
export function oneRun(collected: Collected, { processing = true } = {}): string[] {
  const statuses = collected.events.map((event) => event.status as string);
  const ranks = statuses.map((status) => ORDER.indexOf(status));
  const problems: string[] = [];
  if (collected.errors.length > 0) problems.push(`errors: ${String(collected.errors)}`);
  if (ranks.includes(-1)) problems.push('a status other than QUEUED, PROCESSING, SUCCEEDED');
  if (ranks.some((rank, i) => i > 0 && rank < (ranks[i - 1] ?? 0))) problems.push('out of order');
  if (processing && !statuses.includes('PROCESSING')) problems.push('no PROCESSING');
  if (statuses.filter((status) => status === 'SUCCEEDED').length !== 1)
    problems.push('not exactly one SUCCEEDED');
  if (statuses.at(-1) !== 'SUCCEEDED') problems.push('SUCCEEDED is not last');
  const progress = collected.events.map((event) => event.progressPercent as number);
  if (progress.some((value, i) => i > 0 && value < (progress[i - 1] ?? 0)))
    problems.push('progress went down');
  if (problems.length > 0) {
    throw new Error(
      `${problems.join('; ')}: ${JSON.stringify(statuses)} ${JSON.stringify(progress)}`,
    );
  }
  return statuses;
}
