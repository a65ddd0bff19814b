/** The main path: mutation, then the live subscription, over graphql-ws and SSE, against the emulator. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  creates,
  GENERATE,
  QUERY_TASK,
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
afterAll(() => stack.stop());

/** The order statuses go through; a subscription never goes back in it. */
const ORDER = ['QUEUED', 'PROCESSING', 'SUCCEEDED'];

async function generate(input: Record<string, unknown> = smallInput()) {
  const { body } = await stack.gql(GENERATE, { input });
  expect(body.errors).toBeUndefined();
  return body.data.generateVideo;
}

describe('generateVideo', () => {
  it('returns at once with the task QUEUED and the input as accepted, defaults filled', async () => {
    const task = await generate(smallInput({ seed: 9_999_999_999 }));
    expect(task).toMatchObject({
      status: 'QUEUED',
      progressPercent: 0,
      videos: [],
      completedAt: null,
      input: {
        prompt: 'a lighthouse at dusk, waves',
        width: 832,
        height: 480,
        seed: 9_999_999_999,
        steps: 10,
        guidanceScale: 5,
        flowShift: 5,
        modelName: 'wan2.1-t2v',
        negativePrompt: null,
        loras: [],
      },
    });
    expect(task.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(task.createdAt)).not.toBeNaN();
  });

  it('is followed live over graphql-ws: QUEUED, rising progress, SUCCEEDED with a fetchable MP4', async () => {
    const task = await generate(smallInput({ steps: 30, seed: 11 }));
    const sub = watch(stack.ws(), task.id);
    await sub.done;
    expect(sub.errors).toEqual([]);
    const statuses = sub.events.map((e) => e.status);
    // The first event is the task as it stands when the subscription starts: QUEUED, or already
    // PROCESSING when the emulator's short queue (150 ms here) ended first on a busy machine.
    expect(['QUEUED', 'PROCESSING']).toContain(statuses[0]);
    expect(statuses).toEqual([...statuses].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b)));
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(statuses).toContain('PROCESSING');
    const progress = sub.events.map((e) => e.progressPercent);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(new Set(progress).size).toBeGreaterThan(2);
    const last = sub.events.at(-1);
    expect(last.videos).toHaveLength(1);
    expect(last.videos[0].expiresAt).toBeNull();
    const video = await fetch(last.videos[0].url);
    expect(video.status).toBe(200);
    expect(video.headers.get('content-type')).toBe('video/mp4');
    expect((await video.arrayBuffer()).byteLength).toBeGreaterThan(10_000);
  });

  it('is followed over SSE too, ending with the terminal state', async () => {
    const task = await generate(smallInput({ seed: 12 }));
    const seen: any[] = [];
    for await (const message of sse(stack.gateway.graphqlUrl, WATCH, { id: task.id }))
      seen.push(message.data.videoTask);
    expect(['QUEUED', 'PROCESSING']).toContain(seen[0].status);
    expect(seen.at(-1).status).toBe('SUCCEEDED');
  });

  it('sends a finished task once and completes', async () => {
    const task = await generate(smallInput({ seed: 13 }));
    await watch(stack.ws(), task.id).done;
    const again = watch(stack.ws(), task.id);
    await again.done;
    expect(again.events.map((e) => e.status)).toEqual(['SUCCEEDED']);
  });

  it('shows the seed used for a random-seed request', async () => {
    const task = await generate(smallInput({ seed: -1 }));
    await watch(stack.ws(), task.id).done;
    const { body } = await stack.gql(QUERY_TASK, { id: task.id });
    expect(body.data.videoTask.input.seed).toBeGreaterThanOrEqual(0);
  });

  it('ends FAILED with the upstream reason', async () => {
    stack.emulator.setFaults({ failTasks: { reason: 'content policy violation' } });
    try {
      const task = await generate(smallInput({ seed: 14 }));
      const sub = watch(stack.ws(), task.id);
      await sub.done;
      expect(sub.events.at(-1)).toMatchObject({
        status: 'FAILED',
        failureReason: 'content policy violation',
        videos: [],
      });
    } finally {
      stack.emulator.setFaults({});
    }
  });

  it("shows the upstream's reason on one line: line breaks and control characters become spaces", async () => {
    stack.emulator.setFaults({
      failTasks: { reason: 'content policy:\nthe prompt\tmentions <b>it</b>\u0007 "at dusk"' },
    });
    try {
      const task = await generate(smallInput({ seed: 15 }));
      const sub = watch(stack.ws(), task.id);
      await sub.done;
      expect(sub.events.at(-1)).toMatchObject({
        status: 'FAILED',
        failureReason: 'content policy: the prompt mentions <b>it</b>  "at dusk"',
      });
    } finally {
      stack.emulator.setFaults({});
    }
  });
});

describe('validation', () => {
  const cases: [string, Record<string, unknown>, string[][]][] = [
    ['a size that is not one of the four', { width: 832, height: 832 }, [['input', 'height']]],
    ['an empty prompt', { prompt: '' }, [['input', 'prompt']]],
    ['a prompt of 2001 characters', { prompt: 'x'.repeat(2001) }, [['input', 'prompt']]],
    [
      'a negative prompt of 2001 characters',
      { negativePrompt: 'x'.repeat(2001) },
      [['input', 'negativePrompt']],
    ],
    ['a seed below -1', { seed: -2 }, [['input', 'seed']]],
    ['a seed above 9999999999', { seed: 10_000_000_000 }, [['input', 'seed']]],
    ['a fractional seed', { seed: 1.5 }, [['input', 'seed']]],
    ['steps 0', { steps: 0 }, [['input', 'steps']]],
    ['steps 41', { steps: 41 }, [['input', 'steps']]],
    ['guidance below 0', { guidanceScale: -0.1 }, [['input', 'guidanceScale']]],
    ['guidance above 10', { guidanceScale: 10.1 }, [['input', 'guidanceScale']]],
    ['flow shift below 1', { flowShift: 0.9 }, [['input', 'flowShift']]],
    ['flow shift above 10', { flowShift: 10.1 }, [['input', 'flowShift']]],
    ['four LoRAs', { loras: Array(4).fill({ path: 'a', scale: 1 }) }, [['input', 'loras']]],
    [
      'a LoRA without a path',
      { loras: [{ path: '', scale: 1 }] },
      [['input', 'loras', '0', 'path']],
    ],
    ['another model', { modelName: 'wan2.2-t2v' }, [['input', 'modelName']]],
    [
      'many problems at once',
      { prompt: '', width: 1280, height: 480, steps: 99 },
      [
        ['input', 'prompt'],
        ['input', 'steps'],
        ['input', 'height'],
      ],
    ],
  ];

  it.each(cases)(
    '%s: BAD_USER_INPUT naming each field, and no upstream request',
    async (_name, patch, paths) => {
      const before = creates(await stack.upstream()).length;
      const { body } = await stack.gql(GENERATE, { input: smallInput(patch) });
      expect(body.data).toBeNull();
      const [error] = body.errors ?? [];
      expect(error.extensions.code).toBe('BAD_USER_INPUT');
      const issuePaths = error.extensions.issues.map((issue: { path: (string | number)[] }) =>
        issue.path.map(String),
      );
      expect(issuePaths).toEqual(paths);
      for (const issue of error.extensions.issues) expect(issue.message).toMatch(/\w/);
      expect(creates(await stack.upstream()).length).toBe(before);
    },
  );
});

describe('queries', () => {
  it('videoTask reads a task; videoTasks pages through the caller history, newest first', async () => {
    const own = await stack.gql(`query { videoTasks(first: 100) { edges { node { id } } } }`);
    const total = own.body.data.videoTasks.edges.length;
    const a = await generate(smallInput({ seed: 21 }));
    const b = await generate(smallInput({ seed: 22 }));
    const page1 = await stack.gql(
      `query { videoTasks(first: 1) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`,
    );
    expect(page1.body.data.videoTasks.edges[0].node.id).toBe(b.id);
    expect(page1.body.data.videoTasks.pageInfo.hasNextPage).toBe(true);
    const after = page1.body.data.videoTasks.pageInfo.endCursor;
    const page2 = await stack.gql(
      `query($after: String) { videoTasks(first: 1, after: $after) { edges { node { id } } } }`,
      { after },
    );
    expect(page2.body.data.videoTasks.edges[0].node.id).toBe(a.id);
    const all = await stack.gql(
      `query { videoTasks(first: 100) { edges { node { id } } pageInfo { hasNextPage } } }`,
    );
    expect(all.body.data.videoTasks.edges.length).toBe(total + 2);
    const bad = await stack.gql(`query { videoTasks(first: 101) { edges { node { id } } } }`);
    expect(bad.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    const junk = await stack.gql(
      `query { videoTasks(first: 1, after: "nope") { edges { node { id } } } }`,
    );
    expect(junk.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
  });

  it('an unknown id is NOT_FOUND', async () => {
    const { body } = await stack.gql(QUERY_TASK, { id: '00000000-0000-4000-8000-000000000000' });
    expect(body.errors?.[0].extensions.code).toBe('NOT_FOUND');
  });

  it('says whether the upstream is emulated', async () => {
    const { body } = await stack.gql('query { gateway { emulated authRequired webhooks } }');
    expect(body.data.gateway).toEqual({ emulated: false, authRequired: false, webhooks: false });
  });
});
