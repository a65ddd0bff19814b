/** idempotencyKey: a retry returns the same task and never pays twice upstream. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALPHA_KEY, BETA_KEY, bearer, GATEWAY_API_KEYS } from './support/b-helpers.js';
import { creates, GENERATE, type Stack, smallInput, startStack, watch } from './support/stack.js';

const alpha = bearer(ALPHA_KEY);
const beta = bearer(BETA_KEY);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ env: { GATEWAY_API_KEYS } });
});
afterAll(() => stack?.stop());

const generate = (
  input: Record<string, unknown>,
  key: string,
  headers: Record<string, string> = alpha,
) => stack.gql(GENERATE, { input, key }, headers);

/** The task a mutation returned; fails the test on any error. */
async function taskOf(answer: ReturnType<typeof generate>) {
  const { body } = await answer;
  expect(body.errors).toBeUndefined();
  return body.data.generateVideo as { id: string; status: string };
}

const createCount = async () => creates(await stack.upstream()).length;

describe('the same key with the same input', () => {
  it('gives the same task and one upstream create, whatever the order of the fields', async () => {
    const before = await createCount();
    const first = await taskOf(generate(smallInput({ seed: 201 }), 'order'));
    const reordered = await taskOf(
      generate(
        { seed: 201, steps: 10, height: 480, width: 832, prompt: 'a lighthouse at dusk, waves' },
        'order',
      ),
    );
    const literal = await stack.gql(
      /* GraphQL */ `mutation {
        generateVideo(idempotencyKey: "order", input: {
          steps: 10, seed: 201, prompt: "a lighthouse at dusk, waves", height: 480, width: 832
        }) { id }
      }`,
      {},
      alpha,
    );
    expect(reordered.id).toBe(first.id);
    expect(literal.body.errors).toBeUndefined();
    expect(literal.body.data.generateVideo.id).toBe(first.id);
    expect((await createCount()) - before).toBe(1);
  });

  it('gives the same task when the defaults are spelled out', async () => {
    const before = await createCount();
    const bare = { prompt: 'a harbour at noon', width: 832, height: 480 };
    const first = await taskOf(generate(bare, 'defaults'));
    const spelled = await taskOf(
      generate(
        {
          ...bare,
          seed: -1,
          steps: 30,
          guidanceScale: 5.0,
          flowShift: 5,
          modelName: 'wan2.1-t2v',
          loras: [],
          negativePrompt: null,
        },
        'defaults',
      ),
    );
    expect(spelled.id).toBe(first.id);
    expect((await createCount()) - before).toBe(1);
  });

  it('still gives the same task once it has finished, in its final state', async () => {
    const input = smallInput({ seed: 203 });
    const first = await taskOf(generate(input, 'finished'));
    await watch(stack.ws(alpha), first.id).done;
    const before = await createCount();
    const again = await taskOf(generate(input, 'finished'));
    expect(again).toMatchObject({ id: first.id, status: 'SUCCEEDED' });
    expect(await createCount()).toBe(before);
  });
});

describe('the same key with another input', () => {
  it('is IDEMPOTENCY_CONFLICT naming the first task, and sends nothing upstream', async () => {
    const first = await taskOf(generate(smallInput({ seed: 204 }), 'conflict'));
    const before = await createCount();
    for (const patch of [{ seed: 205 }, { steps: 11 }, { prompt: 'another prompt' }]) {
      const { body } = await generate(smallInput({ seed: 204, ...patch }), 'conflict');
      expect(body.data).toBeNull();
      expect(body.errors).toHaveLength(1);
      expect(body.errors?.[0]?.extensions).toMatchObject({
        code: 'IDEMPOTENCY_CONFLICT',
        idempotencyKey: 'conflict',
        taskId: first.id,
      });
    }
    expect(await createCount()).toBe(before);
    // The first use of the key is untouched.
    expect((await taskOf(generate(smallInput({ seed: 204 }), 'conflict'))).id).toBe(first.id);
  });
});

describe('keys belong to one client', () => {
  it('the same key from another client is independent of the first', async () => {
    const before = await createCount();
    const mine = await taskOf(generate(smallInput({ seed: 206 }), 'shared', alpha));
    // Same key, same input, another client: a task of its own.
    const theirs = await taskOf(generate(smallInput({ seed: 206 }), 'shared', beta));
    expect(theirs.id).not.toBe(mine.id);
    expect((await createCount()) - before).toBe(2);
    // Each replays its own.
    expect((await taskOf(generate(smallInput({ seed: 206 }), 'shared', alpha))).id).toBe(mine.id);
    expect((await taskOf(generate(smallInput({ seed: 206 }), 'shared', beta))).id).toBe(theirs.id);
    expect((await createCount()) - before).toBe(2);
  });

  it("another input under another client's key is no conflict", async () => {
    const mine = await taskOf(generate(smallInput({ seed: 207 }), 'mine-first', alpha));
    const theirs = await taskOf(generate(smallInput({ seed: 208 }), 'mine-first', beta));
    expect(theirs.id).not.toBe(mine.id);
    const { body } = await generate(smallInput({ seed: 208 }), 'mine-first', alpha);
    expect(body.errors?.[0]?.extensions).toMatchObject({
      code: 'IDEMPOTENCY_CONFLICT',
      taskId: mine.id,
    });
  });
});

describe('concurrent requests with one key', () => {
  it('five at once make one task and one upstream create', async () => {
    const listed = async () => {
      const { body } = await stack.gql(
        'query { videoTasks(first: 100) { edges { node { id } } } }',
        {},
        alpha,
      );
      return body.data.videoTasks.edges.map((edge: { node: { id: string } }) => edge.node.id);
    };
    const tasksBefore = (await listed()).length;
    const before = await createCount();
    // Slow the upstream so that the later four arrive while the first create is still out.
    stack.emulator.setFaults({ latencyMs: 150, routes: ['create'] });
    try {
      const answers = await Promise.all(
        Array.from({ length: 5 }, (_, i) =>
          // Every other one spells the fields in another order.
          generate(
            i % 2 === 0
              ? smallInput({ seed: 209 })
              : { steps: 10, seed: 209, width: 832, height: 480, prompt: smallInput().prompt },
            'burst',
          ),
        ),
      );
      const ids = answers.map(({ body }) => {
        expect(body.errors).toBeUndefined();
        return body.data.generateVideo.id as string;
      });
      expect(new Set(ids).size).toBe(1);
      expect((await createCount()) - before).toBe(1);
      const after = await listed();
      expect(after.length).toBe(tasksBefore + 1);
      expect(after.filter((id: string) => id === ids[0])).toHaveLength(1);
    } finally {
      stack.emulator.setFaults({});
    }
  });
});
