/**
 * An unreliable upstream, one fault at a time (5xx, 429 with Retry-After, connection resets,
 * malformed JSON, latency, tasks that fail), while clients create a handful of tasks through a
 * real gateway process. Every task a client was given must end in its true state, no create is
 * sent twice, no paid upstream task is left unrecorded, no client sees a 5xx, and every error a
 * client sees carries a known `extensions.code`.
 *
 * Also the client side the crash attacks share: a recording GraphQL client, small inputs, and
 * readings of the emulator's request log and the gateway's log.
 */
import type { Faults, RequestLogEntry } from '@wan-video/emulator';
import { ERROR_CODES } from '@wan-video/gateway';
import { GenerateVideoMutation, VideoTaskQuery } from '@wan-video/operations';
import { print } from 'graphql';
import { type Attack, leaksIn, ledger, type Outcome, outcome, type Scale } from '../attack.js';
import { type Row, type Stack, withStack } from '../stack.js';

export const GENERATE = print(GenerateVideoMutation);
const QUERY_TASK = print(VideoTaskQuery);

/** Limits well above what an attack sends: they are not what is attacked here. */
export const GENEROUS_LIMITS = { MUTATIONS_PER_MINUTE: '10000', MAX_IN_FLIGHT_TASKS: '1000' };

/**
 * A small valid input, one of eight (832x480, 3 to 10 steps): few distinct videos, so the
 * emulator renders each once and finds it in its store afterwards.
 */
export function smallInput(n: number) {
  const variant = n % 8;
  return {
    prompt: 'a lighthouse at dusk, waves',
    width: 832,
    height: 480,
    steps: 3 + variant,
    seed: 9100 + variant,
  };
}

/** Polls `check` every 100 ms until it is true; false when `ms` passed first. */
export async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() >= end) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

/** As `waitUntil`, but a timeout is an error naming what was awaited. */
export async function waitFor(what: string, check: () => boolean, ms: number): Promise<void> {
  if (!(await waitUntil(check, ms))) throw new Error(`${what}: not within ${ms / 1000} s`);
}

/** A GraphQL error as a client sees it. */
export interface ClientError {
  readonly message?: string;
  readonly extensions?: { readonly code?: unknown; readonly taskId?: unknown } & Record<
    string,
    unknown
  >;
}

/** What one `generateVideo` came to, for the client that sent it. */
export type Created =
  | { readonly kind: 'accepted'; readonly id: string }
  /** Refused, but the gateway kept the task (FAILED, or left to settle) and named it. */
  | { readonly kind: 'kept'; readonly id: string; readonly code: string }
  /** Refused with nothing kept; `retryAfterSeconds` as the error said. */
  | { readonly kind: 'refused'; readonly code: string; readonly retryAfterSeconds?: number }
  /** The connection broke before an answer (the gateway died, say). */
  | { readonly kind: 'unanswered' };

/**
 * A GraphQL client over HTTP that keeps every answer (for the leak scan), counts 5xx answers and
 * collects errors without a known `extensions.code`. It asks whichever gateway process the
 * stack runs now.
 */
export class Client {
  readonly texts: string[] = [];
  http500 = 0;
  readonly uncoded: string[] = [];
  readonly #stack: Stack;

  constructor(stack: Stack) {
    this.#stack = stack;
  }

  /** One request; rejects only when no answer came (the connection broke). */
  async gql(
    query: string,
    variables: Record<string, unknown>,
  ): Promise<{ data?: any; errors?: ClientError[] }> {
    const response = await fetch(this.#stack.gateway.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    this.texts.push(text);
    if (response.status >= 500) this.http500 += 1;
    let body: { data?: any; errors?: ClientError[] };
    try {
      body = JSON.parse(text);
    } catch {
      body = { errors: [{ message: `not JSON (HTTP ${response.status}): ${text.slice(0, 200)}` }] };
    }
    for (const error of body.errors ?? []) {
      const code = error.extensions?.code;
      if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code)) {
        this.uncoded.push(JSON.stringify(error).slice(0, 300));
      }
    }
    return body;
  }

  /** Asks for one video; `idempotencyKey` is the client's own. */
  async generate(input: Record<string, unknown>, idempotencyKey?: string): Promise<Created> {
    let body: { data?: any; errors?: ClientError[] };
    try {
      body = await this.gql(GENERATE, { input, idempotencyKey });
    } catch {
      return { kind: 'unanswered' };
    }
    const id = body.data?.generateVideo?.id;
    if (typeof id === 'string') return { kind: 'accepted', id };
    const extensions = body.errors?.[0]?.extensions;
    const code = typeof extensions?.code === 'string' ? extensions.code : 'none';
    const kept = extensions?.taskId;
    if (typeof kept === 'string') return { kind: 'kept', id: kept, code };
    const retryAfter = extensions?.retryAfterSeconds;
    return typeof retryAfter === 'number'
      ? { kind: 'refused', code, retryAfterSeconds: retryAfter }
      : { kind: 'refused', code };
  }

  /** The task as its client reads it, or undefined when it cannot be read. */
  async task(id: string): Promise<{ status: string; failureReason: string | null } | undefined> {
    const body = await this.gql(QUERY_TASK, { id }).catch(() => undefined);
    return body?.data?.videoTask ?? undefined;
  }
}

/** Every create the emulator received, in order. */
export const createsIn = (log: readonly RequestLogEntry[]) =>
  log.filter((entry) => entry.method === 'POST' && entry.path.endsWith('/wan-t2v'));

/** Every task read the emulator received, in order. */
export const readsIn = (log: readonly RequestLogEntry[]) =>
  log.filter((entry) => entry.method === 'GET' && entry.path.endsWith('/task-result'));

/** The creates the emulator made a task for (a paid video), whatever the gateway heard. */
export const paidIn = (log: readonly RequestLogEntry[]) =>
  createsIn(log).filter((entry) => entry.status === 200 && entry.taskId);

const FINAL = new Set(['SUCCEEDED', 'FAILED']);
export const isFinalStatus = (status: string) => FINAL.has(status);
export const isFinal = (row: Row | undefined) => isFinalStatus(row?.status ?? '');

/**
 * Waits up to `ms` for the books to settle: every stored task final and every paid upstream task
 * recorded by one (a webhook may still be on its way to adopt one). Returns whether they did.
 */
export async function settle(stack: Stack, ms: number): Promise<boolean> {
  return waitUntil(() => {
    const rows = stack.rows();
    const recorded = new Set(rows.map((row) => row.upstreamTaskId));
    return (
      rows.every(isFinal) &&
      paidIn(stack.emulator.requests()).every((entry) => recorded.has(entry.taskId))
    );
  }, ms);
}

/** The gateway's "listening" log records, one per start, parsed. */
export function startLines(stack: Stack): Record<string, any>[] {
  return stack.output().flatMap((line) => {
    if (!line.includes('wan-video gateway listening')) return [];
    try {
      return [JSON.parse(line) as Record<string, any>];
    } catch {
      return [];
    }
  });
}

/** `n` of `things`, tallied by name: "4 SUCCEEDED, 2 FAILED". */
export function tally(names: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1);
  return [...counts].map(([name, count]) => `${count} ${name}`).join(', ') || 'none';
}

/** Runs `work` for each of `items` with at most `concurrency` at once. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

/** Control characters and line breaks: a quoted upstream text holds none. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const NOT_ONE_LINE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** One fault attack: the faults, the mode, and what the tasks must end as. */
interface Plan {
  readonly id: string;
  readonly title: string;
  readonly expected: string;
  /** How the faults read in the observed line: "50% 5xx on creates and reads". */
  readonly under: string;
  readonly faults: Faults;
  /** The rate of malformed answers, when they are the fault (the log shows them as 200). */
  readonly truncated?: number;
  /** Webhook mode (PUBLIC_URL) instead of polling. */
  readonly webhooks?: boolean;
  /** What every task a client was given must end as. */
  readonly ends: 'SUCCEEDED' | 'FAILED';
  /** Whether a refused create is expected at all (false: any refusal is a breach). */
  readonly refusals: boolean;
  /** Checks of this fault's own, on the evidence; each returns breaches. */
  readonly check?: (evidence: Evidence) => string[];
}

/** What one fault attack saw. */
interface Evidence {
  readonly stack: Stack;
  readonly log: readonly RequestLogEntry[];
  readonly results: readonly Created[];
  /** How many times clients asked for a video (first asks and asks again). */
  readonly asks: number;
  /** Each task a client was given or was named in an error, as its client reads it at the end. */
  readonly finals: ReadonlyMap<string, { status: string; failureReason: string | null }>;
}

const accepted = (results: readonly Created[]) =>
  results.flatMap((result) => (result.kind === 'accepted' ? [result.id] : []));
const kept = (results: readonly Created[]) =>
  results.flatMap((result) => (result.kind === 'kept' ? [result.id] : []));

/** Reads that failed (not 200; a reset is `null`), and whether a later read of the task came. */
function struckReads(log: readonly RequestLogEntry[]) {
  const reads = readsIn(log);
  const struck = reads.filter((entry) => entry.status !== 200);
  /** For each struck read read again, how long after it the next read of its task came. */
  const waits = struck.flatMap((entry) => {
    const next = reads
      .slice(reads.indexOf(entry) + 1)
      .find((later) => later.taskId === entry.taskId);
    return next ? [Date.parse(next.time) - Date.parse(entry.time)] : [];
  });
  return { reads: reads.length, struck: struck.length, retried: waits.length, waits };
}

/** "12 reads, 4 struck, 4 of them read again 3 to 480 ms later". */
function readFigures(log: readonly RequestLogEntry[]): string {
  const { reads, struck, retried, waits } = struckReads(log);
  const range =
    waits.length === 0 ? '' : ` ${Math.min(...waits)} to ${Math.max(...waits)} ms later`;
  return `${reads} reads, ${struck} struck, ${retried} of them read again${range}`;
}

/** Breaches every fault attack checks: true end states, codes, kept tasks, last reads. */
function commonBreaches(plan: Plan, evidence: Evidence): string[] {
  const { results, finals, log, asks } = evidence;
  const breaches: string[] = [];
  // The gateway sends a create again only after a 429 (nothing was made): any other extra is a
  // create sent twice.
  const sent = createsIn(log).filter((entry) => entry.status !== 429).length;
  if (sent > asks) breaches.push(`${sent} creates not answered 429 for ${asks} asks`);
  for (const id of accepted(results)) {
    const status = finals.get(id)?.status;
    if (status !== plan.ends) breaches.push(`task ${id} ended ${status ?? 'unread'}`);
  }
  for (const result of results) {
    if (result.kind === 'unanswered') breaches.push('a create got no answer at all');
    if ((result.kind === 'kept' || result.kind === 'refused') && !plan.refusals) {
      breaches.push(`a create was refused with ${result.code}`);
    }
    if (
      (result.kind === 'kept' || result.kind === 'refused') &&
      result.code !== 'UPSTREAM_UNAVAILABLE'
    ) {
      breaches.push(`a create was refused with ${result.code}, not UPSTREAM_UNAVAILABLE`);
    }
  }
  // A kept task the upstream never made stays FAILED; one it made is adopted (webhook mode) or,
  // in polling mode, would be an orphan (the ledger counts it).
  for (const id of kept(results)) {
    const status = finals.get(id)?.status ?? 'unread';
    if (!FINAL.has(status)) breaches.push(`kept task ${id} is ${status}`);
  }
  if (!plan.webhooks) {
    const { struck, retried } = struckReads(log);
    if (retried < struck)
      breaches.push(`${struck - retried} of ${struck} failed reads never retried`);
    const rows = evidence.stack.rows();
    for (const id of accepted(results)) {
      const upstreamTaskId = rows.find((row) => row.id === id)?.upstreamTaskId;
      const last = readsIn(log)
        .filter((entry) => entry.taskId === upstreamTaskId)
        .at(-1);
      if (last?.status !== 200) breaches.push(`task ${id}'s last read was ${last?.status}`);
    }
  }
  return breaches;
}

/** How many times a client asks again after a refusal that kept nothing. */
const CLIENT_RETRIES = 3;

/**
 * One client wanting one video, as a careful client asks: refused with nothing kept (nothing was
 * made, the key is free again), it waits the `retryAfterSeconds` it was told (2 s at most here)
 * and asks again with the same key. A refusal that kept a task is final: the gateway says the
 * task may exist upstream, so asking again could pay twice.
 */
async function wantVideo(client: Client, n: number, key: string) {
  let asked = 1;
  let result = await client.generate(smallInput(n), key);
  while (result.kind === 'refused' && asked <= CLIENT_RETRIES) {
    const seconds = Math.min(2, result.retryAfterSeconds ?? 1);
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    asked += 1;
    result = await client.generate(smallInput(n), key);
  }
  return { result, asked };
}

/** `count` clients wanting a video each, three at a time; returns their last answers. */
async function createTasks(client: Client, count: number, prefix: string) {
  const numbers = Array.from({ length: count }, (_, n) => n);
  const wanted = await pool(numbers, 3, (n) => wantVideo(client, n, `${prefix}-${n}`));
  return {
    results: wanted.map((each) => each.result),
    retries: wanted.reduce((sum, each) => sum + each.asked - 1, 0),
  };
}

/** The observed line's figures on creates: "12 creates sent upstream (6 answered 5xx), 6 paid". */
function createFigures(log: readonly RequestLogEntry[]): string {
  const creates = createsIn(log);
  const failed = creates.filter((entry) => entry.status !== 200);
  const struck =
    failed.length === 0 ? '' : `: ${tally(failed.map((entry) => String(entry.status ?? 'reset')))}`;
  return `${creates.length} creates reached the upstream (${failed.length} struck${struck}), ${paidIn(log).length} paid`;
}

/**
 * A truncated answer is logged 200: how many there were follows from the emulator's even spread
 * (the n-th answer on the routes is cut when floor(n * rate) grows).
 */
function truncatedFigures(log: readonly RequestLogEntry[], rate: number): string {
  const answers = createsIn(log).length + readsIn(log).length;
  return `${Math.floor(answers * rate)} of those ${answers} answers cut short`;
}

/** The breaches for an observed line: none, or counted with the first two quoted (cut short). */
export function breachFigures(breaches: readonly string[]): string[] {
  if (breaches.length === 0) return [];
  const quoted = breaches.slice(0, 2).map((breach) => breach.slice(0, 200));
  return [`${breaches.length} BREACHES, e.g. ${quoted.join('; ')}`];
}

async function runPlan(plan: Plan, scale: Scale): Promise<Outcome> {
  const count = scale === 'full' ? 24 : 6;
  return withStack(
    {
      env: GENEROUS_LIMITS,
      emulator: { timeScale: TIME_SCALE },
      ...(plan.webhooks ? { webhooks: true } : {}),
    },
    async (stack) => {
      stack.emulator.setFaults(plan.faults);
      const client = new Client(stack);
      const { results, retries } = await createTasks(client, count, plan.id);
      const settled = await settle(stack, 45_000);
      const books = await ledger(stack, accepted(results), 15_000);
      const finals = new Map<string, { status: string; failureReason: string | null }>();
      for (const id of [...accepted(results), ...kept(results)]) {
        const task = await client.task(id);
        if (task) finals.set(id, task);
      }
      const log = stack.emulator.requests();
      const evidence: Evidence = { stack, log, results, asks: count + retries, finals };
      const breaches = [
        ...(settled ? [] : ['the books did not settle within 45 s']),
        ...commonBreaches(plan, evidence),
        ...(plan.check?.(evidence) ?? []),
        ...client.uncoded.map((error) => `an error without a known code: ${error}`),
      ];
      if (accepted(results).length === 0) breaches.push('no create was accepted at all');
      const observed = [
        `${count} tasks under ${plan.under}${plan.webhooks ? ' (webhook mode)' : ''}: answers ${tally(results.map((result) => result.kind))} (${retries} asked again)`,
        `given tasks ended ${tally(accepted(results).map((id) => finals.get(id)?.status ?? 'unread'))}`,
        ...(kept(results).length > 0
          ? [
              `kept tasks ended ${tally(kept(results).map((id) => finals.get(id)?.status ?? 'unread'))}`,
            ]
          : []),
        createFigures(log),
        readFigures(log),
        ...(plan.truncated ? [truncatedFigures(log, plan.truncated)] : []),
        ...breachFigures(breaches),
      ].join('; ');
      return outcome(breaches.length === 0, observed, {
        cases: count,
        ...books,
        http500: client.http500,
        leaks: leaksIn([...client.texts, ...stack.output()], stack.secrets),
      });
    },
  );
}

const attack = (plan: Plan): Attack => ({
  id: plan.id,
  title: plan.title,
  expected: plan.expected,
  fast: true,
  run: (scale) => runPlan(plan, scale),
});

/** Every read of a task after a 429 came at least the Retry-After later (less 50 ms of clocks). */
function honoursRetryAfter(seconds: number) {
  return ({ log }: Evidence): string[] => {
    const reads = readsIn(log);
    const breaches: string[] = [];
    reads.forEach((entry, at) => {
      if (entry.status !== 429) return;
      const next = reads.slice(at + 1).find((later) => later.taskId === entry.taskId);
      if (!next) return;
      const waited = Date.parse(next.time) - Date.parse(entry.time);
      if (waited < seconds * 1000 - 50) breaches.push(`a read retried ${waited} ms after a 429`);
    });
    const rateLimited = [...createsIn(log), ...reads].filter((entry) => entry.status === 429);
    if (rateLimited.length === 0) breaches.push('no 429 was answered: the fault never struck');
    return breaches;
  };
}

/** The fault struck at least once (answered with one of `statuses`; `null`: a reset). */
function struck(statuses: readonly (number | null)[], what: string) {
  return ({ log }: Evidence): string[] =>
    [...createsIn(log), ...readsIn(log)].some((entry) => statuses.includes(entry.status))
      ? []
      : [`no ${what} was answered: the fault never struck`];
}

/** The reason the failing tasks end with: two lines, a tab, a bell and markup. */
const FAILURE_REASON =
  'content policy violation:\nthe prompt\tmentions a <b>lighthouse</b>\u0007 "at dusk"';

/** Each failed task's reason quotes the upstream's, on one line. */
function quotesReason({ finals, results }: Evidence): string[] {
  return accepted(results).flatMap((id) => {
    const reason = finals.get(id)?.failureReason ?? '';
    if (NOT_ONE_LINE.test(reason)) {
      return [`task ${id}'s failureReason is not one line: ${JSON.stringify(reason)}`];
    }
    if (!reason.includes('content policy violation') || !reason.includes('<b>lighthouse</b>')) {
      return [
        `task ${id}'s failureReason does not quote the upstream's: ${JSON.stringify(reason)}`,
      ];
    }
    return [];
  });
}

const BOTH_ROUTES: Faults['routes'] = ['create', 'result'];

/** A task takes 1 to 3.3 s upstream: a few reads each, through the faults. */
const TIME_SCALE = 2;

const COMMON =
  'no task lost (each one a client was given ends SUCCEEDED), no create sent twice, no orphaned paid task, no 5xx, every error coded';

export const UPSTREAM_ATTACKS: readonly Attack[] = [
  attack({
    id: 'upstream-5xx',
    title: 'Upstream 5xx on creates and reads',
    expected: `${COMMON}; every failed read retried (with backoff); a create answered 5xx is refused UPSTREAM_UNAVAILABLE, kept FAILED and not resent`,
    under: '50% 5xx on creates and reads',
    faults: { serverErrors: { rate: 0.5 }, routes: BOTH_ROUTES },
    ends: 'SUCCEEDED',
    refusals: true,
    check: struck([500, 502, 503], '5xx'),
  }),
  attack({
    id: 'upstream-429',
    title: 'Upstream 429 with Retry-After: 1',
    expected: `${COMMON}; every retry waits the Retry-After; a create is retried after a 429 (nothing was made)`,
    under: '30% 429 (Retry-After: 1) on creates and reads',
    faults: { rateLimit: { rate: 0.3, retryAfterSeconds: 1 }, routes: BOTH_ROUTES },
    ends: 'SUCCEEDED',
    refusals: true,
    check: honoursRetryAfter(1),
  }),
  attack({
    id: 'upstream-reset',
    title: 'Upstream connection resets',
    expected: `${COMMON}; reads retried; a create whose connection broke is refused UPSTREAM_UNAVAILABLE, kept FAILED and not resent`,
    under: '30% connection resets on creates and reads',
    faults: { connectionReset: { rate: 0.3 }, routes: BOTH_ROUTES },
    ends: 'SUCCEEDED',
    refusals: true,
    check: struck([null], 'reset'),
  }),
  attack({
    id: 'upstream-malformed',
    title: 'Upstream malformed JSON (webhook mode)',
    expected: `${COMMON}; reads retried; a create whose 200 is unreadable (the upstream made the task) is refused UPSTREAM_UNAVAILABLE, kept FAILED, not resent, and adopted by its webhook. Webhook mode: in polling mode such a task is unknowable by design`,
    under: '40% truncated JSON answers on creates and reads',
    faults: { malformedJson: { rate: 0.4 }, routes: BOTH_ROUTES },
    truncated: 0.4,
    webhooks: true,
    ends: 'SUCCEEDED',
    refusals: true,
    check: adoptedKept,
  }),
  attack({
    id: 'upstream-latency',
    title: 'Upstream latency (1.5 s on every answer)',
    expected: `${COMMON}; no create refused`,
    under: '1.5 s latency on every answer',
    faults: { latencyMs: 1500 },
    ends: 'SUCCEEDED',
    refusals: false,
  }),
  attack({
    id: 'upstream-failed-tasks',
    title: 'Upstream tasks that fail',
    expected:
      'every task a client was given ends FAILED with the upstream reason quoted as data on one line; no create sent twice, no orphaned paid task, no 5xx, every error coded',
    under: 'failTasks (a two-line reason with a tab, a bell and markup)',
    faults: { failTasks: { reason: FAILURE_REASON } },
    ends: 'FAILED',
    refusals: false,
    check: quotesReason,
  }),
];

/**
 * Webhook mode: a malformed 200 to a create means the upstream made the task; the gateway kept it
 * FAILED, and its webhook must have adopted it, so it ends SUCCEEDED like the others.
 */
function adoptedKept({ results, finals }: Evidence): string[] {
  const unconfirmed = kept(results);
  if (unconfirmed.length === 0) return ['no create answer was malformed: the fault never struck'];
  return unconfirmed.flatMap((id) => {
    const status = finals.get(id)?.status;
    return status === 'SUCCEEDED'
      ? []
      : [`kept task ${id} ended ${status ?? 'unread'}, not adopted`];
  });
}
