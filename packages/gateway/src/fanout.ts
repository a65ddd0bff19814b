/**
 * Grouped fan-out of subscriptions over graphql-ws: subscribers with the same caller, document
 * (query text and operation name) and variables share one group, and a group has one source
 * stream and runs one GraphQL execution per change, however many members it has. Each result is
 * serialised once; every member gets it as a frame built around that one string,
 * `{"id":<its id>,"type":"next","payload":<the result>}`, written straight on its socket
 * (`socket.send`, so a send-buffer guard in front of the socket still closes a member that
 * reads too slowly, and only that member's socket).
 *
 * Before (issue #12): one source stream, one async generator and one execution per subscriber,
 * and graphql-ws serialising every result once per subscriber; at 10,000 watchers of one task
 * the push p99 was 7 to 12 times that of a bare `ws` broadcast of the same frames.
 *
 * How a member lives:
 * - `join` returns the member's own async iterator, which graphql-ws iterates as usual. It never
 *   yields: its first `next()` (graphql-ws has registered the operation) makes the member
 *   active, and it is sent the group's latest result at once, if the group has one (a member
 *   that joins late gets the task as it is now, then the changes). From then on it gets every
 *   result the group sends.
 * - When the source ends (the task ended), each member's `next()` says done, after the last
 *   frame was written, so graphql-ws sends that member its `complete`. When the source fails
 *   (the task is not the caller's, say), each member's `next()` rejects with the error, so
 *   graphql-ws sends each its own `error` message, coded as before.
 * - Unsubscribing (`complete` from the client) or the socket closing makes graphql-ws call the
 *   member's `return()`: that member leaves; the others go on. The last member leaving closes
 *   the source. A group that ended or closed is forgotten at once: a later subscriber starts a
 *   new one, with a fresh read.
 * - A source that answers with a single result instead of a stream (a refusal before anything
 *   was watched) is handed to every member that waited for it, each as its own result, and the
 *   group is forgotten.
 *
 * A group waits for no socket: each frame is queued on every member's socket as the result
 * comes (graphql-ws awaited each send, and a slow subscriber's events piled up in its own
 * stream instead). A member that does not read fills its socket's buffer until the guard closes
 * that socket with 4008; the group goes on for the others.
 *
 * Metrics stay per subscriber: `liveSubscriptions` counts members, and `pushLatency` is
 * observed once per member per pushed change, when its frame is handed to its socket (so the
 * last member of a large group reports the wait for the others). The subscription's resolver
 * reports each change's `observedAt` through the group's `FanoutTap` (see `tapOf`) instead of
 * observing it itself.
 *
 * The group runs on the context of the member that opened it (yoga's context, which also holds
 * that member's request and socket objects), for as long as any member stays. The caller is part
 * of the key and the resolvers read nothing else of it, so the results are those every member
 * would have had.
 *
 * SSE (yoga's on `/graphql`, and `/graphql/stream`) is not grouped: each SSE subscriber keeps its
 * own source and execution per change. Its events are written by yoga's response pipeline, not
 * on a socket the gateway holds, so there is nowhere to hand a pre-built frame to.
 */

import type { ExecutionResult } from 'graphql-ws';
import type { Metrics } from './metrics.js';
import { preciseNow } from './task.js';

/** Where a member's frames go: a `ws` WebSocket (behind the send-buffer guard) fits. */
export interface FanoutSocket {
  send(data: string): void;
}

/**
 * The group's ear in the subscription's resolver: told the `observedAt` of each change it
 * executes, so the group can observe the push latency of every member it sends it to.
 */
export interface FanoutTap {
  changed(observedAt: number): void;
}

/** What a group's source is: a stream of results, or one result instead (a refusal). */
export type FanoutSource = AsyncIterable<ExecutionResult> | ExecutionResult;

/** What a socket writes through: a `net.Socket` fits. */
export interface FanoutTransport {
  cork(): void;
  uncork(): void;
}

export interface FanoutOptions {
  readonly metrics: Pick<Metrics, 'liveSubscriptions' | 'pushLatency' | 'fanoutGroups'>;
  /**
   * The transport under a member's socket, corked while a result is sent to the group, so that
   * the frames of every member on one connection leave in one write (one `writev`), not one
   * each. Without it, each frame is written as it is sent.
   */
  readonly transportOf?: (socket: FanoutSocket) => FanoutTransport | undefined;
  /**
   * The clock of the push latency, comparable with a change's `observedAt`.
   * @default preciseNow
   */
  readonly now?: () => number;
}

export interface Fanout {
  /**
   * Adds subscription `id` of `socket` to the group of `key`, opening the group with
   * `start(tap)` when there is none: `start` subscribes to the source, with `tap` where the
   * subscription's resolver finds it (`withTap` on the context). Resolves with the member's
   * iterator, or with the source's one result when it gave no stream.
   */
  join(
    key: string,
    socket: FanoutSocket,
    id: string,
    start: (tap: FanoutTap) => FanoutSource | Promise<FanoutSource>,
  ): Promise<AsyncGenerator<ExecutionResult, void> | ExecutionResult>;
}

const TAP = Symbol('wan-video.fanout.tap');

/** Puts `tap` on a context object (a symbol key: spread copies of the context keep it). */
export function withTap<T extends object>(context: T, tap: FanoutTap): T {
  (context as { [TAP]?: FanoutTap })[TAP] = tap;
  return context;
}

/** The group tap of a subscription's context: `undefined` when it is not grouped (SSE). */
export function tapOf(context: object): FanoutTap | undefined {
  return (context as { [TAP]?: FanoutTap })[TAP];
}

/**
 * The key of a group: caller, query text, operation name and variables (with their object keys
 * sorted, so that `{a, b}` and `{b, a}` share).
 */
export function groupKey(
  callerId: string,
  query: string,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | null | undefined,
): string {
  return JSON.stringify([callerId, operationName ?? null, query, sorted(variables ?? null)]);
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sorted((value as Record<string, unknown>)[key])]),
  );
}

/** How a group's source ended: done, or failed with `error`. */
type Outcome = { readonly failed: false } | { readonly failed: true; readonly error: unknown };

interface Group {
  readonly key: string;
  /** The source, once `start` answered: a stream, or one result instead. */
  readonly started: Promise<FanoutSource>;
  /**
   * `open` while it takes members; `closed` once its last member left (the source is being
   * closed); `ended` once its source ended by itself. Only an `open` group is in the map.
   */
  state: 'open' | 'closed' | 'ended';
  readonly members: Set<Member>;
  /** The last result, serialised: what a member is sent first. */
  latest: string | undefined;
  /** The `observedAt` the resolver reported for the result being executed; -1 for none. */
  observedAt: number;
  /** How the source ended, once it did. */
  outcome: Outcome | undefined;
  /** The source's iterator, once it is a stream. */
  iterator: AsyncIterator<ExecutionResult> | undefined;
}

/** One subscriber of a group, and the iterator graphql-ws runs its operation on. */
interface Member extends AsyncGenerator<ExecutionResult, void> {
  /** graphql-ws has started iterating: the member gets frames. */
  readonly active: boolean;
  /** What its socket writes through, to cork while a result goes out (`transportOf`). */
  readonly transport: FanoutTransport | undefined;
  send(payload: string): void;
  /** The group ended: a waiting `next` says so now, else the next `next` will. */
  settle(): void;
}

/** The payload graphql-ws would send for `result`: its errors as their JSON, listed last. */
function serialise(result: ExecutionResult): string {
  const { errors, ...rest } = result;
  return JSON.stringify(errors ? { ...rest, errors: errors.map((error) => error.toJSON()) } : rest);
}

const DONE: IteratorReturnResult<void> = { done: true, value: undefined };

/** Creates the groups of one WebSocket server. */
export function createFanout(options: FanoutOptions): Fanout {
  const { metrics } = options;
  const now = options.now ?? preciseNow;
  const groups = new Map<string, Group>();

  /** Takes the group out of the map: a later subscriber opens a new one. */
  const leaveMap = (group: Group, state: 'closed' | 'ended') => {
    if (group.state !== 'open') return;
    group.state = state;
    if (groups.get(group.key) === group) groups.delete(group.key);
    metrics.fanoutGroups.dec();
  };

  /** Its last member left: the source is closed (the pump's pending `next` then says done). */
  const close = (group: Group) => {
    leaveMap(group, 'closed');
    const iterator = group.iterator;
    group.iterator = undefined;
    void iterator?.return?.()?.catch(() => {});
  };

  /** The source ended by itself (the task ended, or it failed): every member is told. */
  const end = (group: Group, outcome: Outcome) => {
    if (group.state === 'closed') return;
    group.outcome = outcome;
    leaveMap(group, 'ended');
    const members = [...group.members];
    group.members.clear();
    for (const member of members) member.settle();
  };

  const send = (group: Group, result: ExecutionResult) => {
    const payload = serialise(result);
    group.latest = payload;
    const observedAt = group.observedAt;
    group.observedAt = -1;
    // Each connection's frames are held until all are queued, then leave in one write.
    const corked = new Set<FanoutTransport>();
    try {
      for (const member of group.members) {
        if (!member.active) continue;
        const transport = member.transport;
        if (transport !== undefined && !corked.has(transport)) {
          transport.cork();
          corked.add(transport);
        }
        member.send(payload);
        // Per member, as its frame is handed to its socket: each subscriber's latency, as before.
        if (observedAt >= 0) metrics.pushLatency.observe(Math.max(0, now() - observedAt) / 1000);
      }
    } finally {
      for (const transport of corked) transport.uncork();
    }
  };

  const pump = async (group: Group, source: AsyncIterable<ExecutionResult>) => {
    const iterator = source[Symbol.asyncIterator]();
    group.iterator = iterator;
    let outcome: Outcome = { failed: false };
    try {
      for (;;) {
        const step = await iterator.next();
        if (step.done) break;
        send(group, step.value);
      }
    } catch (error) {
      outcome = { failed: true, error };
    }
    end(group, outcome);
  };

  const member = (group: Group, socket: FanoutSocket, id: string): Member => {
    const prefix = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
    let active = false;
    /** Left, or told its end: nothing more for it. */
    let finished = false;
    let pending:
      | {
          resolve: (step: IteratorResult<ExecutionResult, void>) => void;
          reject: (error: unknown) => void;
        }
      | undefined;
    metrics.liveSubscriptions.inc();
    const transport = options.transportOf?.(socket);
    const finish = () => {
      if (finished) return false;
      finished = true;
      metrics.liveSubscriptions.dec();
      return true;
    };
    const self: Member = {
      get active() {
        return active;
      },
      transport,
      send(payload) {
        try {
          socket.send(`${prefix}${payload}}`);
        } catch {
          // A socket that cannot take a frame is going away: its close makes the member leave.
          // It must not end the group for the others.
        }
      },
      next() {
        if (finished) return Promise.resolve(DONE);
        if (!active) {
          // graphql-ws registered the operation: the group's latest result first.
          active = true;
          if (group.latest !== undefined) self.send(group.latest);
        }
        return new Promise((resolve, reject) => {
          pending = { resolve, reject };
          if (group.outcome) self.settle();
        });
      },
      settle() {
        const outcome = group.outcome;
        const waiting = pending;
        if (!outcome || !waiting || !finish()) return;
        pending = undefined;
        if (outcome.failed) waiting.reject(outcome.error);
        else waiting.resolve(DONE);
      },
      async return() {
        finish();
        pending?.resolve(DONE);
        pending = undefined;
        if (group.members.delete(self) && group.members.size === 0) close(group);
        return DONE;
      },
      async throw(error) {
        await self.return();
        throw error;
      },
      [Symbol.asyncIterator]() {
        return self;
      },
    };
    return self;
  };

  const open = (
    key: string,
    start: (tap: FanoutTap) => FanoutSource | Promise<FanoutSource>,
  ): Group => {
    const tap: FanoutTap = {
      changed(observedAt) {
        group.observedAt = observedAt;
      },
    };
    const started = (async () => start(tap))().then(
      (source) => {
        if (isStream(source)) void pump(group, source);
        else leaveMap(group, 'ended');
        return source;
      },
      (error: unknown) => {
        leaveMap(group, 'ended');
        throw error;
      },
    );
    const group: Group = {
      key,
      started,
      state: 'open',
      members: new Set(),
      latest: undefined,
      observedAt: -1,
      outcome: undefined,
      iterator: undefined,
    };
    groups.set(key, group);
    metrics.fanoutGroups.inc();
    return group;
  };

  return {
    async join(key, socket, id, start) {
      for (;;) {
        const group = groups.get(key) ?? open(key, start);
        // Nobody can leave a group while its source starts (no member has its iterator yet),
        // so a group being started stays open for everyone waiting here.
        const source = await group.started;
        if (!isStream(source)) return source;
        // Its last member left in the meantime: the source is closing, so open another.
        if (group.state === 'closed') continue;
        const joined = member(group, socket, id);
        // An ended group still gives its latest result, then the end, to a member that came late.
        if (group.state === 'open') group.members.add(joined);
        return joined;
      }
    },
  };
}

function isStream(source: FanoutSource): source is AsyncIterable<ExecutionResult> {
  return typeof (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function';
}
