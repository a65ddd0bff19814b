/**
 * The client-webhook outbox in Postgres, shared by two dispatchers (two replicas' worth: each its
 * own pool and its own `ClientWebhooks`), against the real database and a real receiver that
 * verifies every signature. Tasks are ended straight in the store, as another replica's tracker
 * would: the dispatchers find them by their sweep, with no kick.
 */
import { randomUUID } from 'node:crypto';
import { parseVideoInput } from '@wan-video/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../src/logger.js';
import { hashInput } from '../src/service.js';
import { PostgresTaskStore } from '../src/store/postgres.js';
import { ClientWebhooks } from '../src/webhooks/outbox.js';
import { createTestDatabase, type TestDatabase } from './support/services.js';
import { type Receiver, startReceiver } from './support/webhook-receiver.js';

const OWNER = 'client_0123456789abcdef';
const logger = createLogger({ level: 'silent', secrets: [] });

describe('the outbox in Postgres, two dispatchers', () => {
  let database: TestDatabase;
  let storeA: PostgresTaskStore;
  let storeB: PostgresTaskStore;
  let receiver: Receiver;
  const dispatchers: ClientWebhooks[] = [];

  const dispatcher = (store: PostgresTaskStore) => {
    const webhooks = new ClientWebhooks({
      tasks: store,
      logger,
      allowPrivate: true,
      signingSecret: undefined,
      shared: true,
      retryScale: 0.02,
    });
    dispatchers.push(webhooks);
    return webhooks;
  };

  /** A task with a webhook, written and ended as a replica's tracker would. */
  async function endedTask(store: PostgresTaskStore, path: string, status: 'SUCCEEDED' | 'FAILED') {
    const input = parseVideoInput({
      prompt: 'a harbour at night',
      width: 832,
      height: 480,
      seed: 3,
    });
    const id = randomUUID();
    const now = Date.now();
    const inserted = await store.insert(
      {
        id,
        owner: OWNER,
        idempotencyKey: null,
        inputHash: hashInput(input),
        input,
        webhookSecretHash: null,
        createdAt: now,
        deadlineAt: now + 600_000,
        webhook: {
          url: `${receiver.url}${path}`,
          origin: 'https://gateway.example.com',
          test: false,
        },
      },
      { maxInFlight: 1000 },
    );
    expect(inserted.outcome).toBe('created');
    const created = await store.markCreated(id, `upstream-${id}`, now);
    const ended = await store.applySnapshot(
      id,
      {
        taskId: `upstream-${id}`,
        status,
        progressPercent: 100,
        etaSeconds: null,
        failureReason: status === 'FAILED' ? 'it rained' : null,
        videos:
          status === 'SUCCEEDED'
            ? [{ url: 'https://upstream.example/v.mp4', type: 'mp4', expiresAt: now + 3_600_000 }]
            : [],
        seed: 42,
      },
      now,
      created.version,
    );
    expect(ended?.status).toBe(status);
    return id;
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    storeA = await PostgresTaskStore.open(database.url);
    storeB = await PostgresTaskStore.open(database.url);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    for (const webhooks of dispatchers) await webhooks.stop();
    await storeA?.close();
    await storeB?.close();
    await receiver?.close();
    await database?.drop();
  });

  it('share one generated master secret, and deliver each event once between them (claims are exclusive)', async () => {
    const a = dispatcher(storeA);
    const b = dispatcher(storeB);
    await Promise.all([a.start(), b.start()]);
    expect(a.secretFor(OWNER)).toBe(b.secretFor(OWNER));
    expect(a.secretFor(OWNER)).not.toBe(a.secretFor('client_fedcba9876543210'));
    receiver.secret = a.secretFor(OWNER);

    const ids: string[] = [];
    for (let n = 0; n < 12; n++) {
      ids.push(
        await endedTask(n % 2 ? storeA : storeB, `/once/${n}`, n % 3 ? 'SUCCEEDED' : 'FAILED'),
      );
    }
    a.kick();
    b.kick();
    const received = await receiver.until(12);
    expect(received.every((entry) => entry.verified)).toBe(true);
    const deliveries = await vi.waitFor(
      async () => {
        const all = await Promise.all(ids.map((id) => storeA.webhooks.delivery(id)));
        if (all.some((delivery) => delivery?.status !== 'DELIVERED')) throw new Error('pending');
        return all;
      },
      { timeout: 20_000, interval: 50 },
    );
    expect(deliveries.map((delivery) => delivery?.attempts.length)).toEqual(ids.map(() => 1));
    expect(receiver.received).toHaveLength(12);
    const webhookIds = receiver.received.map((entry) => entry.headers['webhook-id']);
    expect(new Set(webhookIds).size).toBe(12);
    for (const [n, id] of ids.entries()) {
      const entry = receiver.received.find((item) => item.path === `/once/${n}`);
      const status = n % 3 ? 'SUCCEEDED' : 'FAILED';
      expect(entry?.headers['webhook-id']).toBe(`msg_${id}_${status}`);
      expect(entry?.event.payload.task.status).toBe(
        status === 'SUCCEEDED' ? 'TASK_STATUS_SUCCEED' : 'TASK_STATUS_FAILED',
      );
      if (status === 'SUCCEEDED') {
        expect(entry?.event.payload.videos[0].video_url).toBe(
          `https://gateway.example.com/videos/${id}/0.mp4`,
        );
      }
    }
  });

  it('a claim left by a replica that died mid-try runs out, and another replica delivers the event (at least once)', async () => {
    const before = receiver.received.length;
    for (const webhooks of dispatchers.splice(0)) await webhooks.stop();
    const id = await endedTask(storeA, '/orphan', 'SUCCEEDED');
    // A replica claims it, then dies before recording anything.
    const now = Date.now();
    const claimed = await storeA.webhooks.claimDue(now, now + 400, 'dead-replica', 10);
    expect(claimed.map((delivery) => delivery.taskId)).toEqual([id]);
    // Nobody else may take it while the claim lasts.
    expect(await storeB.webhooks.claimDue(Date.now(), Date.now() + 10_000, 'other', 10)).toEqual(
      [],
    );
    const survivor = dispatcher(storeB);
    await survivor.start();
    const [entry] = (await receiver.until(before + 1)).slice(before);
    expect(entry?.path).toBe('/orphan');
    expect(entry?.verified).toBe(true);
    expect(entry?.headers['webhook-id']).toBe(`msg_${id}_SUCCEEDED`);
    // The dead replica's late answer cannot overwrite what the survivor recorded.
    const recorded = await vi.waitFor(
      async () => {
        const delivery = await storeB.webhooks.delivery(id);
        if (delivery?.status !== 'DELIVERED') throw new Error('pending');
        return delivery;
      },
      { timeout: 20_000, interval: 50 },
    );
    expect(
      await storeA.webhooks.record(id, 'dead-replica', {
        status: 'FAILED',
        attempts: [],
        nextAttemptAt: 0,
      }),
    ).toBe(false);
    expect((await storeA.webhooks.delivery(id))?.status).toBe(recorded.status);
  });
});
