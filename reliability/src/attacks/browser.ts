/**
 * Attacks a web browser carries out on a gateway running without client keys (loopback only):
 * a page of another origin, in headless Chromium, posting forms, fetches, a beacon and a
 * WebSocket at it (CSRF), and requests whose Host names another machine (DNS rebinding), over
 * HTTP and over the WebSocket upgrade.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { launchChromium } from '@wan-video/test-utils';
import type { Browser, Page, Response } from 'playwright-core';
import { type Attack, ledger, outcome } from '../attack.js';
import { type Stack, withStack } from '../stack.js';
import {
  type Answer,
  endWithin,
  initSocket,
  openSocket,
  type RequestOptions,
  rawExchange,
  Transcript,
  tally,
  until,
} from './resources.js';

// csrf-browser ---------------------------------------------------------------------------------

/** A create whose prompt names (one word) the way it was sent: a task made says which got in. */
const forged = (via: string) =>
  `mutation { generateVideo(input: { prompt: "forged via ${via}", width: 832, height: 480, steps: 10 }) { id } }`;

const escapeAttr = (text: string) => text.replace(/&/g, '&amp;').replace(/"/g, '&quot;');

/** Forms a page can submit anywhere without asking, each into a frame. */
function attackPage(graphqlUrl: string): string {
  const form = (id: string, attributes: string, field: string) =>
    `<form id="${id}" action="${graphqlUrl}" target="sink" ${attributes}>${field}</form>`;
  const queryField = (via: string) => `<input name="query" value="${escapeAttr(forged(via))}">`;
  // text/plain: name=value is sent as is, so a name and value can spell JSON.
  const json = JSON.stringify({ query: forged('plain-form'), x: '' }).slice(0, -2);
  return `<!doctype html>
<html><body>
<iframe name="sink"></iframe>
${form('urlencoded', 'method="POST"', queryField('urlencoded-form'))}
${form('multipart', 'method="POST" enctype="multipart/form-data"', queryField('multipart-form'))}
${form('plain', 'method="POST" enctype="text/plain"', `<input name='${json.replace(/'/g, '&#39;')}' value='"}'>`)}
${form('get', 'method="GET"', queryField('get-form'))}
${ATTEMPTS_SCRIPT}
</body></html>`;
}

/** A web server of its own origin (the other site the visitor opens), a page per path. */
async function serveSite(
  pages: Record<string, () => string>,
): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const page = pages[req.url ?? '/'];
    res.writeHead(page ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page ? page() : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** GraphiQL in a frame of the other site, opened on a mutation of its choosing. */
const framingPage = (graphqlUrl: string) => `<!doctype html>
<html><body>
<iframe id="graphiql" style="width: 1200px; height: 800px"
  src="${escapeAttr(`${graphqlUrl}?query=${encodeURIComponent(forged('framed-graphiql'))}`)}"></iframe>
</body></html>`;

/**
 * The page's own script (in its HTML: tsx would name functions passed to `page.evaluate`):
 * fetches of every kind, a beacon and a WebSocket; what the page could learn of each.
 */
const ATTEMPTS_SCRIPT = `<script>
window.attempts = async function (url, wsUrl, mutations) {
  async function attempt(init, target) {
    try {
      const response = await fetch(target || url, Object.assign({ credentials: 'include' }, init));
      if (response.type === 'opaque') return 'opaque';
      return 'read ' + response.status + ': ' + (await response.text()).slice(0, 200);
    } catch (error) {
      return 'blocked';
    }
  }
  const ws = await new Promise(function (resolve) {
    const socket = new WebSocket(wsUrl, 'graphql-transport-ws');
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: 'connection_init' }));
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: mutations.ws } }));
      socket.onmessage = function (event) { resolve('open, got ' + String(event.data).slice(0, 200)); };
      setTimeout(function () { resolve('open'); }, 3000);
    };
    socket.onerror = function () { resolve('refused'); };
  });
  const body = function (query) { return JSON.stringify({ query: query }); };
  return {
    json: await attempt({ method: 'POST', headers: { 'content-type': 'application/json' }, body: body(mutations.json) }),
    plain: await attempt({ method: 'POST', body: body(mutations.plain) }),
    noCors: await attempt({ method: 'POST', mode: 'no-cors', body: body(mutations.noCors) }),
    formNoCors: await attempt({ method: 'POST', mode: 'no-cors', body: new URLSearchParams({ query: mutations.formNoCors }) }),
    readTasks: await attempt({ method: 'GET' }, url + '?query=' + encodeURIComponent('{ videoTasks(first: 10) { edges { node { id } } } }')),
    beacon: navigator.sendBeacon(url, body(mutations.beacon)) ? 'queued' : 'not queued',
    ws: ws,
  };
};
</script>`;

/** Runs the page's script; what became of each attempt. */
function scriptedAttempts(
  page: Page,
  graphqlUrl: string,
  wsUrl: string,
): Promise<Record<string, string>> {
  const mutations = {
    json: forged('json-fetch'),
    plain: forged('plain-fetch'),
    noCors: forged('no-cors-fetch'),
    formNoCors: forged('no-cors-form-fetch'),
    beacon: forged('beacon'),
    ws: forged('websocket'),
  };
  return page.evaluate(([url, ws, sent]) => (window as any).attempts(url, ws, sent), [
    graphqlUrl,
    wsUrl,
    mutations,
  ] as const);
}

/** One answer of the gateway's to the browser. */
interface BrowserAnswer {
  readonly method: string;
  readonly status: number;
  readonly allowOrigin: string | undefined;
  /** The request's body. */
  readonly sent: string;
  /** X-Frame-Options and CSP frame-ancestors of the answer, when it had any. */
  readonly framing: string;
}

/** What an answer says of being framed: X-Frame-Options and CSP frame-ancestors. */
function framingHeaders(headers: Record<string, string>): string {
  const ancestors = /frame-ancestors[^;]*/.exec(headers['content-security-policy'] ?? '')?.[0];
  return [headers['x-frame-options'] && `X-Frame-Options ${headers['x-frame-options']}`, ancestors]
    .filter(Boolean)
    .join(', ');
}

/** A request to the gateway that failed in the browser (no answer, or one it may not read). */
interface FailedRequest {
  readonly sent: string;
  readonly error: string;
}

/** Every answer the gateway gave the browser, with its body when the browser kept one. */
function recordGatewayAnswers(page: Page, gatewayUrl: string, transcript: Transcript) {
  const answers: BrowserAnswer[] = [];
  const failed: FailedRequest[] = [];
  const reading: Promise<void>[] = [];
  page.on('requestfailed', (request) => {
    if (!request.url().startsWith(gatewayUrl)) return;
    failed.push({ sent: request.postData() ?? '', error: request.failure()?.errorText ?? '' });
  });
  page.on('response', (response: Response) => {
    if (!response.url().startsWith(gatewayUrl)) return;
    const headers = response.headers();
    const answer: BrowserAnswer = {
      method: response.request().method(),
      status: response.status(),
      allowOrigin: headers['access-control-allow-origin'],
      sent: response.request().postData() ?? '',
      framing: framingHeaders(headers),
    };
    answers.push(answer);
    reading.push(
      (async () => {
        const body = await response.text().catch(() => '(no body kept)');
        transcript.answer({ status: response.status(), headers, body });
      })(),
    );
  });
  return { answers, failed, settled: () => Promise.all(reading) };
}

/** Submits each form and waits for the gateway's answer to it; their statuses by form. */
async function submitForms(page: Page) {
  const statuses: Record<string, number | string> = {};
  for (const form of ['urlencoded', 'multipart', 'plain', 'get']) {
    const answer = page
      .waitForResponse(
        (response) =>
          `${response.url()} ${response.request().postData() ?? ''}`.includes(`${form}-form`),
        { timeout: 20_000 },
      )
      .then((response) => response.status())
      .catch(() => 'no answer');
    await page.evaluate((id) => (document.getElementById(id) as HTMLFormElement).submit(), form);
    statuses[form] = await answer;
  }
  return statuses;
}

/** The scripted attempts' expected fates: never an answer the page can read. */
const EXPECTED_ATTEMPTS: Record<string, string> = {
  json: 'blocked',
  plain: 'blocked',
  noCors: 'opaque',
  formNoCors: 'opaque',
  readTasks: 'blocked',
  beacon: 'queued',
  ws: 'refused',
};

/** Requests the page's script sent (by the slug in their prompt) and how each was answered. */
const SIMPLE_REQUESTS = ['plain-fetch', 'no-cors-fetch', 'no-cors-form-fetch', 'beacon'];

/**
 * What the gateway answered each simple request: 403 each (a request whose answer lacked CORS
 * headers shows as failed in the browser, which hides its status), and no JSON POST arrives.
 */
function scriptAnswers(answers: readonly BrowserAnswer[], failed: readonly FailedRequest[]) {
  const fateOf = (slug: string) =>
    answers.find((answer) => answer.sent.includes(slug))?.status ??
    (failed.some((request) => request.sent.includes(slug)) ? 'failed in the browser' : 'none');
  const fates = Object.fromEntries(SIMPLE_REQUESTS.map((slug) => [slug, fateOf(slug)]));
  const jsonArrived = answers.some((answer) => answer.sent.includes('json-fetch'));
  const ok =
    Object.values(fates).every((fate) => fate === 403 || fate === 'failed in the browser') &&
    !jsonArrived;
  return { fates, jsonArrived, ok };
}

/** `key value, key value` */
const listed = (record: Record<string, unknown>) =>
  Object.entries(record)
    .map(([key, value]) => `${key} ${String(value)}`)
    .join(', ');

/** Tasks (gateway rows, upstream creates) made so far. */
const madeSoFar = (stack: Stack) => ({
  rows: stack.rows().length,
  creates: stack.emulator.requests().filter((entry) => entry.method === 'POST').length,
});

/** The other site's page does everything it can without the visitor doing anything. */
async function withoutInteraction(browser: Browser, site: string, stack: Stack, t: Transcript) {
  const { graphqlUrl, wsUrl, url } = stack.gateway;
  const page = await browser.newPage();
  try {
    const seen = recordGatewayAnswers(page, url, t);
    await page.goto(`${site}/`);
    const forms = await submitForms(page);
    const attempts = await scriptedAttempts(page, graphqlUrl, wsUrl);
    // The beacon leaves whenever the browser likes: wait for its answer.
    const beaconAnswered = await until(
      () => seen.answers.some((answer) => answer.sent.includes('beacon')),
      15_000,
      100,
    );
    await seen.settled();
    const exposed = seen.answers.filter(
      (answer) => answer.allowOrigin === site || answer.allowOrigin === '*',
    ).length;
    const formsOk =
      forms.urlencoded === 403 &&
      forms.multipart === 403 &&
      forms.plain === 403 &&
      typeof forms.get === 'number' &&
      forms.get < 500;
    const wrong = Object.entries(EXPECTED_ATTEMPTS)
      .filter(([name, expected]) => attempts[name] !== expected)
      .map(([name, expected]) => `${name} ${expected}`);
    const answered = scriptAnswers(seen.answers, seen.failed);
    const made = madeSoFar(stack);
    const ok =
      formsOk &&
      wrong.length === 0 &&
      answered.ok &&
      beaconAnswered &&
      exposed === 0 &&
      made.rows === 0 &&
      made.creates === 0;
    const observed = `forms: ${listed(forms)}; the page's scripts saw: ${listed(attempts)}${wrong.length ? ` (expected ${wrong.join(', ')})` : ''}; the gateway answered ${listed(answered.fates)}, ${answered.jsonArrived ? 'and the JSON POST DID arrive' : 'no JSON POST arrived'}; in all it answered the browser ${tally(seen.answers.map((a) => `${a.method} ${a.status}`))} (the 200s: the GET form opened GraphiQL, of the gateway's own origin, in the page's frame), ${exposed} with CORS headers for ${site}; tasks made: ${made.rows} rows, ${made.creates} upstream creates`;
    return { ok, observed, cases: Object.keys(forms).length + Object.keys(attempts).length };
  } finally {
    await page.close();
  }
}

/**
 * Clickjacking: the other site frames GraphiQL opened on its mutation and the visitor clicks
 * once where its run button is (a site would dress the frame up as something else). The gateway
 * must refuse to be framed by another origin, or GraphiQL must not run what the URL brought.
 */
async function oneClickInAFrame(browser: Browser, site: string, stack: Stack, t: Transcript) {
  const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  try {
    const before = stack.rows().length;
    const seen = recordGatewayAnswers(page, stack.gateway.url, t);
    await page.goto(`${site}/framing`);
    const graphiql = page.frameLocator('#graphiql');
    const button = graphiql.locator('.graphiql-execute-button').first();
    const framed = await button
      .waitFor({ timeout: 20_000 })
      .then(() => true)
      .catch(() => false);
    let ran = false;
    if (framed) {
      await button.click();
      ran = await until(() => seen.answers.some((a) => a.sent.includes('framed-graphiql')), 10_000);
    }
    await seen.settled();
    const created = stack.rows().length - before;
    const framing = seen.answers.find((a) => a.method === 'GET' && a.framing !== undefined);
    const observed = framed
      ? `GraphiQL loaded in the other site's frame (its page sent ${framing?.framing || 'no X-Frame-Options or CSP frame-ancestors'}); one click on its run button ${ran ? "sent the site's mutation, from the gateway's own origin," : 'sent nothing'} and made ${created} task(s)`
      : "GraphiQL did not load in the other site's frame";
    return { ok: created === 0, observed, created };
  } finally {
    await page.close();
  }
}

const csrfBrowser: Attack = {
  id: 'csrf-browser',
  title: 'A page of another origin in Chromium: forms, fetches, a beacon, a WebSocket, a frame',
  expected:
    'no-key mode, default CORS: POST forms (urlencoded, multipart, text/plain), text/plain and no-cors fetches and a beacon are 403, a GET form creates nothing, a JSON fetch with credentials is stopped by its preflight, the WebSocket upgrade is refused; no answer carries CORS headers for that origin or is readable there; GraphiQL framed by that page on its mutation runs nothing with one click; no task is created (the same mutation sent directly does create one); no 5xx',
  fast: true,
  async run() {
    return withStack({}, async (stack) => {
      const transcript = new Transcript();
      const { graphqlUrl } = stack.gateway;
      const site = await serveSite({
        '/': () => attackPage(graphqlUrl),
        '/framing': () => framingPage(graphqlUrl),
      });
      const browser = await launchChromium();
      try {
        const quiet = await withoutInteraction(browser, site.origin, stack, transcript);
        const click = await oneClickInAFrame(browser, site.origin, stack, transcript);
        const control = await controlCreate(stack, transcript);
        const books = await ledger(stack, control.id ? [control.id] : []);
        return outcome(
          quiet.ok && click.ok && control.made,
          `${quiet.observed}. ${click.observed}. The same mutation sent directly ${control.made ? 'made its task' : 'made NO task'}`,
          {
            cases: quiet.cases + 1,
            http500: transcript.http500,
            leaks: transcript.leaks(stack),
            ...books,
          },
        );
      } finally {
        await browser.close();
        site.server.closeAllConnections();
        site.server.close();
      }
    });
  },
};

/** The forged mutation sent as a GraphQL client sends it: it must make a task (the control). */
async function controlCreate(stack: Stack, transcript: Transcript) {
  const answer = await transcript.gql(stack.gateway.graphqlUrl, forged('control'));
  const id = answer.json?.data?.generateVideo?.id as string | undefined;
  return { id, made: id !== undefined && stack.rows().some((row) => row.id === id) };
}

// dns-rebinding --------------------------------------------------------------------------------

/** Hosts a rebinding attacker's page would send, or a proxy would pass on: all refused. */
const foreignHosts = (port: number) => [
  'evil.example',
  `evil.example:${port}`,
  '192.168.1.10',
  `localhost.evil.example:${port}`,
  `127.0.0.1.evil.example:${port}`,
  `0.0.0.0:${port}`,
];

/** Names of this machine's loopback interface: all served. */
const loopbackHosts = (port: number) => [
  'localhost',
  `localhost:${port}`,
  'LOCALHOST',
  '127.0.0.1',
  `127.0.0.1:${port}`,
  '127.1.2.3:80',
  '[::1]',
  `[::1]:${port}`,
];

/** One request per route with `host`; the statuses, in order. */
async function routesWithHost(stack: Stack, transcript: Transcript, host: string) {
  const { url, graphqlUrl } = stack.gateway;
  const requests: [string, RequestOptions][] = [
    [`${url}/healthz`, { headers: { host } }],
    [graphqlUrl, { headers: { host, accept: 'text/html' } }],
    [
      graphqlUrl,
      {
        method: 'POST',
        headers: { host, 'content-type': 'application/json' },
        body: JSON.stringify({ query: forged('spoofed-host') }),
      },
    ],
  ];
  const answers: Answer[] = [];
  for (const [target, options] of requests) answers.push(await transcript.http(target, options));
  return answers.map((answer) => answer.status);
}

/** A WebSocket upgrade with `host`: 'acknowledged', or how it ended. */
async function upgradeWithHost(stack: Stack, transcript: Transcript, host: string) {
  const socket = await openSocket(stack.gateway.wsUrl, transcript, { host });
  if (await initSocket(socket)) {
    socket.ws.close();
    return 'acknowledged';
  }
  const end = await endWithin(socket);
  if (!end) return 'open, never acknowledged';
  return end.kind === 'refused'
    ? end.status
    : end.kind === 'closed'
      ? `closed ${end.code}`
      : 'failed';
}

const dnsRebinding: Attack = {
  id: 'dns-rebinding',
  title: 'Requests whose Host names another machine (DNS rebinding), over HTTP and WebSocket',
  expected:
    'no-key mode: /healthz, GraphiQL, a mutation and the WebSocket upgrade with a foreign Host (or none, HTTP/1.0) are 421; loopback names (localhost, 127.x, [::1], any case or port) are served and acknowledged; nothing is created; no 5xx',
  fast: true,
  async run() {
    return withStack({}, async (stack) => {
      const transcript = new Transcript();
      const { port } = stack.gateway;
      const refusedWrongly: string[] = [];
      for (const host of foreignHosts(port)) {
        const statuses = [
          ...(await routesWithHost(stack, transcript, host)),
          await upgradeWithHost(stack, transcript, host),
        ];
        if (statuses.some((status) => status !== 421))
          refusedWrongly.push(`${host}: ${statuses.join(' ')}`);
      }
      const noHost = transcript.answer(await rawExchange(port, 'GET /healthz HTTP/1.0\r\n\r\n'));
      if (noHost.status !== 421) refusedWrongly.push(`no Host: ${noHost.status}`);
      const servedWrongly: string[] = [];
      for (const host of loopbackHosts(port)) {
        const health = await transcript.http(`${stack.gateway.url}/healthz`, { headers: { host } });
        const query = await transcript.http(stack.gateway.graphqlUrl, {
          method: 'POST',
          headers: { host, 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ gateway { emulated } }' }),
        });
        const upgrade = await upgradeWithHost(stack, transcript, host);
        if (health.status !== 200 || query.status !== 200 || upgrade !== 'acknowledged') {
          servedWrongly.push(`${host}: ${health.status} ${query.status} ${upgrade}`);
        }
      }
      const made = madeSoFar(stack);
      const foreign = foreignHosts(port).length + 1;
      const loopback = loopbackHosts(port).length;
      const ok =
        refusedWrongly.length === 0 &&
        servedWrongly.length === 0 &&
        made.rows === 0 &&
        made.creates === 0;
      return outcome(
        ok,
        `${foreign - refusedWrongly.length}/${foreign} foreign Hosts (${foreignHosts(port).slice(0, 3).join(', ')}…, none) refused 421 on every route and the upgrade${refusedWrongly.length ? ` (not: ${refusedWrongly.join('; ')})` : ''}; ${loopback - servedWrongly.length}/${loopback} loopback names served and acknowledged${servedWrongly.length ? ` (not: ${servedWrongly.join('; ')})` : ''}; ${made.rows} rows, ${made.creates} upstream creates`,
        {
          cases: (foreign - 1) * 4 + 1 + loopback * 3,
          http500: transcript.http500,
          leaks: transcript.leaks(stack),
        },
      );
    });
  },
};

export const BROWSER_ATTACKS: readonly Attack[] = [csrfBrowser, dnsRebinding];
