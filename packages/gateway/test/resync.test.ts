/**
 * A change that never reaches the event bus (a replica killed between its store write and its
 * publish, or a Redis pub/sub message lost) still reaches the subscribers: one that hears nothing
 * for RESYNC_MS reads the stored task itself. Here the end is written straight into the
 * gateway's database, as a dead writer leaves it, while the upstream answers no read.
 */
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { SqliteTaskStore } from '../src/store/sqlite.js';
import { RESYNC_MS } from '../src/task.js';
import {
  GENERATE,
  type Stack,
  smallInput,
  sse,
  startStack,
  WATCH,
  watch,
} from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

it(
  'a subscriber whose task ended without an event gets the end from the store, over graphql-ws and SSE',
  async () => {
    const { body } = await stack.gql(GENERATE, { input: smallInput({ steps: 30 }) });
    expect(body.errors).toBeUndefined();
    const id = body.data.generateVideo.id as string;
    // The tracker's reads hang: no event comes from it.
    stack.emulator.setFaults({ latencyMs: 60_000 });

    const ws = watch(stack.ws(), id);
    const sseEvents: any[] = [];
    const sseDone = (async () => {
      for await (const message of sse(stack.gateway.graphqlUrl, WATCH, { id })) {
        sseEvents.push(message.data?.videoTask);
      }
    })();
    // Both have their first event (the task as it is): they are subscribed.
    await vi.waitFor(
      () => {
        expect(ws.errors).toEqual([]);
        expect(ws.events.length * sseEvents.length).toBeGreaterThan(0);
      },
      { timeout: 15_000, interval: 20 },
    );
    expect(ws.events[0].status).toBe('QUEUED');

    const store = new SqliteTaskStore(stack.databasePath);
    const ended = await store.fail(id, 'ended by a writer that died before publishing', Date.now());
    await store.close();

    // Without the store read, neither would ever end (the test's timeout says so).
    await Promise.all([ws.done, sseDone]);
    for (const events of [ws.events, sseEvents]) {
      expect(events.at(-1)).toMatchObject({
        status: 'FAILED',
        failureReason: 'ended by a writer that died before publishing',
      });
      expect(events.filter((event) => event.status === 'FAILED')).toHaveLength(1);
    }
    expect(ws.errors).toEqual([]);
    expect(ended.status).toBe('FAILED');
    stack.emulator.setFaults({});
  },
  RESYNC_MS + 30_000,
);
