/**
 * Grouped fan-out over graphql-ws: subscribers with the same caller, document and variables share
 * one source and one execution per change, and each gets every change as a frame of its own; a
 * late joiner gets the task as it is first; leaving, errors and slow sockets stay per member.
 * Real gateway, real graphql-ws clients and raw `ws` sockets over loopback.
 */
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CLOSE_TOO_SLOW } from '../src/websocket-backpressure.js';
import {
  ALPHA_KEY,
  acknowledged,
  BETA_KEY,
  bearer,
  GATEWAY_API_KEYS,
  rawSocket,
  sample,
  scrape,
} from './support/b-helpers.js';
import {
  GENERATE,
  pushedChanges,
  type Stack,
  smallInput,
  startStack,
  WATCH,
} from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  // Time scale 10: a 1280×720, 40-step task runs about 6 s, an 832×480, 40-step one about 2.7 s.
  stack = await startStack({ env: { GATEWAY_API_KEYS }, emulator: { timeScale: 10 } });
});
afterAll(() => stack?.stop());

const alpha = { authorization: `Bearer ${ALPHA_KEY}` };
const beta = { authorization: `Bearer ${BETA_KEY}` };

/** The gauges and counters the fan-out answers for. */
async function metrics() {
  const text = await scrape(stack.gateway.url);
  const of = (name: string) => sample(text, name) ?? 0;
  return {
    live: of('wan_live_subscriptions'),
    groups: of('wan_fanout_groups'),
    executions: of('wan_subscription_executions_total'),
    pushes: of('wan_push_latency_seconds_count'),
  };
}

/** A task of alpha's; `fail` makes it end FAILED (no video is rendered for it). */
async function generate(input: Record<string, unknown>, { fail = false } = {}): Promise<string> {
  if (fail) stack.emulator.setFaults({ failTasks: { reason: 'the test is over' } });
  try {
    const { body } = await stack.gql(GENERATE, { input }, bearer(ALPHA_KEY));
    expect(body.errors).toBeUndefined();
    return body.data.generateVideo.id;
  } finally {
    if (fail) stack.emulator.setFaults({});
  }
}

interface Followed {
  readonly events: any[];
  readonly errors: unknown[];
  readonly done: Promise<void>;
  unsubscribe(): void;
}

/** Subscribes with `query` and collects each `videoTask` until the subscription ends. */
function follow(client: Client, query: string, variables: Record<string, unknown>): Followed {
  const events: any[] = [];
  const errors: unknown[] = [];
  let unsubscribe = () => {};
  const done = new Promise<void>((resolve) => {
    unsubscribe = client.subscribe(
      { query, variables },
      {
        next: (message) => {
          if (message.errors) errors.push(...message.errors);
          if (message.data) events.push((message.data as any).videoTask);
        },
        error: (error) => {
          errors.push(...(Array.isArray(error) ? error : [error]));
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return { events, errors, done, unsubscribe: () => unsubscribe() };
}

const RANK: Record<string, number> = { QUEUED: 0, PROCESSING: 1, SUCCEEDED: 2, FAILED: 2 };

/** One run: no errors, statuses and progress never going back, exactly one final state, last. */
function expectOneRun(followed: Followed, final: 'SUCCEEDED' | 'FAILED'): void {
  expect(followed.errors).toEqual([]);
  const statuses = followed.events.map((event) => event.status as string);
  const ranks = statuses.map((status) => RANK[status] ?? -1);
  expect(
    ranks.every((rank, i) => rank >= 0 && rank >= (ranks[i - 1] ?? 0)),
    statuses.join(),
  ).toBe(true);
  const progress = followed.events.map((event) => event.progressPercent as number);
  expect(
    progress.every((value, i) => value >= (progress[i - 1] ?? 0)),
    progress.join(),
  ).toBe(true);
  expect(statuses.filter((status) => RANK[status] === 2)).toEqual([final]);
  expect(statuses.at(-1)).toBe(final);
}

/** Whether `part` is the end of `whole` (a member that joined later saw the rest of the same results). */
const isTail = (part: unknown[], whole: unknown[]) =>
  part.length > 0 &&
  JSON.stringify(part) === JSON.stringify(whole.slice(whole.length - part.length));

describe('one group per caller, document and variables', () => {
  it('12 subscribers on 3 sockets get every change in order and one final state, from one execution per change', async () => {
    const id = await generate(smallInput({ steps: 40, seed: 401 }));
    const before = await metrics();
    const clients = Array.from({ length: 3 }, () => stack.ws(alpha));
    const members = clients.flatMap((client) =>
      Array.from({ length: 4 }, () => follow(client, WATCH, { id })),
    );
    // All of them are one group, each counted as a subscriber.
    await vi.waitFor(
      async () => expect(await metrics()).toMatchObject({ live: before.live + 12 }),
      { timeout: 5000, interval: 20 },
    );
    expect((await metrics()).groups).toBe(before.groups + 1);
    await Promise.all(members.map((member) => member.done));

    for (const member of members) expectOneRun(member, 'SUCCEEDED');
    const longest = members.reduce((a, b) => (b.events.length > a.events.length ? b : a)).events;
    expect(longest.length).toBeGreaterThan(3);
    // One stream of results: each member's is all of it, or (if it joined after the first) its end.
    for (const member of members) expect(isTail(member.events, longest)).toBe(true);

    const after = await metrics();
    // One execution per result, however many members; a push latency for each member and change.
    expect(after.executions - before.executions).toBe(longest.length);
    const pushed = members.reduce((sum, member) => sum + pushedChanges(member.events), 0);
    expect(after.pushes - before.pushes).toBe(pushed);
    await vi.waitFor(async () =>
      expect(await metrics()).toMatchObject({ live: before.live, groups: before.groups }),
    );
  });

  it('a late joiner gets the task as it is now, from the group, then the same changes', async () => {
    const id = await generate(smallInput({ steps: 40, seed: 402 }), {
      fail: true,
    });
    const before = await metrics();
    const early = follow(stack.ws(alpha), WATCH, { id });
    // Past the first result and at least one pushed change.
    await vi.waitFor(() => expect(early.events.length).toBeGreaterThanOrEqual(2), {
      timeout: 10_000,
      interval: 10,
    });
    const seenBefore = early.events.length;
    const late = follow(stack.ws(alpha), WATCH, { id });
    await Promise.all([early.done, late.done]);

    expectOneRun(early, 'FAILED');
    expectOneRun(late, 'FAILED');
    // Its first result is one the early member had already (the group's latest), then the rest.
    expect(late.events.length).toBeLessThan(early.events.length);
    expect(early.events.slice(0, seenBefore)).toContainEqual(late.events[0]);
    expect(isTail(late.events, early.events)).toBe(true);
    // It cost no execution of its own, and its first result was not counted as a push.
    const after = await metrics();
    expect(after.executions - before.executions).toBe(early.events.length);
    expect(after.pushes - before.pushes).toBe(
      pushedChanges(early.events) + pushedChanges(late.events),
    );
  });

  it('one member unsubscribing, or its socket closing, does not end the others', async () => {
    const id = await generate(smallInput({ steps: 40, seed: 403 }), {
      fail: true,
    });
    const before = await metrics();
    const [a, b, c] = [stack.ws(alpha), stack.ws(alpha), stack.ws(alpha)] as const;
    const leaving = follow(a, WATCH, { id });
    const staying = [follow(a, WATCH, { id }), follow(b, WATCH, { id })];
    const closing = follow(c, WATCH, { id });
    const everyone = [leaving, ...staying, closing];
    await vi.waitFor(
      () => {
        for (const member of everyone) expect(member.events.length).toBeGreaterThan(0);
      },
      { timeout: 10_000, interval: 10 },
    );
    expect((await metrics()).live).toBe(before.live + 4);

    leaving.unsubscribe();
    await c.dispose();
    // Two left: the gauge counts them out, and the group goes on for the two others.
    await vi.waitFor(async () =>
      expect(await metrics()).toMatchObject({ live: before.live + 2, groups: before.groups + 1 }),
    );
    const atLeave = staying.map((member) => member.events.length);
    const leftWith = leaving.events.length;
    await Promise.all(staying.map((member) => member.done));

    for (const [i, member] of staying.entries()) {
      expectOneRun(member, 'FAILED');
      expect(member.events.length).toBeGreaterThan(atLeave[i] ?? 0);
    }
    // The one that unsubscribed got nothing more (graphql-ws would drop it anyway), and no end.
    expect(leaving.events.length).toBe(leftWith);
    expect(leaving.events.map((event) => event.status)).not.toContain('FAILED');
    // The last member gone, the group and its source are gone too.
    await vi.waitFor(async () =>
      expect(await metrics()).toMatchObject({ live: before.live, groups: before.groups }),
    );
  });

  it('another caller, another document or other variables are not grouped; a caller who cannot see the task gets its own NOT_FOUND', async () => {
    const id = await generate(smallInput({ steps: 40, seed: 404 }), { fail: true });
    const before = await metrics();
    const WITH_ETA = /* GraphQL */ `
      subscription Eta($id: ID!, $eta: Boolean!) {
        videoTask(id: $id) { id status progressPercent etaSeconds @include(if: $eta) }
      }
    `;
    const SLIM = /* GraphQL */ `
      subscription Slim($id: ID!) { videoTask(id: $id) { id status progressPercent } }
    `;
    const [one, two] = [stack.ws(alpha), stack.ws(alpha)];
    const watchers = [follow(one, WATCH, { id }), follow(two, WATCH, { id })];
    const withEta = follow(one, WITH_ETA, { id, eta: true });
    const withoutEta = follow(two, WITH_ETA, { eta: false, id });
    const slim = follow(two, SLIM, { id });
    const stranger = follow(stack.ws(beta), WATCH, { id });

    await stranger.done;
    expect(stranger.events).toEqual([]);
    expect(stranger.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'NOT_FOUND' }) }),
    ]);

    await Promise.all([...watchers, withEta, withoutEta, slim].map((member) => member.done));
    for (const member of [...watchers, withEta, withoutEta, slim]) expectOneRun(member, 'FAILED');
    // Each got its own selection: the variables of one group never shaped another's results.
    for (const event of withEta.events) expect(Object.keys(event)).toContain('etaSeconds');
    for (const event of withoutEta.events) expect(Object.keys(event)).not.toContain('etaSeconds');
    for (const event of slim.events)
      expect(Object.keys(event).sort()).toEqual(['id', 'progressPercent', 'status']);
    // Four groups executed (the two WATCH members are one), and the stranger's none.
    const longest = (a: Followed, b: Followed) => Math.max(a.events.length, b.events.length);
    const after = await metrics();
    expect(after.executions - before.executions).toBe(
      longest(watchers[0] as Followed, watchers[1] as Followed) +
        withEta.events.length +
        withoutEta.events.length +
        slim.events.length,
    );
    await vi.waitFor(async () =>
      expect(await metrics()).toMatchObject({ live: before.live, groups: before.groups }),
    );
  });
});

describe('a slow consumer in a group', () => {
  it('is closed with 4008 while the other members go on', async () => {
    // Each result about 7 KB (every string of the input at its bound), 99 members on one socket:
    // about 700 KB queued on that socket per change.
    const id = await generate(
      smallInput({
        width: 1280,
        height: 720,
        steps: 40,
        seed: 405,
        prompt: 'p'.repeat(2000),
        negativePrompt: 'n'.repeat(2000),
        loras: Array.from({ length: 3 }, (_, i) => ({ path: `${i}`.repeat(1024), scale: 1 })),
      }),
      { fail: true },
    );
    const FAT = /* GraphQL */ `
      subscription Fat($id: ID!) {
        videoTask(id: $id) { id status progressPercent etaSeconds input { prompt negativePrompt loras { path } } }
      }
    `;
    const before = await metrics();
    const fast = follow(stack.ws(alpha), FAT, { id });

    const slow = rawSocket(stack.gateway.wsUrl);
    await slow.opened;
    await acknowledged(slow.socket, alpha);
    // It stops reading: the kernel's buffers fill, then the gateway's.
    const tcp = (slow.socket as unknown as { _socket: import('node:net').Socket })._socket;
    tcp.pause();
    for (let i = 0; i < 99; i++) {
      slow.socket.send(
        JSON.stringify({
          id: `s${i}`,
          type: 'subscribe',
          payload: { query: FAT, variables: { id } },
        }),
      );
    }
    const tooSlow = () =>
      stack.logs.some((line) => line.includes('closed a WebSocket whose client read too slowly'));
    await vi.waitFor(() => expect(tooSlow()).toBe(true), { timeout: 20_000, interval: 20 });
    const fastAtClose = fast.events.length;
    // It reads again: its backlog, then the close frame that says why.
    tcp.resume();
    const end = await slow.ended;
    expect(end).toMatchObject({ kind: 'closed', code: CLOSE_TOO_SLOW });

    // The other member was not held up: it goes on to the end, past the close.
    await fast.done;
    expectOneRun(fast, 'FAILED');
    expect(fast.events.length).toBeGreaterThan(fastAtClose);
    await vi.waitFor(async () =>
      expect(await metrics()).toMatchObject({ live: before.live, groups: before.groups }),
    );
  });
});
