/** Expired video links: reading a task gives links that work, refreshed from the upstream. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATE, type Stack, smallInput, startStack, watch } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ emulator: { videoUrlTtlSeconds: 1 } });
});
afterAll(() => stack.stop());

describe('video links', () => {
  it('are refreshed when they are about to expire or have expired', async () => {
    const { body } = await stack.gql(GENERATE, { input: smallInput({ seed: 31 }) });
    const id = body.data.generateVideo.id;
    const sub = watch(stack.ws(), id);
    await sub.done;
    const first = sub.events.at(-1).videos[0].url as string;
    // Wait out the link's own one-second TTL, then it is refused upstream.
    const expires = Number(new URL(first).searchParams.get('expires'));
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, expires * 1000 - Date.now()) + 1100),
    );
    expect((await fetch(first)).status).toBe(403);

    const before = (await stack.upstream()).length;
    const [a, b] = await Promise.all([
      stack.gql('query($id: ID!) { videoTask(id: $id) { videos { url expiresAt } } }', { id }),
      stack.gql('query($id: ID!) { videoTask(id: $id) { videos { url expiresAt } } }', { id }),
    ]);
    const fresh = a.body.data.videoTask.videos[0].url as string;
    expect(fresh).not.toBe(first);
    expect(b.body.data.videoTask.videos[0].url).toBe(fresh);
    expect((await fetch(fresh)).status).toBe(200);
    // Two readers at once cost one upstream read.
    const reads = (await stack.upstream())
      .slice(before)
      .filter(
        (entry) =>
          entry.path.endsWith('/task-result') && entry.taskId !== 'wan-video-readiness-probe',
      );
    expect(reads).toHaveLength(1);
  });
});
