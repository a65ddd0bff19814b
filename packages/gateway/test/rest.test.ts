/**
 * The seed's REST contract served by the gateway: Novita's own JS SDK (`novita-sdk` 3.1) and the
 * seed's curl examples run against it with only the base URL and key changed; a task is one task
 * whichever door it came through; keys, limits, idempotency and ownership hold as on GraphQL.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALPHA_KEY, BETA_KEY, bearer, GATEWAY_API_KEYS } from './support/b-helpers.js';
import { creates, QUERY_TASK, type Stack, startStack, watch } from './support/stack.js';
import { startReceiver } from './support/webhook-receiver.js';

// novita-sdk is a UMD bundle: its names come through CommonJS.
const { NovitaSDK } = createRequire(import.meta.url)('novita-sdk') as typeof import('novita-sdk');
const run = promisify(execFile);

/**
 * The SDK's calls used here. Its typings predate the seed's Wan body (they ask for `frames`, and
 * leave `extra` out of the task-result): the wire bodies are the seed's.
 */
interface Sdk {
  wanT2v(body: object): Promise<{ task_id: string }>;
  progress(params: { task_id: string }): Promise<any>;
}
function sdkFor(key: string): Sdk {
  const sdk = new NovitaSDK(key); // it sends the bare key as Authorization
  sdk.setBaseUrl(base);
  return sdk as unknown as Sdk;
}

let stack: Stack;
let base: string;
beforeAll(async () => {
  // Loopback webhook receivers are allowed here (WEBHOOK_ALLOW_PRIVATE); the guard is tested below.
  stack = await startStack({ env: { GATEWAY_API_KEYS, WEBHOOK_ALLOW_PRIVATE: '1' } });
  base = stack.gateway.url;
});
afterAll(() => stack?.stop());

/** The seed's create body (snake_case, `model_name` required). */
const body = (seed: number, patch: Record<string, unknown> = {}) => ({
  model_name: 'wan2.1-t2v',
  prompt: 'a lighthouse at dusk, waves',
  width: 832,
  height: 480,
  seed,
  steps: 10,
  ...patch,
});

const post = (payload: unknown, headers: Record<string, string> = bearer(ALPHA_KEY)) =>
  fetch(`${base}/v3/async/wan-t2v`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(payload),
  });

const result = (taskId: string, headers: Record<string, string> = bearer(ALPHA_KEY)) =>
  fetch(`${base}/v3/async/task-result?task_id=${encodeURIComponent(taskId)}`, { headers });

/** Waits for the task's end over the GraphQL subscription (the other door). */
async function finished(taskId: string) {
  const sub = watch(stack.ws({ authorization: `Bearer ${ALPHA_KEY}` }), taskId);
  await sub.done;
  expect(sub.errors).toEqual([]);
  return sub.events;
}

describe('novita-sdk 3.1 against the gateway', () => {
  it('wanT2v then progress run to a finished video, with only the base URL changed', async () => {
    const sdk = sdkFor(ALPHA_KEY);
    const { task_id } = await sdk.wanT2v(body(41));
    expect(task_id).toMatch(/^[0-9a-f-]{36}$/);
    const early = await sdk.progress({ task_id });
    expect(['TASK_STATUS_QUEUED', 'TASK_STATUS_PROCESSING']).toContain(early.task.status);

    await finished(task_id);
    const done = await sdk.progress({ task_id });
    expect(done.task).toMatchObject({
      task_id,
      task_type: 'WAN_TXT_TO_VIDEO',
      status: 'TASK_STATUS_SUCCEED',
      progress_percent: 100,
    });
    expect(done.extra.seed).toBe('41');
    const [video] = done.videos;
    expect(video?.video_url).toBe(`${base}/videos/${task_id}/0.mp4`);
    const mp4 = await fetch(video?.video_url as string);
    expect(mp4.status).toBe(200);
    expect(
      Buffer.from(await mp4.arrayBuffer())
        .subarray(4, 8)
        .toString('latin1'),
    ).toBe('ftyp');
  });

  it('surfaces the seed errors the SDK knows: a bad body is a NovitaError 400 naming the field', async () => {
    const sdk = sdkFor(ALPHA_KEY);
    const error = await sdk.wanT2v(body(42, { steps: 0 })).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 400, reason: 'INVALID_REQUEST_BODY' });
    expect((error as { msg: string }).msg).toMatch(/steps/);
  });
});

describe("the seed's curl examples", () => {
  it('run unchanged but for host and key', async () => {
    const create = await run('curl', [
      '-s',
      '-X',
      'POST',
      `${base}/v3/async/wan-t2v`,
      '-H',
      'Content-Type: application/json',
      '-H',
      `Authorization: Bearer ${ALPHA_KEY}`,
      '-d',
      JSON.stringify(body(43)),
    ]);
    const { task_id } = JSON.parse(create.stdout);
    expect(task_id).toMatch(/^[0-9a-f-]{36}$/);
    await finished(task_id);
    const read = await run('curl', [
      '-s',
      `${base}/v3/async/task-result?task_id=${task_id}`,
      '-H',
      `Authorization: Bearer ${ALPHA_KEY}`,
    ]);
    const answer = JSON.parse(read.stdout);
    expect(answer.task.status).toBe('TASK_STATUS_SUCCEED');
    expect(answer.videos[0]).toMatchObject({ video_type: 'mp4', video_url_ttl: '3600' });
  });
});

describe('one task, either door', () => {
  it('created over REST, watched over GraphQL; created over GraphQL, read over REST', async () => {
    const created = await (await post(body(44))).json();
    const events = await finished(created.task_id);
    expect(events.at(-1).status).toBe('SUCCEEDED');

    const { body: gql } = await stack.gql(
      'mutation($input: GenerateVideoInput!) { generateVideo(input: $input) { id } }',
      { input: { prompt: 'a paper boat', width: 480, height: 832, steps: 8, seed: 45 } },
      bearer(ALPHA_KEY),
    );
    const id = gql.data.generateVideo.id;
    const read = await (await result(id)).json();
    expect(read.task.task_id).toBe(id);
    expect(['TASK_STATUS_QUEUED', 'TASK_STATUS_PROCESSING']).toContain(read.task.status);
    const viaGraphQL = await stack.gql(QUERY_TASK, { id: created.task_id }, bearer(ALPHA_KEY));
    expect(viaGraphQL.body.data.videoTask.status).toBe('SUCCEEDED');
  });
});

describe('errors in the seed shape, and nothing sent upstream', () => {
  it('a bad body: 400 INVALID_REQUEST_BODY naming each field', async () => {
    const before = creates(await stack.upstream()).length;
    const response = await post(body(46, { width: 100, steps: 41, model_name: 'other' }));
    expect(response.status).toBe(400);
    const answer = await response.json();
    expect(answer).toMatchObject({ code: 400, reason: 'INVALID_REQUEST_BODY' });
    const fields = answer.metadata.issues.map((issue: { field: string }) => issue.field);
    expect(fields).toEqual(expect.arrayContaining(['width', 'steps', 'model_name']));
    expect(await (await post('not json')).json()).toMatchObject({ reason: 'INVALID_REQUEST_BODY' });
    expect(creates(await stack.upstream()).length).toBe(before);
  });

  it('no key or a wrong key: 401 INVALID_API_KEY; another client’s task: 404 TASK_NOT_FOUND', async () => {
    expect((await post(body(47), {})).status).toBe(401);
    const wrong = await post(body(47), { authorization: 'Bearer not-a-key-of-ours' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ code: 401, reason: 'INVALID_API_KEY' });

    const mine = await (await post(body(48))).json();
    const theirs = await result(mine.task_id, bearer(BETA_KEY));
    expect(theirs.status).toBe(404);
    expect(await theirs.json()).toMatchObject({ code: 404, reason: 'TASK_NOT_FOUND' });
    expect((await result(mine.task_id)).status).toBe(200);
  });

  it('the wrong method is 405; a missing task_id is 400', async () => {
    const get = await fetch(`${base}/v3/async/wan-t2v`, { headers: bearer(ALPHA_KEY) });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const missing = await fetch(`${base}/v3/async/task-result`, { headers: bearer(ALPHA_KEY) });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ reason: 'INVALID_REQUEST_PARAMS' });
  });
});

describe('Idempotency-Key', () => {
  it('a retry returns the same task and pays once; another body with the key is a conflict', async () => {
    const before = creates(await stack.upstream()).length;
    const headers = { ...bearer(ALPHA_KEY), 'idempotency-key': 'rest-retry-1' };
    const [a, b] = await Promise.all([post(body(49), headers), post(body(49), headers)]);
    const [first, second] = [await a.json(), await b.json()];
    expect(second.task_id).toBe(first.task_id);
    expect(creates(await stack.upstream()).length).toBe(before + 1);
    const conflict = await post(body(50), headers);
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toMatchObject({ reason: 'IDEMPOTENCY_CONFLICT' });
  });
});

describe('limits', () => {
  let limited: Stack;
  beforeAll(async () => {
    limited = await startStack({ env: { GATEWAY_API_KEYS, MUTATIONS_PER_MINUTE: '2' } });
  });
  afterAll(() => limited?.stop());

  it('past the mutation rate: 429 RATE_LIMIT_EXCEEDED with Retry-After, shared with GraphQL', async () => {
    const send = () =>
      fetch(`${limited.gateway.url}/v3/async/wan-t2v`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(ALPHA_KEY) },
        body: JSON.stringify(body(51)),
      });
    expect((await send()).status).toBe(200);
    const { body: gql } = await limited.gql(
      'mutation { generateVideo(input: {prompt: "x", width: 832, height: 480, steps: 4}) { id } }',
      {},
      bearer(ALPHA_KEY),
    );
    expect(gql.errors).toBeUndefined();
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ code: 429, reason: 'RATE_LIMIT_EXCEEDED' });
  });
});

describe('extra.webhook over REST', () => {
  it('delivers the signed ASYNC_TASK_RESULT event, verified with the client secret', async () => {
    const receiver = await startReceiver();
    try {
      const { body: secret } = await stack.gql('{ webhookSecret }', {}, bearer(ALPHA_KEY));
      receiver.secret = secret.data.webhookSecret;
      const created = await (
        await post(body(52, { extra: { webhook: { url: `${receiver.url}/hook` } } }))
      ).json();
      const [delivery] = await receiver.until(1);
      expect(delivery?.verified).toBe(true);
      expect(delivery?.event).toMatchObject({
        event_type: 'ASYNC_TASK_RESULT',
        payload: { task: { task_id: created.task_id, status: 'TASK_STATUS_SUCCEED' } },
      });
      expect(delivery?.event.payload.videos[0].video_url).toBe(
        `${base}/videos/${created.task_id}/0.mp4`,
      );
    } finally {
      await receiver.close();
    }
  });

  it('test_mode answers at once with the asked status, and creates nothing upstream', async () => {
    const receiver = await startReceiver();
    try {
      const { body: secret } = await stack.gql('{ webhookSecret }', {}, bearer(ALPHA_KEY));
      receiver.secret = secret.data.webhookSecret;
      const before = creates(await stack.upstream()).length;
      const test_mode = { enabled: true, return_task_status: 'TASK_STATUS_FAILED' };
      await post(body(53, { extra: { webhook: { url: `${receiver.url}/t`, test_mode } } }));
      const [delivery] = await receiver.until(1);
      expect(delivery?.verified).toBe(true);
      expect(delivery?.event.payload.task.status).toBe('TASK_STATUS_FAILED');
      expect(creates(await stack.upstream()).length).toBe(before);
    } finally {
      await receiver.close();
    }
  });
});

describe('extra.webhook, SSRF guard on', () => {
  let guarded: Stack;
  beforeAll(async () => {
    guarded = await startStack({ env: { GATEWAY_API_KEYS } });
  });
  afterAll(() => guarded?.stop());

  it('a loopback or metadata URL is a 400 naming extra.webhook, and nothing is created', async () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://169.254.169.254/latest/meta-data']) {
      const response = await fetch(`${guarded.gateway.url}/v3/async/wan-t2v`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(ALPHA_KEY) },
        body: JSON.stringify(body(54, { extra: { webhook: { url } } })),
      });
      expect(response.status).toBe(400);
      const answer = await response.json();
      expect(answer.reason).toBe('INVALID_REQUEST_BODY');
      expect(answer.message).toMatch(/webhook/);
      // The same issue shape as the door's own validation, named as in the seed's body.
      expect(answer.metadata.issues[0]).toMatchObject({ field: 'extra.webhook.url' });
    }
    expect(creates(await guarded.upstream())).toHaveLength(0);
  });
});
