/**
 * Signed webhooks to clients, over real parts: a gateway on the emulator, and a real `node:http`
 * receiver that verifies every delivery's Standard Webhooks signature with the secret read from
 * `webhookSecret`. Tries are paced by `retryScale` (1, 2, 4, 8 s become a few ms); nothing sleeps:
 * tests wait for the receiver's requests, or for the store to show a state.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { forbiddenAddress } from '../src/webhooks/ssrf.js';
import { freePort, startGatewayProcess, stopAllGatewayProcesses } from './support/a-process.js';
import { creates, type Stack, smallInput, startStack } from './support/stack.js';
import { type Receiver, startReceiver } from './support/webhook-receiver.js';

const KEY_A = 'client-key-alpha-0001';
const KEY_B = 'client-key-bravo-0002';
const AS_A = { authorization: `Bearer ${KEY_A}` };
const AS_B = { authorization: `Bearer ${KEY_B}` };

const GENERATE = /* GraphQL */ `
  mutation Generate($input: GenerateVideoInput!, $webhook: WebhookInput, $key: String) {
    generateVideo(input: $input, webhook: $webhook, idempotencyKey: $key) { id status }
  }
`;
const TASK = /* GraphQL */ `
  query Task($id: ID!) {
    videoTask(id: $id) {
      id status failureReason videos { url }
      webhook { url status test nextAttemptAt attempts { attempt at statusCode error durationMs } }
    }
  }
`;
const SECRET = /* GraphQL */ `{ webhookSecret }`;

/** Waits (on the store, through GraphQL) until the task's delivery is no longer PENDING. */
async function settled(stack: { gql: Stack['gql'] }, id: string, headers = AS_A) {
  return vi.waitFor(
    async () => {
      const { body } = await stack.gql(TASK, { id }, headers);
      const task = body.data?.videoTask;
      if (!task?.webhook || task.webhook.status === 'PENDING') throw new Error('still pending');
      return task;
    },
    { timeout: 30_000, interval: 50 },
  );
}

describe('signed webhooks to clients (WEBHOOK_ALLOW_PRIVATE=1 for the loopback receiver)', () => {
  let stack: Stack;
  let receiver: Receiver;
  let secretA: string;

  beforeAll(async () => {
    stack = await startStack({
      env: { GATEWAY_API_KEYS: `${KEY_A},${KEY_B}`, WEBHOOK_ALLOW_PRIVATE: '1' },
      gateway: { webhooks: { retryScale: 0.02 } },
    });
    const { body } = await stack.gql(SECRET, {}, AS_A);
    secretA = body.data.webhookSecret;
  });
  afterAll(async () => {
    await stack?.stop();
  });
  afterEach(async () => {
    await receiver?.close();
  });

  async function receiverFor(secret = secretA) {
    receiver = await startReceiver();
    receiver.secret = secret;
    return receiver;
  }

  it("one client's hanging receiver holds up no other client's delivery", async () => {
    const secretB = (await stack.gql(SECRET, {}, AS_B)).body.data.webhookSecret as string;
    await receiverFor();
    // Alpha's receiver never answers (the gateway gives each try 5 s); beta's answers at once.
    receiver.answer = (_index, request) =>
      request.url?.startsWith('/hang') ? { status: 0, hang: true } : { status: 204 };
    const hung = await stack.gql(
      GENERATE,
      { input: smallInput({ seed: 61 }), webhook: { url: `${receiver.url}/hang` } },
      AS_A,
    );
    expect(hung.body.errors).toBeUndefined();
    const [alpha] = await receiver.until(1);
    expect(alpha?.open).toBe(true);
    receiver.secret = secretB;
    const quick = await stack.gql(
      GENERATE,
      { input: smallInput({ seed: 62 }), webhook: { url: `${receiver.url}/quick` } },
      AS_B,
    );
    expect(quick.body.errors).toBeUndefined();
    const [, beta] = await receiver.until(2);
    expect(beta?.path).toBe('/quick');
    expect(beta?.verified, beta?.verifyError).toBe(true);
    // Beta's event came while alpha's try was still hanging: nothing waited for it.
    expect(alpha?.open).toBe(true);
  });

  it('a task with a webhook: one verified ASYNC_TASK_RESULT with the final status and the video link; the try is on the task', async () => {
    await receiverFor();
    const url = `${receiver.url}/hooks/wan?source=test`;
    const { body } = await stack.gql(GENERATE, { input: smallInput(), webhook: { url } }, AS_A);
    expect(body.errors).toBeUndefined();
    const id = body.data.generateVideo.id as string;

    const [delivery] = await receiver.until(1);
    expect(delivery?.verified, delivery?.verifyError).toBe(true);
    expect(delivery?.path).toBe('/hooks/wan?source=test');
    expect(delivery?.headers['webhook-id']).toBe(`msg_${id}_SUCCEEDED`);
    expect(delivery?.headers['content-type']).toBe('application/json');
    const event = delivery?.event;
    expect(event.event_type).toBe('ASYNC_TASK_RESULT');
    expect(event.payload.task).toMatchObject({
      task_id: id,
      task_type: 'WAN_TXT_TO_VIDEO',
      status: 'TASK_STATUS_SUCCEED',
      progress_percent: 100,
    });
    expect(event.payload.videos).toEqual([
      {
        video_url: `${stack.gateway.url}/videos/${id}/0.mp4`,
        video_url_ttl: '3600',
        video_type: 'mp4',
      },
    ]);
    expect(event.payload.extra.seed).toBe('7');

    const task = await settled(stack, id);
    expect(task.videos[0].url).toBe(event.payload.videos[0].video_url);
    expect(task.webhook).toMatchObject({
      url,
      status: 'DELIVERED',
      test: false,
      nextAttemptAt: null,
    });
    expect(task.webhook.attempts).toEqual([
      {
        attempt: 1,
        at: expect.any(String),
        statusCode: 204,
        error: null,
        durationMs: expect.any(Number),
      },
    ]);
    // The link in the event plays.
    const video = await fetch(event.payload.videos[0].video_url);
    expect(video.status).toBe(200);
    expect(video.headers.get('content-type')).toBe('video/mp4');
    await video.arrayBuffer();
    expect(receiver.received).toHaveLength(1);
  });

  it('a receiver that answers 500 twice, then 200: three tries, the same webhook-id and a signature that verifies on each, DELIVERED', async () => {
    await receiverFor();
    receiver.answer = (index) => ({ status: index < 2 ? 500 : 200 });
    const { body } = await stack.gql(
      GENERATE,
      { input: smallInput({ seed: 11 }), webhook: { url: `${receiver.url}/flaky` } },
      AS_A,
    );
    const id = body.data.generateVideo.id as string;
    const tries = await receiver.until(3);
    expect(tries.map((entry) => entry.verified)).toEqual([true, true, true]);
    expect(new Set(tries.map((entry) => entry.headers['webhook-id']))).toEqual(
      new Set([`msg_${id}_SUCCEEDED`]),
    );
    // The body is the same event each time; the timestamp (and so the signature) is each try's.
    expect(new Set(tries.map((entry) => entry.body)).size).toBe(1);
    const task = await settled(stack, id);
    expect(task.webhook.status).toBe('DELIVERED');
    expect(
      task.webhook.attempts.map((a: any) => [a.attempt, a.statusCode, a.error === null]),
    ).toEqual([
      [1, 500, false],
      [2, 500, false],
      [3, 200, true],
    ]);
    expect(task.webhook.attempts[0].error).toMatch(/HTTP 500/);
    expect(receiver.received).toHaveLength(3);
  });

  it('a receiver that redirects (302): never followed; every try fails and the delivery ends FAILED after 5', async () => {
    const target = await startReceiver();
    try {
      await receiverFor();
      receiver.answer = () => ({ status: 302, headers: { location: `${target.url}/elsewhere` } });
      const { body } = await stack.gql(
        GENERATE,
        { input: smallInput({ seed: 12 }), webhook: { url: `${receiver.url}/moved` } },
        AS_A,
      );
      const id = body.data.generateVideo.id as string;
      const task = await settled(stack, id);
      expect(task.webhook.status).toBe('FAILED');
      expect(task.webhook.attempts).toHaveLength(5);
      for (const attempt of task.webhook.attempts) {
        expect(attempt.statusCode).toBe(302);
        expect(attempt.error).toMatch(/redirects are not followed/);
      }
      expect(receiver.received).toHaveLength(5);
      expect(receiver.received.every((entry) => entry.verified)).toBe(true);
      expect(target.received).toHaveLength(0);
    } finally {
      await target.close();
    }
  });

  it.each([
    ['TASK_STATUS_SUCCEED', 'SUCCEEDED', 'SUCCEEDED'],
    ['TASK_STATUS_FAILED', 'FAILED', 'FAILED'],
  ] as const)(
    'test mode (%s): the event is delivered at once, with no upstream create',
    async (wire, graphqlStatus, taskStatus) => {
      await receiverFor();
      const before = creates(await stack.upstream()).length;
      const { body } = await stack.gql(
        GENERATE,
        {
          input: smallInput({ seed: 13 }),
          webhook: {
            url: `${receiver.url}/test`,
            testMode: { enabled: true, returnTaskStatus: graphqlStatus },
          },
        },
        AS_A,
      );
      expect(body.errors).toBeUndefined();
      expect(body.data.generateVideo.status).toBe(taskStatus);
      const id = body.data.generateVideo.id as string;
      const [delivery] = await receiver.until(1);
      expect(delivery?.verified, delivery?.verifyError).toBe(true);
      expect(delivery?.event.payload.task).toMatchObject({ task_id: id, status: wire });
      expect(delivery?.event.payload.videos).toEqual([]);
      expect(delivery?.headers['webhook-id']).toBe(`msg_${id}_${taskStatus}`);
      const task = await settled(stack, id);
      expect(task.webhook).toMatchObject({ status: 'DELIVERED', test: true });
      expect(creates(await stack.upstream())).toHaveLength(before);
    },
  );

  it("another client's task shows no webhook (NOT_FOUND), and each client has its own secret", async () => {
    await receiverFor();
    const { body } = await stack.gql(
      GENERATE,
      {
        input: smallInput({ seed: 14 }),
        webhook: { url: `${receiver.url}/a`, testMode: { enabled: true } },
      },
      AS_A,
    );
    const id = body.data.generateVideo.id as string;
    await receiver.until(1);
    const asB = await stack.gql(TASK, { id }, AS_B);
    expect(asB.body.data?.videoTask ?? null).toBeNull();
    expect(asB.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(JSON.stringify(asB.body)).not.toContain(receiver.url);

    const secretB = (await stack.gql(SECRET, {}, AS_B)).body.data.webhookSecret as string;
    expect(secretB).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(secretA).toMatch(/^whsec_/);
    expect(secretB).not.toBe(secretA);
    expect((await stack.gql(SECRET, {}, AS_A)).body.data.webhookSecret).toBe(secretA);
    // A's event does not verify with B's secret.
    const received = receiver.received[0];
    expect(received?.verified).toBe(true);
    expect(() =>
      new Webhook(secretB).verify(received?.body ?? '', received?.headers ?? {}),
    ).toThrow();
    // Without a key there is no secret to read.
    const anonymous = await stack.gql(SECRET, {});
    expect(anonymous.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('the SSRF guard (WEBHOOK_ALLOW_PRIVATE off)', () => {
  let stack: Stack;
  let receiver: Receiver;
  /** Host names the test controls: `answers` says what each resolves to on each lookup. */
  const answers = new Map<string, string[]>();
  const lookups = new Map<string, number>();

  beforeAll(async () => {
    receiver = await startReceiver();
    stack = await startStack({
      gateway: {
        webhooks: {
          retryScale: 0.02,
          resolve: async (hostname) => {
            const list = answers.get(hostname);
            if (!list) {
              const { lookup } = await import('node:dns/promises');
              return (await lookup(hostname, { all: true })).map((entry) => ({
                address: entry.address,
                family: entry.family === 6 ? 6 : 4,
              }));
            }
            const n = lookups.get(hostname) ?? 0;
            lookups.set(hostname, n + 1);
            const address = list[Math.min(n, list.length - 1)] as string;
            return [{ address, family: address.includes(':') ? 6 : 4 }];
          },
        },
      },
    });
    receiver.secret = (await stack.gql(SECRET)).body.data.webhookSecret;
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver?.close();
  });

  it.each([
    ['loopback IPv4', 'http://127.0.0.1:8080/hook', /loopback/],
    ['loopback IPv6', 'http://[::1]:8080/hook', /loopback/],
    ['localhost', 'http://localhost:8080/hook', /loopback/],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/hook', /loopback/],
    ['private 10/8', 'http://10.0.0.1/hook', /private/],
    ['private 192.168/16', 'https://192.168.1.1/hook', /private/],
    ['private 172.16/12', 'http://172.20.0.5/hook', /private/],
    ['CGNAT', 'http://100.64.0.1/hook', /private/],
    ['metadata', 'http://169.254.169.254/latest/meta-data/', /metadata/],
    ['metadata by name', 'http://metadata.google.internal/computeMetadata/v1/', /metadata/],
    ['link-local IPv6', 'http://[fe80::1]/hook', /link-local/],
    ['unspecified', 'http://0.0.0.0:8080/hook', /unspecified/],
    ['a decimal IP for loopback', 'http://2130706433/hook', /loopback/],
    [
      'a name resolving to loopback',
      'http://loopback.example.test/hook',
      /loopback\.example\.test resolves to 127\.0\.0\.1/,
    ],
    ['file: scheme', 'file:///etc/passwd', /http or https/],
    ['ftp: scheme', 'ftp://example.com/hook', /http or https/],
    ['not a URL', 'hook me', /not a URL/],
    ['credentials in the URL', 'https://user:pass@example.com/hook', /user name or password/],
  ])('refuses %s with BAD_USER_INPUT naming webhook.url', async (_name, url, message) => {
    answers.set('loopback.example.test', ['127.0.0.1']);
    const before = creates(await stack.upstream()).length;
    const { body } = await stack.gql(GENERATE, { input: smallInput(), webhook: { url } });
    expect(body.data?.generateVideo ?? null).toBeNull();
    const error = body.errors?.[0];
    expect(error?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error?.extensions?.issues).toEqual([
      { path: ['webhook', 'url'], message: expect.stringMatching(message), rule: 'format' },
    ]);
    expect(error?.message).toMatch(/webhook\.url/);
    expect(creates(await stack.upstream())).toHaveLength(before);
  });

  it('a name that resolved to a public address at create time and to loopback at delivery (DNS rebinding): a failed try with the reason, nothing sent', async () => {
    // 93.184.216.34 is public: the create passes; every later lookup answers 127.0.0.1.
    answers.set('rebind.example.test', ['93.184.216.34', '127.0.0.1']);
    lookups.delete('rebind.example.test');
    const url = `http://rebind.example.test:${receiver.port}/hook`;
    const { body } = await stack.gql(GENERATE, {
      input: smallInput({ seed: 21 }),
      webhook: { url, testMode: { enabled: true } },
    });
    expect(body.errors).toBeUndefined();
    const id = body.data.generateVideo.id as string;
    const task = await settled(stack, id, {} as typeof AS_A);
    expect(task.webhook.status).toBe('FAILED');
    expect(task.webhook.attempts).toHaveLength(5);
    for (const attempt of task.webhook.attempts) {
      expect(attempt.statusCode).toBeNull();
      expect(attempt.error).toMatch(
        /refused: .*loopback.*rebind\.example\.test resolves to 127\.0\.0\.1/,
      );
    }
    expect(receiver.received).toHaveLength(0);
  });

  it('the guard function: every address in a forbidden range is refused, public ones pass (fast-check)', () => {
    const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
    const toInt = (ip: string) =>
      ip.split('.').reduce((sum, part) => sum * 256 + Number(part), 0) >>> 0;
    /** The ranges the brief names, and the reserved ones, as integers: the spec, written apart. */
    const FORBIDDEN_V4: [string, number][] = [
      ['0.0.0.0', 8],
      ['10.0.0.0', 8],
      ['100.64.0.0', 10],
      ['127.0.0.0', 8],
      ['169.254.0.0', 16],
      ['172.16.0.0', 12],
      ['192.0.0.0', 24],
      ['192.0.2.0', 24],
      ['192.88.99.0', 24],
      ['192.168.0.0', 16],
      ['198.18.0.0', 15],
      ['198.51.100.0', 24],
      ['203.0.113.0', 24],
      ['224.0.0.0', 4],
      ['240.0.0.0', 4],
    ];
    const inRange = (n: number, [base, prefix]: [string, number]) =>
      prefix === 0 || n >>> (32 - prefix) === toInt(base) >>> (32 - prefix);
    const forbiddenByTheSpec = (n: number) => FORBIDDEN_V4.some((range) => inRange(n, range));

    // Any IPv4 address: refused exactly when the spec says so; IPv4-mapped IPv6 the same.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (n) => {
        const refused = forbiddenAddress(v4(n)) !== undefined;
        expect(refused).toBe(forbiddenByTheSpec(n));
        expect(forbiddenAddress(`::ffff:${v4(n)}`) !== undefined).toBe(refused);
      }),
      { numRuns: 5000 },
    );
    // Addresses drawn inside each forbidden range: always refused.
    fc.assert(
      fc.property(
        fc.constantFrom(...FORBIDDEN_V4),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        ([base, prefix], noise) => {
          const mask = prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
          const n = ((toInt(base) & mask) | (noise & ~mask)) >>> 0;
          expect(forbiddenAddress(v4(n))).toBeDefined();
        },
      ),
    );
    // Private and loopback pass with WEBHOOK_ALLOW_PRIVATE; metadata and link-local never do.
    expect(forbiddenAddress('10.1.2.3', { allowPrivate: true })).toBeUndefined();
    expect(forbiddenAddress('127.0.0.1', { allowPrivate: true })).toBeUndefined();
    expect(forbiddenAddress('::1', { allowPrivate: true })).toBeUndefined();
    expect(forbiddenAddress('169.254.169.254', { allowPrivate: true })).toBe('metadata');
    expect(forbiddenAddress('fd00:ec2::254', { allowPrivate: true })).toBe('metadata');
    expect(forbiddenAddress('169.254.10.10', { allowPrivate: true })).toBe('link-local');

    const hex = fc.integer({ min: 0, max: 0xffff }).map((word) => word.toString(16));
    const words = (n: number) => fc.array(hex, { minLength: n, maxLength: n });
    // IPv6 in fc00::/7, fe80::/10 and ff00::/8: refused.
    fc.assert(
      fc.property(
        fc.constantFrom([0xfc00, 0xfe00], [0xfe80, 0xffc0], [0xff00, 0xff00]),
        fc.integer({ min: 0, max: 0xffff }),
        words(7),
        ([base, mask], first, rest) => {
          const head = ((base & mask) | (first & ~mask & 0xffff)).toString(16);
          expect(forbiddenAddress([head, ...rest].join(':'))).toBeDefined();
        },
      ),
    );
    // Global unicast 2000::/3 (but documentation 2001:db8::/32 and 6to4 2002::/16): allowed.
    fc.assert(
      fc.property(fc.integer({ min: 0x2000, max: 0x3fff }), words(7), (first, rest) => {
        fc.pre(first !== 0x2002 && !(first === 0x2001 && rest[0] === 'db8'));
        expect(forbiddenAddress([first.toString(16), ...rest].join(':'))).toBeUndefined();
      }),
    );
    // IPv4 public addresses in IPv6 forms (mapped, NAT64, 6to4) pass; forbidden ones do not.
    expect(forbiddenAddress('::ffff:8.8.8.8')).toBeUndefined();
    expect(forbiddenAddress('64:ff9b::7f00:1')).toBe('loopback');
    expect(forbiddenAddress('2002:a9fe:a9fe::1')).toBe('metadata');
    expect(forbiddenAddress('not-an-ip')).toBe('reserved');
  });
});

describe('at least once across a SIGKILL', () => {
  let dir: string;
  let receiver: Receiver | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wan-client-webhooks-'));
  });
  afterAll(async () => {
    await stopAllGatewayProcesses();
    await receiver?.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  });

  it('killed while the delivery is pending (receiver down), started again: the event arrives, verified, with the same webhook-id', async () => {
    const port = await freePort();
    const hookPort = await freePort(); // nothing listens there yet: every try is refused
    const env = {
      DATABASE_PATH: join(dir, 'db.sqlite'),
      EMULATOR_TIME_SCALE: '20',
      WEBHOOK_ALLOW_PRIVATE: '1',
      LOG_LEVEL: 'info',
    };
    const gql = async (url: string, query: string, variables: Record<string, unknown> = {}) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, body: (await response.json()) as any };
    };
    const first = await startGatewayProcess(port, env);
    const secret = (await gql(first.graphqlUrl, SECRET)).body.data.webhookSecret as string;
    const { body } = await gql(first.graphqlUrl, GENERATE, {
      input: smallInput({ seed: 31 }),
      webhook: { url: `http://127.0.0.1:${hookPort}/after-crash` },
    });
    expect(body.errors).toBeUndefined();
    const id = body.data.generateVideo.id as string;
    // The task ends and the first try fails (connection refused): the delivery is pending.
    const pending = await vi.waitFor(
      async () => {
        const task = (await gql(first.graphqlUrl, TASK, { id })).body.data.videoTask;
        if (!(task.webhook.attempts.length >= 1)) throw new Error('no try yet');
        return task;
      },
      { timeout: 30_000, interval: 50 },
    );
    expect(pending.status).toBe('SUCCEEDED');
    expect(pending.webhook.status).toBe('PENDING');
    expect(pending.webhook.attempts[0].error).toMatch(/ECONNREFUSED/);
    const exit = await first.kill('SIGKILL');
    expect(exit.signal).toBe('SIGKILL');

    receiver = await startReceiver(hookPort);
    receiver.secret = secret;
    const second = await startGatewayProcess(port, env);
    // The master secret was kept in the store: the client's secret is the same after the restart.
    expect((await gql(second.graphqlUrl, SECRET)).body.data.webhookSecret).toBe(secret);
    const [delivery] = await receiver.until(1);
    expect(delivery?.verified, delivery?.verifyError).toBe(true);
    expect(delivery?.headers['webhook-id']).toBe(`msg_${id}_SUCCEEDED`);
    expect(delivery?.event.payload.task).toMatchObject({
      task_id: id,
      status: 'TASK_STATUS_SUCCEED',
    });
    expect(delivery?.event.payload.videos[0].video_url).toBe(
      `http://127.0.0.1:${port}/videos/${id}/0.mp4`,
    );
    const task = await settled({ gql: (q, v) => gql(second.graphqlUrl, q, v) }, id);
    expect(task.webhook.status).toBe('DELIVERED');
    expect(task.webhook.attempts.at(-1)).toMatchObject({ statusCode: 204, error: null });
    expect(task.webhook.attempts.length).toBeGreaterThanOrEqual(2);
    // The client's secret is in no log line.
    expect(second.stdout.join('\n')).not.toContain(secret.slice(6));
    await second.kill('SIGTERM');
  });
});
