/**
 * Real GraphQL clients, set up as the README recommends ("Clients that ride out a rolling
 * restart"): Apollo Client 4 (HttpLink + GraphQLWsLink) and urql (fetchExchange +
 * subscriptionExchange) each generate a video and follow it to SUCCEEDED, and both ride out a
 * SIGTERM and restart of a real gateway process by themselves, each seeing one final state.
 * graphql-ws's default settings, next to them, give up at the first refused reconnect.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CombinedGraphQLErrors } from '@apollo/client';
import { type Emulator, startEmulator } from '@wan-video/emulator';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import {
  freePort,
  type GatewayProcess,
  startGatewayProcess,
  stopAllGatewayProcesses,
} from './support/a-process.js';
import {
  apolloClient,
  followApollo,
  followUrql,
  GENERATE_SLIM,
  oneRun,
  readmeOptions,
  type TrackedWsClient,
  trackedWsClient,
  type UrqlCollected,
  urqlClient,
} from './support/clients.js';
import {
  type Collected,
  creates,
  NOVITA_KEY,
  type Stack,
  smallInput,
  startStack,
  watch,
} from './support/stack.js';

const KEY = 'client-key-for-the-client-tests';
/** One input everywhere: the emulators share a video directory, so it is rendered once. */
const INPUT = smallInput({ steps: 30, seed: 4242 });
/** 832x480 at 30 steps: 20 s at time scale 1, 10 s here; the child gateway polls by the eta. */
const RESTART_TIME_SCALE = 2;
const GENERATE_DOCUMENT = parse(GENERATE_SLIM);

let dir: string;
let stack: Stack;
let emulator: Emulator;
let port: number;
let env: Record<string, string>;
let gateway: GatewayProcess;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wan-gateway-clients-'));
  const storageDir = join(dir, 'videos');
  [emulator, port] = await Promise.all([
    startEmulator({ timeScale: RESTART_TIME_SCALE, storageDir }),
    freePort(),
  ]);
  env = {
    NOVITA_API_KEY: NOVITA_KEY,
    NOVITA_BASE_URL: emulator.url,
    DATABASE_PATH: join(dir, 'db.sqlite'),
    GATEWAY_API_KEYS: KEY,
    LOG_LEVEL: 'info',
  };
  // The child process (the slow start) and the in-process stack start together.
  [gateway, stack] = await Promise.all([
    startGatewayProcess(port, env),
    startStack({ env: { GATEWAY_API_KEYS: KEY }, emulator: { storageDir } }),
  ]);
});

afterAll(async () => {
  // Each runs: disposing a graphql-ws client mid-reconnect rejects with that connect's error.
  for (const cleanup of cleanups.splice(0).reverse()) {
    await Promise.resolve()
      .then(cleanup)
      .catch(() => {});
  }
  await stopAllGatewayProcesses();
  await stack?.stop();
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A graphql-ws client with the README's options, disposed after the file. */
function readmeWs(url: string) {
  const tracked = trackedWsClient(readmeOptions(url, KEY));
  cleanups.push(() => tracked.client.dispose());
  return tracked;
}

async function fetchVideo(task: { videos: { url: string }[] }) {
  expect(task.videos).toHaveLength(1);
  const video = await fetch(task.videos[0]?.url as string);
  expect(video.status).toBe(200);
  expect(video.headers.get('content-type')).toBe('video/mp4');
  expect((await video.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
}

describe('Apollo Client 4 and urql on an in-process gateway', () => {
  it('Apollo: generateVideo over HttpLink, videoTask over GraphQLWsLink to SUCCEEDED, a fetchable MP4; a bad input is BAD_USER_INPUT', async () => {
    const ws = readmeWs(stack.gateway.wsUrl);
    const apollo = apolloClient(stack.gateway.graphqlUrl, ws.client, KEY);
    cleanups.push(() => apollo.stop());

    const { data } = await apollo.mutate<{ generateVideo: { id: string; status: string } }>({
      mutation: GENERATE_DOCUMENT,
      variables: { input: INPUT },
    });
    expect(data?.generateVideo.status).toBe('QUEUED');
    const sub = followApollo(apollo, data?.generateVideo.id as string);
    await sub.done;
    expect(sub.errors).toEqual([]);
    oneRun(sub);
    await fetchVideo(sub.events.at(-1));

    const invalid = await apollo
      .mutate({ mutation: GENERATE_DOCUMENT, variables: { input: { ...INPUT, height: 832 } } })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(CombinedGraphQLErrors.is(invalid)).toBe(true);
    const [first] = (invalid as CombinedGraphQLErrors).errors;
    expect(first?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(first?.extensions?.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: expect.any(Array) })]),
    );
  });

  it('urql: generateVideo over fetchExchange, videoTask over subscriptionExchange to SUCCEEDED, a fetchable MP4', async () => {
    const ws = readmeWs(stack.gateway.wsUrl);
    const urql = urqlClient(stack.gateway.graphqlUrl, ws.client, KEY);

    const result = await urql.mutation(GENERATE_SLIM, { input: INPUT }).toPromise();
    expect(result.error).toBeUndefined();
    expect(result.data.generateVideo.status).toBe('QUEUED');
    const sub = followUrql(urql, result.data.generateVideo.id);
    await sub.done;
    expect(sub.errors).toEqual([]);
    oneRun(sub);
    // urql's end marker: the last result again, with `hasNext: false`.
    expect(sub.ends).toEqual([sub.events.at(-1)]);
    await fetchVideo(sub.events.at(-1));

    const invalid = await urql
      .mutation(GENERATE_SLIM, { input: { ...INPUT, width: 832, height: 832 } })
      .toPromise();
    expect(invalid.error?.graphQLErrors[0]?.extensions.code).toBe('BAD_USER_INPUT');
  });

  it('a refused key (4403) ends the subscription with the README settings; `shouldRetry: () => true` would retry it forever', async () => {
    const wrong = 'not-the-key-at-all';
    const ws = trackedWsClient(readmeOptions(stack.gateway.wsUrl, wrong));
    cleanups.push(() => ws.client.dispose());
    const apollo = apolloClient(stack.gateway.graphqlUrl, ws.client, wrong);
    cleanups.push(() => apollo.stop());
    const sub = followApollo(apollo, 'any-id');
    await sub.done;
    expect(ws.closes).toEqual([4403]);
    expect(String(sub.errors[0])).toMatch(/4403/);

    // What the former advice did: every 4403 retried, the subscription never told.
    const forever = trackedWsClient({
      ...readmeOptions(stack.gateway.wsUrl, wrong),
      shouldRetry: () => true,
      retryWait: () => Promise.resolve(),
    });
    cleanups.push(() => forever.client.dispose());
    const hanging = watch(forever.client, 'any-id');
    await vi.waitFor(() => expect(forever.closes.length).toBeGreaterThanOrEqual(3), {
      timeout: 10_000,
      interval: 10,
    });
    expect(new Set(forever.closes)).toEqual(new Set([4403]));
    expect(hanging.errors).toEqual([]);
    hanging.unsubscribe();
  });
});

describe('a gateway process restarted under open subscriptions', () => {
  // One scenario in two steps, each within the per-test ceiling: the restart alone (a tsx
  // process start) takes up to the 20 s startGatewayProcess allows on a busy machine.
  let id: string;
  let apolloWs: TrackedWsClient;
  let urqlWs: TrackedWsClient;
  let viaApollo: Collected;
  let viaUrql: UrqlCollected;
  let seenBefore: number[];

  it('SIGTERM mid-task: the gateway exits 0; a default graphql-ws client gives up at its first refused reconnect, the README clients wait', async () => {
    apolloWs = readmeWs(gateway.wsUrl);
    urqlWs = readmeWs(gateway.wsUrl);
    const apollo = apolloClient(gateway.graphqlUrl, apolloWs.client, KEY);
    cleanups.push(() => apollo.stop());
    const urql = urqlClient(gateway.graphqlUrl, urqlWs.client, KEY);
    // graphql-ws with its defaults (retryAttempts 5, shouldRetry: close events only).
    const defaults = trackedWsClient({
      url: gateway.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${KEY}` },
    });
    cleanups.push(() => defaults.client.dispose());

    const { data } = await apollo.mutate<{ generateVideo: { id: string } }>({
      mutation: GENERATE_DOCUMENT,
      variables: { input: INPUT },
    });
    id = data?.generateVideo.id as string;
    viaApollo = followApollo(apollo, id);
    viaUrql = followUrql(urql, id);
    const viaDefaults = watch(defaults.client, id);
    const subs = [viaApollo, viaUrql, viaDefaults];
    // Each has its snapshot: the task is under way, and 10 s from done.
    await vi.waitFor(
      () => {
        for (const sub of subs) expect(sub.events.length).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 20 },
    );

    expect(await gateway.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    seenBefore = [viaApollo.events.length, viaUrql.events.length];
    for (const sub of subs) expect(sub.events.map((e) => e.status)).not.toContain('SUCCEEDED');
    await vi.waitFor(() => {
      for (const ws of [apolloWs, urqlWs, defaults]) expect(ws.closes[0]).toBe(1012);
    });

    // The default client: the 1012 is retried once, after 1.3 to 4 s; the refused connection
    // then ends the subscription with an error (an error event, not a close event).
    await viaDefaults.done;
    expect(defaults.attempts).toEqual([false, true]);
    expect(viaDefaults.errors).toHaveLength(1);
    const refusal = viaDefaults.errors[0] as { code?: unknown; message?: unknown };
    expect(refusal.code).toBeUndefined();
    expect(String(refusal.message)).toMatch(/ECONNREFUSED/);
    expect(viaDefaults.events.map((e) => e.status)).not.toContain('SUCCEEDED');

    // Down longer than that: the README clients are still retrying, their subscriptions open.
    expect(viaApollo.errors).toEqual([]);
    expect(viaUrql.errors).toEqual([]);
    expect(apolloWs.connects).toEqual([false]);
    expect(urqlWs.connects).toEqual([false]);
  });

  it('started again on the same port and database: Apollo and urql reconnect by themselves, and each sees exactly one SUCCEEDED', async () => {
    expect(viaApollo, 'the SIGTERM step ran').toBeDefined();
    gateway = await startGatewayProcess(port, env);
    const listening = gateway.logs().findLast((r) => r.msg === 'wan-video gateway listening');
    expect(listening).toMatchObject({ resumed: 1, interrupted: 0 });

    // No resubscribing here: the clients reconnect on their own.
    await Promise.all([viaApollo.done, viaUrql.done]);
    for (const [sub, ws, before] of [
      [viaApollo, apolloWs, seenBefore[0]],
      [viaUrql, urqlWs, seenBefore[1]],
    ] as const) {
      // PROCESSING may have come and gone upstream while the gateway was down.
      oneRun(sub, { processing: false });
      expect(ws.connects).toEqual([false, true]);
      expect(sub.events.slice(before).at(-1)).toMatchObject({
        id,
        status: 'SUCCEEDED',
        progressPercent: 100,
      });
    }
    expect(viaUrql.ends).toEqual([viaUrql.events.at(-1)]);
    expect(creates([...emulator.requests()])).toHaveLength(1);
  });
});
