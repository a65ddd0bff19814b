/**
 * The contract suite: drives the emulator over HTTP only (fetch and our own core client), never
 * its internals, and checks it behaves like Novita's API as `upstream-contract.md` describes it.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Emulator } from '../src/index.js';
import {
  create,
  emulators,
  follow,
  post,
  result,
  webhookReceiver,
  wire,
} from './support/harness.js';
import { readMp4 } from './support/mp4.js';

const pool = emulators();
let emu: Emulator;
/**
 * For the tests that look only at the answers to creates: its tasks never end, so they start no
 * render that would take the CPU from the tests that wait on one.
 */
let quiet: Emulator;
beforeAll(async () => {
  emu = await pool.start();
  quiet = await pool.start({ faults: { stallTasks: {} } });
});
afterAll(() => pool.stopAll());

const sha = (bytes: ArrayBuffer) => createHash('sha256').update(Buffer.from(bytes)).digest('hex');

async function videoOf(taskId: string, base = emu.url) {
  const { final } = await follow(base, taskId);
  expect(final.status).toBe('SUCCEEDED');
  const url = final.videos[0]?.url ?? '';
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return { url, bytes: await response.arrayBuffer(), final };
}

describe('auth', () => {
  it('answers 401 with the error shape without a bearer key', async () => {
    for (const headers of [{}, { authorization: 'Bearer ' }, { authorization: 'Basic abc' }]) {
      const created = await post(emu.url, wire(), headers);
      expect(created.status).toBe(401);
      expect(created.json).toMatchObject({
        code: 401,
        reason: 'INVALID_API_KEY',
        message: expect.any(String),
      });
      expect((await result(emu.url, 'x', headers)).status).toBe(401);
    }
  });

  it('lets any non-empty key pass by default, and only the listed keys when given', async () => {
    expect((await post(quiet.url, wire(), { authorization: 'Bearer anything' })).status).toBe(200);
    const strict = await pool.start({ apiKeys: ['k1', 'k2'], faults: { stallTasks: {} } });
    expect((await post(strict.url, wire(), { authorization: 'Bearer k3' })).status).toBe(401);
    expect((await post(strict.url, wire(), { authorization: 'Bearer k2' })).status).toBe(200);
  });
});

describe('validation over HTTP', () => {
  // The valid creates here would each start a render: the quiet emulator starts none.
  /** field, just-inside values, just-outside values. */
  const boundaries: [string, unknown[], unknown[]][] = [
    ['seed', [-1, 0, 9_999_999_999], [-2, 10_000_000_000, 1.5, '7']],
    ['steps', [1, 40], [0, 41, 2.5]],
    ['guidance_scale', [0, 10, 7.25], [-0.001, 10.001]],
    ['flow_shift', [1, 10], [0.999, 10.001]],
    ['prompt', ['a', 'é'.repeat(2000), '🎬'.repeat(2000)], ['', 'a'.repeat(2001)]],
    ['negative_prompt', ['', 'n'.repeat(2000)], ['n'.repeat(2001), 5]],
    ['model_name', ['wan2.1-t2v'], ['wan2.2-t2v', '']],
    [
      'loras',
      [
        [],
        [
          { path: 'a', scale: 1 },
          { path: 'b', scale: 0 },
          { path: 'c', scale: -1 },
        ],
      ],
      [[1], Array(4).fill({ path: 'a', scale: 1 })],
    ],
  ];

  it.each(boundaries)(
    '%s: just inside passes, just outside fails naming the field',
    async (field, inside, outside) => {
      for (const value of inside) {
        const created = await post(quiet.url, wire({ [field]: value }));
        expect(created.status, `${field}=${JSON.stringify(value).slice(0, 40)}`).toBe(200);
      }
      for (const value of outside) {
        const created = await post(quiet.url, wire({ [field]: value }));
        expect(created.status, `${field}=${JSON.stringify(value).slice(0, 40)}`).toBe(400);
        expect(created.json).toMatchObject({ code: 400, reason: 'INVALID_REQUEST_BODY' });
        const fields = (created.json.metadata.issues as { field: string }[]).map(
          (issue) => issue.field.split('.')[0],
        );
        expect(fields).toEqual([field]);
        expect(created.json.message).toContain(field);
      }
    },
  );

  it('accepts the four sizes and refuses every other pair, explaining why', async () => {
    for (const [width, height] of [
      [832, 480],
      [480, 832],
      [1280, 720],
      [720, 1280],
    ]) {
      expect((await post(quiet.url, wire({ width, height }))).status).toBe(200);
    }
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(480, 720, 832, 1280),
        fc.constantFrom(480, 720, 832, 1280, 481, 1000),
        async (width, height) => {
          fc.pre(!['832x480', '480x832', '1280x720', '720x1280'].includes(`${width}x${height}`));
          const created = await post(quiet.url, wire({ width, height }));
          expect(created.status).toBe(400);
          expect(created.json.metadata.issues).toEqual([
            expect.objectContaining({
              field: 'height',
              message: expect.stringMatching(/^height must be \d+ when width is \d+$/),
            }),
          ]);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('requires the required fields and lists every problem', async () => {
    const created = await post(quiet.url, { prompt: '', width: 832, height: 720, steps: 99 });
    expect(created.status).toBe(400);
    const fields = (created.json.metadata.issues as { field: string }[])
      .map((issue) => issue.field)
      .sort();
    expect(fields).toEqual(['height', 'model_name', 'prompt', 'seed', 'steps']);
  });

  it('answers 400 for a body that is not JSON', async () => {
    const created = await post(quiet.url, '{"prompt": ');
    expect(created.status).toBe(400);
    expect(created.json).toMatchObject({ code: 400, reason: 'INVALID_REQUEST_BODY' });
  });
});

describe('a task', () => {
  it('goes QUEUED → PROCESSING (progress rising, eta falling) → SUCCEED with a video', async () => {
    const taskId = await create(emu.url, { steps: 30 });
    expect(taskId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const first = await result(emu.url, taskId);
    expect(first.json.task).toMatchObject({
      task_id: taskId,
      task_type: 'WAN_TXT_TO_VIDEO',
      status: 'TASK_STATUS_QUEUED',
    });
    expect(first.json.extra.seed).toBe('1');
    const { seen, final } = await follow(emu.url, taskId);
    const processing = seen.filter((s) => s.status === 'PROCESSING');
    expect(processing.length).toBeGreaterThan(2);
    for (let i = 1; i < processing.length; i++) {
      const [before, after] = [processing[i - 1], processing[i]];
      expect(after?.progressPercent).toBeGreaterThanOrEqual(before?.progressPercent ?? 0);
      expect(after?.etaSeconds ?? 0).toBeLessThanOrEqual(
        before?.etaSeconds ?? Number.POSITIVE_INFINITY,
      );
    }
    expect(final.status).toBe('SUCCEEDED');
    const done = await result(emu.url, taskId);
    expect(done.json.task).toMatchObject({ status: 'TASK_STATUS_SUCCEED', progress_percent: 100 });
    expect(done.json.videos).toEqual([
      {
        video_url: expect.stringContaining(`${emu.url}/videos/${taskId}.mp4?`),
        video_url_ttl: '3600',
        video_type: 'mp4',
      },
    ]);
  });

  it('resolves seed -1 to a concrete seed', async () => {
    const taskId = await create(quiet.url, { seed: -1 });
    const seed = Number((await result(quiet.url, taskId)).json.extra.seed);
    expect(Number.isInteger(seed) && seed >= 0).toBe(true);
  });

  it('takes longer for bigger sizes and more steps', async () => {
    const realTime = await pool.start({ timeScale: 1 });
    try {
      const eta = async (patch: Record<string, unknown>) =>
        (await result(realTime.url, await create(realTime.url, patch))).json.task.eta as number;
      const small = await eta({ steps: 10 });
      expect(await eta({ steps: 40 })).toBeGreaterThan(small);
      expect(await eta({ steps: 10, width: 1280, height: 720 })).toBeGreaterThan(small);
    } finally {
      // Its renders (one of them 1280×720) would otherwise run on under the tests below.
      await realTime.close();
    }
  });

  it('answers an unknown or missing task id with an error body, not a crash', async () => {
    const unknown = await result(emu.url, '00000000-0000-4000-8000-000000000000');
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ code: 404, reason: 'TASK_NOT_FOUND' });
    const missing = await result(emu.url, '');
    expect(missing.status).toBe(400);
  });
});

describe('videos', () => {
  it('are MP4s of exactly the requested size, 81 frames at 16 fps (about 5 s), H.264', async () => {
    for (const [width, height] of [
      [832, 480],
      [720, 1280],
    ]) {
      const taskId = await create(emu.url, { width, height });
      const { bytes } = await videoOf(taskId);
      const movie = readMp4(new Uint8Array(bytes));
      const [track] = movie.videoTracks;
      expect(movie.videoTracks).toHaveLength(1);
      expect(track?.codec).toMatch(/^avc1\./);
      expect([track?.track_width, track?.track_height]).toEqual([width, height]);
      expect(track?.nb_samples).toBe(81);
      expect((track?.duration ?? 0) / (track?.timescale ?? 1)).toBeCloseTo(81 / 16, 2);
    }
  });

  it('are deterministic: same inputs, same bytes', async () => {
    // b comes from an emulator with storage of its own: it renders the video again, where
    // emu would serve the file it already has.
    const apart = await pool.start({ storageDir: await pool.freshDir() });
    const a = await videoOf(await create(emu.url));
    const b = await videoOf(await create(apart.url), apart.url);
    expect(sha(a.bytes)).toBe(sha(b.bytes));
  });

  it('differ for a different prompt or flow shift', async () => {
    const a = await videoOf(await create(emu.url));
    const [otherPrompt, otherFlow] = await Promise.all([
      videoOf(await create(emu.url, { prompt: 'a red fox in the snow' })),
      videoOf(await create(emu.url, { flow_shift: 9 })),
    ]);
    expect(sha(otherPrompt.bytes)).not.toBe(sha(a.bytes));
    expect(sha(otherFlow.bytes)).not.toBe(sha(a.bytes));
  });

  it('support HTTP Range requests', async () => {
    const { url, bytes } = await videoOf(await create(emu.url));
    const partial = await fetch(url, { headers: { range: 'bytes=100-199' } });
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-range')).toBe(`bytes 100-199/${bytes.byteLength}`);
    expect(partial.headers.get('content-type')).toBe('video/mp4');
    expect(Buffer.from(await partial.arrayBuffer())).toEqual(Buffer.from(bytes.slice(100, 200)));
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.headers.get('accept-ranges')).toBe('bytes');
    expect(Number(head.headers.get('content-length'))).toBe(bytes.byteLength);
  });

  it('answer 403 once the URL has expired, or when it was tampered with', async () => {
    // A URL expires at a whole second: with a TTL of 1 s it may have a millisecond left when it
    // is read, and fail the first fetch below. 3 s leaves it at least 2 s.
    const shortLived = await pool.start({ videoUrlTtlSeconds: 3 });
    const taskId = await create(shortLived.url);
    const { final } = await follow(shortLived.url, taskId);
    const url = final.videos[0]?.url ?? '';
    expect((await result(shortLived.url, taskId)).json.videos[0].video_url_ttl).toBe('3');
    expect((await fetch(url)).status).toBe(200);
    const tampered = url.replace(/signature=[^&]+/, 'signature=AAAA');
    expect((await fetch(tampered)).status).toBe(403);
    // Wait until the URL's own expiry has passed, then it must be refused.
    const expires = Number(new URL(url).searchParams.get('expires'));
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, expires * 1000 - Date.now()) + 1100),
    );
    const expired = await fetch(url);
    expect(expired.status).toBe(403);
    expect(await expired.json()).toMatchObject({ reason: 'URL_EXPIRED' });
    // A fresh read gives a fresh URL that works again.
    const fresh = (await result(shortLived.url, taskId)).json.videos[0].video_url as string;
    expect((await fetch(fresh)).status).toBe(200);
  });
});

describe('webhooks', () => {
  it('POST the result event at the end, retrying a receiver that fails twice', async () => {
    const receiver = await webhookReceiver([500, 503]);
    try {
      const taskId = await create(emu.url, { extra: { webhook: { url: receiver.url } } });
      const calls = await receiver.waitFor(3);
      expect(calls).toHaveLength(3);
      const event = JSON.parse(calls[2]?.body ?? '{}');
      expect(event.event_type).toBe('ASYNC_TASK_RESULT');
      expect(event.payload.task).toMatchObject({ task_id: taskId, status: 'TASK_STATUS_SUCCEED' });
      expect(event.payload.videos[0].video_url).toContain(taskId);
      expect(calls.every((call) => call.body === calls[0]?.body)).toBe(true);
      expect(calls[0]?.headers['content-type']).toBe('application/json');
      // The emulator logs a try once the receiver's answer is in.
      await vi.waitFor(() => {
        expect(
          emu
            .webhooks()
            .filter((w) => w.taskId === taskId)
            .map((w) => w.status),
        ).toEqual([500, 503, 200]);
      });
    } finally {
      await receiver.close();
    }
  });

  it('give up after 5 tries', async () => {
    const receiver = await webhookReceiver([500, 500, 500, 500, 500, 500]);
    try {
      const taskId = await create(emu.url, { extra: { webhook: { url: receiver.url } } });
      await receiver.waitFor(5);
      await follow(emu.url, taskId);
      // A sixth try would come 8 s / 20 after the fifth; the emulator's log says it is over
      // (it logs a try once the receiver's answer is in).
      const tries = () => emu.webhooks().filter((w) => w.taskId === taskId);
      await vi.waitFor(() => expect(tries().map((w) => w.attempt)).toEqual([1, 2, 3, 4, 5]));
    } finally {
      await receiver.close();
    }
  });

  it('test_mode sends a simulated event at once and renders nothing', async () => {
    const receiver = await webhookReceiver();
    try {
      const taskId = await create(emu.url, {
        seed: 10,
        extra: {
          webhook: {
            url: receiver.url,
            test_mode: { enabled: true, return_task_status: 'TASK_STATUS_FAILED' },
          },
        },
      });
      const [call] = await receiver.waitFor(1);
      const event = JSON.parse(call?.body ?? '{}');
      expect(event.payload.task).toMatchObject({ task_id: taskId, status: 'TASK_STATUS_FAILED' });
      expect((await result(emu.url, taskId)).json).toMatchObject({
        task: { status: 'TASK_STATUS_FAILED' },
        videos: [],
      });
      const succeed = await create(emu.url, {
        seed: 10,
        extra: { webhook: { url: receiver.url, test_mode: { enabled: true } } },
      });
      const second = await receiver.waitFor(2);
      expect(JSON.parse(second[1]?.body ?? '{}').payload.task).toMatchObject({
        task_id: succeed,
        status: 'TASK_STATUS_SUCCEED',
      });
      expect((await result(emu.url, succeed)).json.videos).toEqual([]);
    } finally {
      await receiver.close();
    }
  });
});
