/**
 * Clients' signed webhooks: URLs aimed at the gateway's own network (the SSRF guard), receivers
 * that hang, fail, close, redirect or answer with a huge body slowly (the outbox), a SIGKILL with
 * a try in flight (at least once), and the secrets that sign them (the master secret and each
 * client's) searched for everywhere they must not be.
 *
 * Signatures are checked here by hand, per Standard Webhooks (HMAC-SHA256 over
 * `id.timestamp.body` with the base64 key after `whsec_`): `standardwebhooks` is the gateway's
 * dependency, not this package's, and a check written apart from the signer is the stronger one.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { runGatewayToExit } from '@wan-video/test-utils/gateway-process';
import { type Attack, ledger, outcome } from '../attack.js';
import { type Stack, withStack } from '../stack.js';
import { CREATE_PATH, isSeedError, RESULT_PATH, rest, wireBody } from './doors.js';
import { mb, rss, smallInput, Transcript, tally, until } from './resources.js';
import { bearer } from './tenancy.js';

const hex = () => randomBytes(12).toString('hex');

const GENERATE_HOOKED = `mutation($input: GenerateVideoInput!, $webhook: WebhookInput) {
  generateVideo(input: $input, webhook: $webhook) { id }
}`;
const DELIVERY = `query($id: ID!) { videoTask(id: $id) { id status webhook {
  url status nextAttemptAt attempts { attempt at statusCode error }
} } }`;
const SECRET = '{ webhookSecret }';

/** The gateway's retry plan (README: 5 tries, 1, 2, 4 and 8 s apart, 5 s to answer each). */
const MAX_TRIES = 5;
const BACKOFF_MS = [1000, 2000, 4000, 8000];
const TRY_TIMEOUT_MS = 5000;

// ssrf -----------------------------------------------------------------------------------------

/** URLs that reach the gateway's own network, or are not http(s): each must be refused. */
function guardedUrls(): Record<string, string> {
  return {
    loopback: 'http://127.0.0.1:4000/hook',
    'loopback, elsewhere in 127/8': 'http://127.8.9.10/hook',
    'loopback, short form': 'http://127.1/hook',
    'loopback, decimal': 'http://2130706433/hook',
    'loopback, hex': 'http://0x7f000001/hook',
    'loopback, octal': 'http://0177.0.0.1/hook',
    localhost: 'http://localhost:4000/hook',
    'localhost, upper case and a dot': 'http://LOCALHOST./hook',
    "this machine's host name (in /etc/hosts)": `http://${hostname()}/hook`,
    'IPv6 loopback': 'http://[::1]:4000/hook',
    'IPv4-mapped loopback': 'http://[::ffff:127.0.0.1]/hook',
    'IPv4-mapped loopback, hex': 'http://[::ffff:7f00:1]/hook',
    'NAT64 loopback': 'http://[64:ff9b::7f00:1]/hook',
    '6to4 loopback': 'http://[2002:7f00:1::]/hook',
    'unspecified 0.0.0.0': 'http://0.0.0.0:4000/hook',
    'unspecified 0': 'http://0/hook',
    'unspecified ::': 'http://[::]/hook',
    'private 10/8': 'http://10.0.0.1/hook',
    'private 172.16/12': 'http://172.16.5.4/hook',
    'private 192.168/16': 'http://192.168.1.1/hook',
    'CGNAT 100.64/10': 'http://100.64.0.1/hook',
    'unique local fc00::/7': 'http://[fd00::2]/hook',
    'link-local 169.254/16': 'http://169.254.10.10/hook',
    'link-local fe80::/10': 'http://[fe80::1]/hook',
    'metadata 169.254.169.254': 'http://169.254.169.254/latest/meta-data/',
    'metadata, decimal': 'http://2852039166/latest/meta-data/',
    'metadata, IPv4-mapped': 'http://[::ffff:169.254.169.254]/latest/',
    'metadata fd00:ec2::254': 'http://[fd00:ec2::254]/latest/',
    'metadata.google.internal': 'http://metadata.google.internal/computeMetadata/v1/',
    'Alibaba metadata 100.100.100.200': 'http://100.100.100.200/latest/',
    multicast: 'http://224.0.0.1/hook',
    broadcast: 'http://255.255.255.255/hook',
    "TEST-NET (this machine's own eth0 range)": 'http://192.0.2.2/hook',
    'a name that does not resolve': `http://wan-video-${hex()}.invalid/hook`,
    'a nip.io name for 127.0.0.1 (no DNS here: unresolvable)': 'http://127.0.0.1.nip.io/hook',
    'file:': 'file:///etc/passwd',
    'gopher:': 'gopher://127.0.0.1:6379/_INFO',
    'ftp:': 'ftp://10.0.0.1/',
    'data:': 'data:text/plain,hello',
    'javascript:': 'javascript:alert(1)',
    'a user and password': 'http://user:pass@127.0.0.1/hook',
    'not a URL': 'not a url',
    'an empty URL': '',
  };
}

/** Whether an issue list names the webhook's URL (as `path` or `field`). */
const namesWebhookUrl = (issues: unknown) =>
  Array.isArray(issues) &&
  issues.some((issue) => {
    const where = Array.isArray(issue?.path) ? issue.path.join('.') : String(issue?.field ?? '');
    return where.includes('webhook') && where.endsWith('url');
  });

/** How a REST refusal names the webhook: `field: extra.webhook.url` (core's) or `path: webhook.url`. */
const issueShape = (issues: unknown) =>
  Array.isArray(issues)
    ? issues
        .map((issue) =>
          Array.isArray(issue?.path) ? `path ${issue.path.join('.')}` : `field ${issue?.field}`,
        )
        .join(' + ')
    : 'none';

const webhookSsrf: Attack = {
  id: 'webhook-ssrf',
  title: 'Webhook URLs aimed at the gateway’s own network (SSRF), over GraphQL and REST',
  expected:
    'with the guard on (WEBHOOK_ALLOW_PRIVATE unset): loopback (any spelling: 127/8, decimal, hex, octal, localhost, this host name, [::1], IPv4-mapped, NAT64, 6to4), unspecified, private, CGNAT, link-local, multicast, reserved, cloud metadata (IPv4, IPv6, names), unresolvable names and non-http(s) URLs are refused: generateVideo with BAD_USER_INPUT at [webhook, url], REST extra.webhook.url with 400 INVALID_REQUEST_BODY naming it; nothing is made (0 rows, 0 upstream creates) while a public URL is taken (test mode: no upstream create); no 5xx. A DNS answer that changes between the check and the delivery cannot be made here (no DNS server of ours, /etc/hosts not ours to change): not tested',
  fast: true,
  async run() {
    return withStack({}, async (stack) => {
      const t = new Transcript();
      const urls = guardedUrls();
      const wrong: string[] = [];
      const graphqlGot: string[] = [];
      const restGot: string[] = [];
      const restShapes: string[] = [];
      for (const [name, url] of Object.entries(urls)) {
        const answer = await t.gql(stack.gateway.graphqlUrl, GENERATE_HOOKED, {
          input: smallInput({ seed: 600 }),
          webhook: { url },
        });
        const error = answer.json?.errors?.[0];
        const code = error?.extensions?.code;
        graphqlGot.push(code ?? `${answer.status}`);
        if (
          answer.json?.data?.generateVideo ||
          code !== 'BAD_USER_INPUT' ||
          !namesWebhookUrl(error?.extensions?.issues)
        ) {
          wrong.push(`GraphQL ${name}: ${answer.body.slice(0, 160)}`);
        }
        const viaRest = await rest(
          t,
          stack,
          'POST',
          CREATE_PATH,
          {},
          wireBody({ seed: 601, extra: { webhook: { url } } }),
        );
        restGot.push(`${viaRest.status}`);
        restShapes.push(issueShape(viaRest.json?.metadata?.issues));
        if (
          !isSeedError(viaRest.json, 400, 'INVALID_REQUEST_BODY') ||
          !namesWebhookUrl(viaRest.json?.metadata?.issues)
        ) {
          wrong.push(`REST ${name}: ${viaRest.status} ${viaRest.body.slice(0, 160)}`);
        }
      }
      const refusedRows = stack.rows().length;
      // The control: a public address is taken (test mode: the task ends at once, nothing paid).
      const publicUrl = 'http://93.184.216.34/hook';
      const control = await t.gql(stack.gateway.graphqlUrl, GENERATE_HOOKED, {
        input: smallInput({ seed: 602 }),
        webhook: { url: publicUrl, testMode: { enabled: true } },
      });
      const controlRest = await rest(
        t,
        stack,
        'POST',
        CREATE_PATH,
        {},
        wireBody({
          seed: 603,
          extra: { webhook: { url: publicUrl, test_mode: { enabled: true } } },
        }),
      );
      const made = [control.json?.data?.generateVideo?.id, controlRest.json?.task_id].filter(
        (id): id is string => typeof id === 'string',
      );
      if (made.length !== 2) {
        wrong.push(
          `a public URL: ${control.body.slice(0, 120)} / ${controlRest.body.slice(0, 120)}`,
        );
      }
      const creates = stack.emulator
        .requests()
        .filter((entry) => entry.method === 'POST' && entry.path.endsWith('/wan-t2v')).length;
      const books = await ledger(stack, made);
      const n = Object.keys(urls).length;
      return outcome(
        wrong.length === 0 && refusedRows === 0 && creates === 0,
        `${n} URLs: GraphQL ${tally(graphqlGot)}, REST ${tally(restGot)} (issues as ${tally(restShapes)}); made by them: ${refusedRows} rows; a public URL (test mode) taken over ${made.length}/2 doors; ${creates} upstream creates in all. DNS rebinding: not producible here (no DNS server of ours), the names that resolve to loopback through /etc/hosts were refused${wrong.length ? `; not as expected: ${wrong.slice(0, 4).join('; ')}` : ''}`,
        { cases: n * 2 + 2, http500: t.http500, leaks: t.leaks(stack), ...books },
      );
    });
  },
};

// delivery faults ------------------------------------------------------------------------------

/** One request the receiver got. */
interface Arrival {
  readonly path: string;
  readonly at: number;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** How each receiver path behaves. */
type Behaviour = 'ok' | 'hang' | 'error' | 'close' | 'redirect' | 'huge' | 'flaky' | 'hold-first';

/**
 * A webhook receiver on loopback: each path behaves as its first segment says; every request is
 * kept, and the bytes the `huge` answers managed to send are counted.
 */
async function startReceiver() {
  const arrivals: Arrival[] = [];
  const held: ServerResponse[] = [];
  let hugeBytes = 0;
  let url = '';
  const behave = (behaviour: Behaviour, req: IncomingMessage, res: ServerResponse, n: number) => {
    switch (behaviour) {
      case 'ok':
        res.writeHead(204).end();
        return;
      case 'hang':
        held.push(res);
        return;
      case 'error':
        res.writeHead(500, { 'content-type': 'text/plain' }).end('no');
        return;
      case 'close':
        req.socket.destroy();
        return;
      case 'redirect':
        res.writeHead(302, { location: `${url}/ok/redirected` }).end();
        return;
      case 'flaky':
        if (n <= 2) res.writeHead(503).end();
        else res.writeHead(200).end('ok');
        return;
      case 'hold-first':
        if (n === 1) held.push(res);
        else res.writeHead(204).end();
        return;
      case 'huge': {
        // 200 at once, then a body of up to 256 MB, 64 KB at a time, as fast as it is taken.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 120);
        let left = 4096;
        const pump = () => {
          while (left > 0 && !res.destroyed) {
            left -= 1;
            hugeBytes += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', () => setTimeout(pump, 20));
              return;
            }
          }
          if (!res.destroyed) res.end();
        };
        pump();
        return;
      }
    }
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      arrivals.push({
        path,
        at: Date.now(),
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      const behaviour = (path.split('/')[1] ?? 'ok') as Behaviour;
      behave(behaviour, req, res, arrivals.filter((arrival) => arrival.path === path).length);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no receiver address');
  url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    arrivals,
    at: (path: string) => arrivals.filter((arrival) => arrival.path === path),
    hugeBytes: () => hugeBytes,
    async close() {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Whether a request's Standard Webhooks signature is `secret`'s. */
export function signedWith(arrival: Arrival, secret: string): boolean {
  const id = String(arrival.headers['webhook-id'] ?? '');
  const timestamp = String(arrival.headers['webhook-timestamp'] ?? '');
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${arrival.body}`).digest('base64')}`;
  const given = String(arrival.headers['webhook-signature'] ?? '').split(' ');
  const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
  return fresh && given.includes(expected);
}

/** One receiver case: its path, its task, and what its tries must come to. */
interface Case {
  readonly behaviour: Behaviour;
  readonly path: string;
  id?: string | undefined;
}

/** The task's delivery, as its owner reads it. */
async function deliveryOf(stack: Stack, t: Transcript, id: string, key: string) {
  const answer = await t.gql(stack.gateway.graphqlUrl, DELIVERY, { id }, bearer(key));
  return answer.json?.data?.videoTask?.webhook as
    | {
        status: string;
        attempts: { attempt: number; statusCode: number | null; error: string | null }[];
      }
    | undefined;
}

/** Creates a task of `key`'s with a webhook to `url` (over REST when `viaRest`). */
async function hookedTask(
  stack: Stack,
  t: Transcript,
  key: string,
  url: string,
  seed: number,
  viaRest = false,
): Promise<string | undefined> {
  if (viaRest) {
    const answer = await rest(
      t,
      stack,
      'POST',
      CREATE_PATH,
      bearer(key),
      wireBody({ seed, steps: 3, extra: { webhook: { url } } }),
    );
    return answer.json?.task_id;
  }
  const answer = await t.gql(
    stack.gateway.graphqlUrl,
    GENERATE_HOOKED,
    { input: smallInput({ seed, steps: 3 }), webhook: { url } },
    bearer(key),
  );
  return answer.json?.data?.generateVideo?.id;
}

/** The gaps between successive arrivals, in ms. */
const gapsOf = (arrivals: readonly Arrival[]) =>
  arrivals.slice(1).map((arrival, i) => arrival.at - (arrivals[i] as Arrival).at);

const webhookDeliveryFaults: Attack = {
  id: 'webhook-delivery-faults',
  title:
    'Webhook receivers that hang, fail, close, redirect or answer a huge body slowly; a SIGKILL mid-try',
  expected:
    "WEBHOOK_ALLOW_PRIVATE=1, a receiver on loopback: a receiver that hangs, answers 500 or closes the connection gets 5 tries at most (full scale: exactly 5, then FAILED; fast: the first 2, and no hanging receiver), spaced by the 5 s timeout and 1, 2, 4, 8 s of backoff; a redirect is a failed try, never followed; a 200 with a 256 MB body is delivered at once, the body read no further than a few MB, RSS bounded (< 64 MB more); a receiver failing twice gets the event on the third try; a try cut by a gateway SIGKILL is made again after the restart (at least once); every try carries the same webhook-id (msg_<task>_<status>), verifies against its owner's webhookSecret (and not another client's), and holds the task's ASYNC_TASK_RESULT event; GraphQL and REST webhooks alike; no 5xx",
  fast: true,
  async run(scale) {
    const alpha = `hooks-alpha-${hex()}`;
    const beta = `hooks-beta-${hex()}`;
    const receiver = await startReceiver();
    try {
      return await withStack(
        {
          env: {
            GATEWAY_API_KEYS: `${alpha},${beta}`,
            WEBHOOK_ALLOW_PRIVATE: '1',
            WEBHOOK_SIGNING_SECRET: `master-${hex()}${hex()}`,
          },
        },
        async (stack) => {
          const t = new Transcript();
          const breaches: string[] = [];
          const secretOf = async (key: string) =>
            (await t.gql(stack.gateway.graphqlUrl, SECRET, {}, bearer(key))).json?.data
              ?.webhookSecret as string;
          const alphaSecret = await secretOf(alpha);
          const betaSecret = await secretOf(beta);
          // First alone: a try in flight when the gateway is SIGKILLed.
          const killCase: Case = { behaviour: 'hold-first', path: '/hold-first/kill' };
          killCase.id = await hookedTask(stack, t, alpha, `${receiver.url}${killCase.path}`, 700);
          await until(() => receiver.at(killCase.path).length >= 1, 60_000);
          const heldAt = receiver.at(killCase.path).length;
          await stack.restart('SIGKILL');
          await until(() => receiver.at(killCase.path).length >= 2, 30_000);
          const killTries = receiver.at(killCase.path).length;
          if (heldAt !== 1 || killTries < 2) {
            breaches.push(`SIGKILL mid-try: ${heldAt} tries before, ${killTries} in all`);
          }
          // Then the faulty receivers, all at once.
          const cases: Case[] = [
            { behaviour: 'ok', path: '/ok/graphql' },
            { behaviour: 'ok', path: '/ok/rest' },
            // Fast: no hanging receiver (each of its tries holds the dispatcher's batch for 5 s).
            ...(scale === 'full' ? [{ behaviour: 'hang', path: '/hang/1' } as const] : []),
            { behaviour: 'error', path: '/error/1' },
            { behaviour: 'close', path: '/close/1' },
            { behaviour: 'redirect', path: '/redirect/1' },
            { behaviour: 'huge', path: '/huge/1' },
            { behaviour: 'flaky', path: '/flaky/1' },
          ];
          const before = rss(stack);
          let peak = before;
          const sampler = setInterval(() => {
            peak = Math.max(peak, rss(stack));
          }, 100);
          for (const [i, c] of cases.entries()) {
            c.id = await hookedTask(
              stack,
              t,
              alpha,
              `${receiver.url}${c.path}`,
              710 + i,
              c.path === '/ok/rest',
            );
            if (!c.id) breaches.push(`${c.path}: no task`);
          }
          const failing = new Set<Behaviour>(['hang', 'error', 'close', 'redirect']);
          const wanted = () => (scale === 'full' ? MAX_TRIES : 2);
          const settled = (c: Case) =>
            failing.has(c.behaviour)
              ? receiver.at(c.path).length >= wanted()
              : receiver.at(c.path).length >= (c.behaviour === 'flaky' ? 3 : 1);
          // Full scale: every failing one ends FAILED in the gateway's own record, too.
          const recorded = new Map<string, string>();
          await until(
            async () => {
              if (!cases.every(settled)) return false;
              if (scale !== 'full') return true;
              for (const c of cases) {
                const delivery = c.id ? await deliveryOf(stack, t, c.id, alpha) : undefined;
                recorded.set(c.path, delivery?.status ?? 'none');
              }
              return cases.every((c) =>
                ['DELIVERED', 'FAILED'].includes(recorded.get(c.path) ?? ''),
              );
            },
            120_000,
            250,
          );
          clearInterval(sampler);
          // Each case's tries.
          const figures: string[] = [];
          for (const c of cases) {
            const tries = receiver.at(c.path);
            const gaps = gapsOf(tries);
            figures.push(
              `${c.path.split('/')[1]}${c.path === '/ok/rest' ? ' (REST)' : ''} ${tries.length}`,
            );
            if (failing.has(c.behaviour)) {
              if (tries.length < wanted() || tries.length > MAX_TRIES) {
                breaches.push(`${c.path}: ${tries.length} tries`);
              }
              const floor = (i: number) =>
                (BACKOFF_MS[i] ?? 8000) * 0.9 + (c.behaviour === 'hang' ? TRY_TIMEOUT_MS * 0.9 : 0);
              const early = gaps.filter((gap, i) => gap < floor(i));
              if (early.length) breaches.push(`${c.path}: tries ${gaps.join(', ')} ms apart`);
              if (scale === 'full' && recorded.get(c.path) !== 'FAILED') {
                breaches.push(`${c.path}: recorded ${recorded.get(c.path)}`);
              }
            } else if (c.behaviour === 'flaky') {
              if (tries.length !== 3) breaches.push(`${c.path}: ${tries.length} tries`);
            } else if (tries.length !== 1) {
              breaches.push(`${c.path}: ${tries.length} tries`);
            }
          }
          const followed = receiver.at('/ok/redirected').length;
          if (followed) breaches.push(`the redirect was followed ${followed} times`);
          const hugeBytes = receiver.hugeBytes();
          if (hugeBytes > 16 * 2 ** 20)
            breaches.push(`the huge body was read to ${mb(hugeBytes)} MB`);
          const grew = peak - before;
          if (grew > 64 * 2 ** 20) breaches.push(`RSS grew ${mb(grew)} MB`);
          // Every try: signed by alpha's secret alone, one webhook-id per task, the task's event.
          const all = [killCase, ...cases];
          let verified = 0;
          let otherVerified = 0;
          const ids = new Map<string, Set<string>>();
          for (const c of all) {
            for (const arrival of receiver.at(c.path)) {
              if (signedWith(arrival, alphaSecret)) verified += 1;
              if (signedWith(arrival, betaSecret)) otherVerified += 1;
              const seen = ids.get(c.path) ?? new Set();
              seen.add(String(arrival.headers['webhook-id']));
              ids.set(c.path, seen);
              let event: any;
              try {
                event = JSON.parse(arrival.body);
              } catch {
                event = undefined;
              }
              if (
                event?.event_type !== 'ASYNC_TASK_RESULT' ||
                event?.payload?.task?.task_id !== c.id
              ) {
                breaches.push(`${c.path}: an event ${arrival.body.slice(0, 80)}`);
              }
            }
          }
          const arrivals = all.reduce((sum, c) => sum + receiver.at(c.path).length, 0);
          if (verified !== arrivals)
            breaches.push(`${arrivals - verified} tries not signed with the owner's secret`);
          if (otherVerified)
            breaches.push(`${otherVerified} tries verified with another client's secret`);
          const unstable = all.filter(
            (c) =>
              (ids.get(c.path)?.size ?? 0) !== 1 ||
              ![...(ids.get(c.path) ?? [])][0]?.startsWith(`msg_${c.id}_`),
          );
          if (unstable.length) {
            breaches.push(
              `webhook-ids: ${unstable.map((c) => `${c.path} ${[...(ids.get(c.path) ?? [])].join(',')}`).join('; ')}`,
            );
          }
          const made = all.flatMap((c) => (c.id ? [c.id] : []));
          const books = await ledger(stack, made);
          return outcome(
            breaches.length === 0,
            `tries per receiver: SIGKILL mid-try ${killTries} (1 cut by the kill, then again after the restart), ${figures.join(', ')}${scale === 'full' ? `; recorded ${tally([...recorded.values()])}` : ''}; tries of the 500 receiver ${gapsOf(receiver.at('/error/1')).join(', ')} ms apart, ${scale === 'full' ? `of the hanging one ${gapsOf(receiver.at('/hang/1')).join(', ')} ms` : 'no hanging receiver in the fast set'}; the redirect followed ${followed} times; the huge body sent to ${Math.round(hugeBytes / 1024)} KB of 256 MB before the gateway hung up; RSS ${mb(before)} → ${mb(peak)} MB; ${verified}/${arrivals} tries verified with the owner's secret, ${otherVerified} with another client's; one webhook-id per task for ${all.length - unstable.length}/${all.length}${breaches.length ? `; not as expected: ${breaches.slice(0, 5).join('; ')}` : ''}`,
            { cases: arrivals, http500: t.http500, leaks: t.leaks(stack), ...books },
          );
        },
      );
    } finally {
      await receiver.close();
    }
  },
};

// receiver isolation ---------------------------------------------------------------------------

const webhookReceiverIsolation: Attack = {
  id: 'webhook-receiver-isolation',
  title: 'One client’s hanging webhook receiver against everyone else’s deliveries',
  expected:
    "alpha's receiver hangs (each try waits out the 5 s timeout); meanwhile beta's receiver that answers 500 gets its tries 1, 2, 4 and 8 s apart as documented (each gap within 1.5 s of its backoff), and beta's tasks that end while a hanging try is in flight are delivered within 1.5 s of their task's end: a slow receiver holds up no one else's events; no 5xx",
  fast: false,
  async run() {
    const alpha = `iso-alpha-${hex()}`;
    const beta = `iso-beta-${hex()}`;
    const receiver = await startReceiver();
    try {
      return await withStack(
        { env: { GATEWAY_API_KEYS: `${alpha},${beta}`, WEBHOOK_ALLOW_PRIVATE: '1' } },
        async (stack) => {
          const t = new Transcript();
          const made: string[] = [];
          const hang = await hookedTask(stack, t, alpha, `${receiver.url}/hang/alpha`, 900);
          const error = await hookedTask(stack, t, beta, `${receiver.url}/error/beta`, 901);
          for (const id of [hang, error]) if (id) made.push(id);
          // Beta's tasks made while alpha's tries hang: each is delivered once it ends.
          const late: { id: string; path: string }[] = [];
          for (let i = 0; i < 4; i++) {
            await until(() => receiver.at('/hang/alpha').length > i, 60_000);
            const path = `/ok/beta-${i}`;
            const id = await hookedTask(stack, t, beta, `${receiver.url}${path}`, 910 + i);
            if (id) {
              made.push(id);
              late.push({ id, path });
            }
          }
          await until(
            () =>
              receiver.at('/error/beta').length >= MAX_TRIES &&
              late.every((task) => receiver.at(task.path).length >= 1),
            90_000,
          );
          const gaps = gapsOf(receiver.at('/error/beta'));
          const slowGaps = gaps.filter((gap, i) => gap > (BACKOFF_MS[i] ?? 8000) + 1500);
          // How long after its task ended each late event came (the end as the gateway stored it).
          const ended = new Map<string, number>();
          for (const task of late) {
            const read = await rest(
              t,
              stack,
              'GET',
              `${RESULT_PATH}?task_id=${task.id}`,
              bearer(beta),
            );
            ended.set(task.id, Number(read.json?.extra?.debug_info?.complete_time_ms));
          }
          const waits = late.map(
            (task) => (receiver.at(task.path)[0]?.at ?? Number.NaN) - (ended.get(task.id) ?? 0),
          );
          const slowEvents = waits.filter((wait) => !(wait <= 1500)).length;
          const books = await ledger(stack, made);
          return outcome(
            slowGaps.length === 0 && slowEvents === 0,
            `alpha's hanging receiver: ${receiver.at('/hang/alpha').length} tries; beta's 500 receiver: tries ${gaps.join(', ')} ms apart (documented 1000, 2000, 4000, 8000), ${slowGaps.length} gaps over by more than 1.5 s; beta's ${late.length} tasks that ended while a hanging try was in flight were delivered ${waits.map((wait) => Math.round(wait)).join(', ')} ms after their end${slowGaps.length || slowEvents ? ": the dispatcher waits for every try of a batch (Promise.all) before the next claim, so one hanging receiver holds every client's deliveries up to its 5 s timeout" : ''}`,
            {
              cases: receiver.arrivals.length,
              http500: t.http500,
              leaks: t.leaks(stack),
              ...books,
            },
          );
        },
      );
    } finally {
      await receiver.close();
    }
  },
};

// secrets --------------------------------------------------------------------------------------

/** A secret whole, its base64 key without `whsec_`, and a 16-character piece of its end. */
const needles = (secret: string) => [
  secret,
  ...(secret.startsWith('whsec_') ? [secret.slice(6)] : []),
  ...(secret.length >= 24 ? [secret.slice(-20, -4)] : []),
];

const found = (texts: readonly string[], secret: string) =>
  texts.filter((text) => needles(secret).some((needle) => text.includes(needle))).length;

const webhookSecrets: Attack = {
  id: 'webhook-secrets',
  title: 'The webhook master secret and clients’ webhook secrets, through every door',
  expected:
    "WEBHOOK_SIGNING_SECRET set to a known value, LOG_LEVEL=debug: a drive through webhooks over GraphQL and REST (delivered, refused by the SSRF guard, to a failing receiver, test mode, reads of the task and its delivery, another client's reads, wrong keys) shows the master secret (whole, or its end) in no answer, delivery, log line or error, nor in the refusal of a bad WEBHOOK_SIGNING_SECRET at start; each client's whsec_ secret appears only in its own webhookSecret answer (never in another client's answers, the deliveries or the logs); the two clients' secrets differ; no 5xx",
  fast: true,
  async run() {
    const alpha = `whsec-alpha-${hex()}`;
    const beta = `whsec-beta-${hex()}`;
    const master = `wan-video-master-${hex()}${hex()}`;
    const receiver = await startReceiver();
    try {
      return await withStack(
        {
          env: {
            GATEWAY_API_KEYS: `${alpha},${beta}`,
            WEBHOOK_ALLOW_PRIVATE: '1',
            WEBHOOK_SIGNING_SECRET: master,
            LOG_LEVEL: 'debug',
          },
        },
        async (stack) => {
          const own = new Transcript();
          const others = new Transcript();
          const steps: string[] = [];
          const secretAnswer = async (key: string) =>
            (await own.gql(stack.gateway.graphqlUrl, SECRET, {}, bearer(key))).json?.data
              ?.webhookSecret as string | undefined;
          const alphaSecret = (await secretAnswer(alpha)) ?? '';
          const betaSecret = (await secretAnswer(beta)) ?? '';
          // Alpha's texts after its own secret answer go to `others`: nothing but that one answer may hold it.
          const ids: string[] = [];
          const keep = (id: string | undefined, name: string) => {
            steps.push(`${name} ${id ? 'made' : 'refused'}`);
            if (id) ids.push(id);
          };
          keep(
            await hookedTask(stack, others, alpha, `${receiver.url}/ok/a`, 800),
            'GraphQL webhook',
          );
          keep(
            await hookedTask(stack, others, alpha, `${receiver.url}/ok/b`, 801, true),
            'REST webhook',
          );
          keep(
            await hookedTask(stack, others, alpha, `${receiver.url}/error/a`, 802),
            'failing receiver',
          );
          keep(
            await hookedTask(stack, others, beta, `${receiver.url}/ok/c`, 803),
            "beta's webhook",
          );
          keep(
            await hookedTask(stack, others, alpha, 'http://169.254.169.254/latest', 804),
            'metadata URL',
          );
          keep(
            await hookedTask(stack, others, alpha, `http://wan-${hex()}.invalid/`, 805, true),
            'unresolvable URL',
          );
          const test = await others.gql(
            stack.gateway.graphqlUrl,
            GENERATE_HOOKED,
            {
              input: smallInput({ seed: 806 }),
              webhook: {
                url: `${receiver.url}/ok/test`,
                testMode: { enabled: true, returnTaskStatus: 'FAILED' },
              },
            },
            bearer(alpha),
          );
          keep(test.json?.data?.generateVideo?.id, 'test mode');
          await until(
            () =>
              receiver.at('/ok/a').length +
                receiver.at('/ok/b').length +
                receiver.at('/ok/c').length >=
                3 &&
              receiver.at('/ok/test').length >= 1 &&
              receiver.at('/error/a').length >= 2,
            60_000,
          );
          for (const id of ids) {
            await others.gql(stack.gateway.graphqlUrl, DELIVERY, { id }, bearer(alpha));
            await others.gql(stack.gateway.graphqlUrl, DELIVERY, { id }, bearer(beta));
            await rest(others, stack, 'GET', `${RESULT_PATH}?task_id=${id}`, bearer(alpha));
            await rest(others, stack, 'GET', `${RESULT_PATH}?task_id=${id}`, bearer(beta));
          }
          await others.gql(
            stack.gateway.graphqlUrl,
            SECRET,
            {},
            { authorization: 'Bearer wrong-key-x' },
          );
          await others.gql(
            stack.gateway.graphqlUrl,
            '{ gateway { webhooks } __typename }',
            {},
            bearer(beta),
          );
          // A bad master secret at start: refused without being echoed.
          const badMaster = `short ${hex()} secret`;
          const refusedStart = await runGatewayToExit({
            NOVITA_API_KEY: stack.upstreamKey,
            NOVITA_BASE_URL: stack.emulator.url,
            DATABASE_PATH: ':memory:',
            WEBHOOK_SIGNING_SECRET: badMaster,
          });
          const startText = `${refusedStart.stdout}\n${refusedStart.stderr}`;
          const deliveries = receiver.arrivals.map((arrival) => JSON.stringify(arrival));
          const output = stack.output();
          const everywhere = [...own.texts, ...others.texts, ...deliveries, ...output, startText];
          const masterFound = found(everywhere, master) + found([startText], badMaster);
          const alphaOwnAnswers = own.texts.filter((text) => text.includes(alphaSecret)).length;
          const alphaElsewhere = found([...others.texts, ...deliveries, ...output], alphaSecret);
          const betaElsewhere = found(
            [
              ...others.texts,
              ...deliveries,
              ...output,
              ...own.texts.filter((text) => !text.includes(betaSecret)),
            ],
            betaSecret,
          );
          const betaInAlpha = own.texts.filter(
            (text) => text.includes(alphaSecret) && text.includes(betaSecret),
          ).length;
          const ok =
            alphaSecret.startsWith('whsec_') &&
            betaSecret.startsWith('whsec_') &&
            alphaSecret !== betaSecret &&
            alphaOwnAnswers === 1 &&
            refusedStart.code !== 0;
          const books = await ledger(stack, ids);
          const leaks = masterFound + alphaElsewhere + betaElsewhere + betaInAlpha;
          return outcome(
            ok,
            `drive: ${steps.join(', ')}; ${receiver.arrivals.length} deliveries; a bad WEBHOOK_SIGNING_SECRET refused at start (exit ${refusedStart.code}); ${everywhere.length} answers, deliveries and log lines (${output.length} log lines) searched: the master secret found ${masterFound} times; alpha's secret in its own webhookSecret answer ${alphaOwnAnswers} time(s), elsewhere ${alphaElsewhere}; beta's elsewhere ${betaElsewhere + betaInAlpha}; the two secrets ${alphaSecret !== betaSecret ? 'differ' : 'are THE SAME'}`,
            {
              cases: steps.length + ids.length * 4 + 4,
              http500: own.http500 + others.http500,
              leaks,
              ...books,
            },
          );
        },
      );
    } finally {
      await receiver.close();
    }
  },
};

export const WEBHOOKS_ATTACKS: readonly Attack[] = [
  webhookSsrf,
  webhookDeliveryFaults,
  webhookReceiverIsolation,
  webhookSecrets,
];
