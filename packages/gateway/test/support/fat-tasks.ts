/** A database of fat tasks, for tests of clients that ask for a lot and read slowly. */
import { randomUUID } from 'node:crypto';
import { LIMITS, parseVideoInput } from '@wan-video/core';
import { SqliteTaskStore } from '../../src/index.js';

/** 100 SUCCEEDED tasks of the anonymous client, each with every string of its input at its bound. */
export async function fatDatabase(path: string) {
  const store = new SqliteTaskStore(path);
  const input = parseVideoInput({
    prompt: 'p'.repeat(LIMITS.prompt.maxLength),
    negativePrompt: 'n'.repeat(LIMITS.negativePrompt.maxLength),
    width: 832,
    height: 480,
    loras: Array.from({ length: LIMITS.loras.maxItems }, (_, i) => ({
      path: `${i}`.repeat(LIMITS.loraPath.maxLength),
      scale: 1,
    })),
  });
  for (let i = 0; i < 100; i++) {
    const inserted = await store.insert(
      {
        id: randomUUID(),
        owner: 'anonymous',
        idempotencyKey: null,
        inputHash: `fat-${i}`,
        input,
        webhookSecretHash: null,
        createdAt: Date.now() - i,
        deadlineAt: Date.now() + 3_600_000,
      },
      { maxInFlight: 1000 },
    );
    if (inserted.outcome !== 'created') throw new Error(inserted.outcome);
    const task = await store.markCreated(inserted.task.id, `fat-upstream-${i}`, Date.now());
    await store.applySnapshot(
      task.id,
      {
        taskId: `fat-upstream-${i}`,
        status: 'SUCCEEDED',
        progressPercent: 100,
        etaSeconds: null,
        failureReason: null,
        videos: [
          { url: 'http://127.0.0.1:1/v.mp4', type: 'mp4', expiresAt: Date.now() + 3_600_000 },
        ],
        seed: 1,
      },
      Date.now(),
      task.version,
    );
  }
  await store.close();
}

/** About 700 KB of JSON per answer. */
export const FAT_QUERY =
  '{ videoTasks(first: 100) { edges { node { input { prompt negativePrompt loras { path } } } } } }';
