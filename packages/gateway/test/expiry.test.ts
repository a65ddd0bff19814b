/**
 * Video links on the gateway's origin, in front of a real upstream (the emulator on a port of its
 * own, whose links last one second here): the gateway's link keeps working after the upstream's
 * has expired, refreshed with one upstream read however many players ask at once, Range included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATE, type Stack, smallInput, startStack, watch } from './support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ emulator: { videoUrlTtlSeconds: 1 } });
});
afterAll(() => stack.stop());

const reads = async (since: number) =>
  (await stack.upstream())
    .slice(since)
    .filter(
      (entry) =>
        entry.path.endsWith('/task-result') && entry.taskId !== 'wan-video-readiness-probe',
    );

describe('video links', () => {
  it('are the gateway’s, and outlive the upstream’s links', async () => {
    const { body } = await stack.gql(GENERATE, { input: smallInput({ seed: 31 }) });
    const id = body.data.generateVideo.id;
    const sub = watch(stack.ws(), id);
    await sub.done;
    const { url, expiresAt } = sub.events.at(-1).videos[0];
    expect(url).toBe(`${stack.gateway.url}/videos/${id}/0.mp4`);
    expect(expiresAt).toBeNull();
    // The upstream's own link (one second) is past by then: the gateway reads the task again.
    await new Promise((resolve) => setTimeout(resolve, 1100));

    const before = (await stack.upstream()).length;
    const [a, b] = await Promise.all([fetch(url), fetch(url)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.headers.get('content-type')).toBe('video/mp4');
    const [bytesA, bytesB] = await Promise.all([a.arrayBuffer(), b.arrayBuffer()]);
    expect(bytesA.byteLength).toBeGreaterThan(10_000);
    expect(Buffer.from(bytesA).equals(Buffer.from(bytesB))).toBe(true);
    // The upstream was read again for a fresh link: once for players that ask together (one
    // refresh is shared), and never more than once per player (a one-second link is "about to
    // expire" again at once, so a player whose request comes after the refresh reads again).
    const again = (await reads(before)).length;
    expect(again).toBeGreaterThanOrEqual(1);
    expect(again).toBeLessThanOrEqual(2);

    const part = await fetch(url, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-199/${bytesA.byteLength}`);
    expect(
      Buffer.from(await part.arrayBuffer()).equals(Buffer.from(bytesA).subarray(100, 200)),
    ).toBe(true);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytesA.byteLength));
  });
});
