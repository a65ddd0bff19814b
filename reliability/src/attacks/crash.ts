/**
 * Crashes and stops of the gateway process, on its own SQLite file: SIGKILL mid-task while
 * polling; SIGKILL between the upstream's accepting a create and the gateway's recording it, in
 * webhook mode; SIGTERM while a create waits out a long Retry-After; a second process started on
 * the same database. Every task a client was given ends final, the upstream makes each task
 * once, and no paid task is left unrecorded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnGateway } from '@wan-video/test-utils/gateway-process';
import { type Attack, leaksIn, ledger, type Outcome, outcome, type Scale } from '../attack.js';
import { rowsAt, type Stack, type StackOptions, withStack } from '../stack.js';
import {
  breachFigures,
  Client,
  type Created,
  createsIn,
  GENEROUS_LIMITS,
  isFinal,
  isFinalStatus,
  paidIn,
  readsIn,
  settle,
  smallInput,
  startLines,
  tally,
  waitFor,
  waitUntil,
} from './upstream.js';

/**
 * At time scale 1 the tasks of a round take 2, 4.7 and 6.7 s upstream (832x480 at 3, 7 and 10
 * steps): long enough to be caught mid-task, short enough for a fast run.
 */
const ROUND_STEPS = [3, 7, 10] as const;
const roundInput = (k: number) => ({
  ...smallInput(k),
  steps: ROUND_STEPS[k % ROUND_STEPS.length],
});

/** How long a gateway may take to finish what it was given after the last restart. */
const FINISH_MS = 60_000;

/** The ids of the answers that gave the client a task. */
const acceptedIds = (results: readonly Created[]) =>
  results.flatMap((result) => (result.kind === 'accepted' ? [result.id] : []));

/** The statuses of these tasks in the gateway's database ("unstored" when it has none). */
function statusesOf(stack: Stack, ids: readonly string[]): string[] {
  const byId = new Map(stack.rows().map((row) => [row.id, row.status]));
  return ids.map((id) => byId.get(id) ?? 'unstored');
}

/** "each restart found 2 …" when all are equal, else "the restarts found 2, 3, 2 …". */
const perRestart = (values: readonly unknown[], what: string) =>
  new Set(values).size === 1
    ? `each restart found ${values[0]} ${what}`
    : `the restarts found ${values.join(', ')} ${what}`;

/** Sums one field of the gateway's "listening" lines (one per start). */
const startTotal = (stack: Stack, field: string) =>
  startLines(stack).reduce((sum, line) => sum + (Number(line[field]) || 0), 0);

/* ---------------------------------------------------------------- sigkill-polling */

/** Where in a round the kill lands, in turn: each waits for its moment in the gateway's state. */
const KILL_POINTS = ['just answered', 'first read', 'one PROCESSING', 'one SUCCEEDED'] as const;
type KillPoint = (typeof KILL_POINTS)[number];

async function reachKillPoint(stack: Stack, point: KillPoint, ids: readonly string[]) {
  const some = (status: string) => statusesOf(stack, ids).includes(status);
  if (point === 'first read') {
    const mine = new Set(
      stack.rows().flatMap((row) => (ids.includes(row.id) ? [row.upstreamTaskId] : [])),
    );
    await waitFor(
      'a read of the round’s tasks',
      () => readsIn(stack.emulator.requests()).some((entry) => mine.has(entry.taskId)),
      20_000,
    );
  } else if (point === 'one PROCESSING') {
    await waitFor('a task PROCESSING', () => some('PROCESSING'), 20_000);
  } else if (point === 'one SUCCEEDED') {
    await waitFor('a task SUCCEEDED', () => some('SUCCEEDED'), 20_000);
  }
}

/**
 * One round: three creates answered, a SIGKILL at the round's kill point, a restart on the same
 * database. Returns the tasks given and whether one of them was unfinished at the kill.
 */
async function pollingRound(stack: Stack, client: Client, round: number) {
  const problems: string[] = [];
  const results = await Promise.all(
    ROUND_STEPS.map((_, k) => client.generate(roundInput(k), `kill-${round}-${k}`)),
  );
  const ids = acceptedIds(results);
  if (ids.length < ROUND_STEPS.length) {
    problems.push(`creates answered ${tally(results.map((result) => result.kind))}`);
  }
  await reachKillPoint(stack, KILL_POINTS[round % KILL_POINTS.length] as KillPoint, ids);
  const unfinished = statusesOf(stack, ids).some((status) => !isFinalStatus(status));
  const exit = await stack.restart('SIGKILL');
  if (exit.signal !== 'SIGKILL') problems.push(`exit ${JSON.stringify(exit)}`);
  return { ids, unfinished, problems };
}

async function sigkillPolling(scale: Scale): Promise<Outcome> {
  const rounds = scale === 'full' ? 15 : 3;
  return withStack({ env: GENEROUS_LIMITS, emulator: { timeScale: 1 } }, async (stack) => {
    const client = new Client(stack);
    const accepted: string[] = [];
    const breaches: string[] = [];
    let midTask = 0;
    for (let round = 0; round < rounds; round++) {
      const { ids, unfinished, problems } = await pollingRound(stack, client, round);
      accepted.push(...ids);
      if (unfinished) midTask += 1;
      breaches.push(...problems.map((problem) => `round ${round}: ${problem}`));
    }
    const books = await ledger(stack, accepted, FINISH_MS);
    const statuses = statusesOf(stack, accepted);
    const log = stack.emulator.requests();
    const creates = createsIn(log);
    const interrupted = startTotal(stack, 'interrupted');
    if (statuses.some((status) => status !== 'SUCCEEDED')) {
      breaches.push(`tasks ended ${tally(statuses)}`);
    }
    if (creates.length !== accepted.length || paidIn(log).length !== accepted.length) {
      breaches.push(
        `${creates.length} creates (${paidIn(log).length} paid) for ${accepted.length} tasks`,
      );
    }
    if (interrupted > 0) breaches.push(`${interrupted} creates interrupted (none was in flight)`);
    if (midTask < rounds)
      breaches.push(`only ${midTask} of ${rounds} kills found a task of their round unfinished`);
    breaches.push(...client.uncoded.map((error) => `an error without a known code: ${error}`));
    const observed = [
      `${rounds} SIGKILLs (${tally(Array.from({ length: rounds }, (_, r) => KILL_POINTS[r % KILL_POINTS.length] as string))}), ${midTask} with tasks unfinished`,
      `${accepted.length} tasks ended ${tally(statuses)}`,
      `${creates.length} creates upstream, ${readsIn(log).length} reads`,
      `${startTotal(stack, 'resumed')} tasks resumed over ${rounds} restarts, ${interrupted} interrupted`,
      ...breachFigures(breaches),
    ].join('; ');
    return outcome(breaches.length === 0, observed, {
      cases: rounds,
      ...books,
      http500: client.http500,
      leaks: leaksIn([...client.texts, ...stack.output()], stack.secrets),
    });
  });
}

/* ---------------------------------------------------------------- the relay */

/**
 * A relay in front of the emulator, as a proxy on the way would be: every request goes through.
 * While `holding`, the emulator's answer to a create (so the task is made, and paid) is kept back
 * until `release()`: a gateway can be caught between the upstream's 200 and its own write.
 */
class Relay {
  /** The emulator's address (known once the stack is up). */
  target = '';
  holding = false;
  /** The upstream ids of every task made through the relay, whatever the gateway heard. */
  readonly created: string[] = [];
  readonly #held: (() => void)[] = [];
  readonly #server = createServer((req, res) => void this.#relay(req, res));

  static async start(): Promise<Relay> {
    const relay = new Relay();
    await new Promise<void>((resolve) => relay.#server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Sends the answers held back (to a gateway that is gone, they go nowhere). */
  release(): void {
    for (const send of this.#held.splice(0)) send();
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #relay(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const answer = await fetch(`${this.target}${req.url}`, {
        method: req.method ?? 'GET',
        headers: {
          authorization: String(req.headers.authorization ?? ''),
          'content-type': 'application/json',
        },
        ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}),
      });
      const text = await answer.text();
      const retryAfter = answer.headers.get('retry-after');
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, {
          'content-type': 'application/json',
          ...(retryAfter === null ? {} : { 'retry-after': retryAfter }),
        });
        res.end(text);
      };
      if (req.method === 'POST' && answer.ok && (req.url ?? '').endsWith('/wan-t2v')) {
        this.created.push((JSON.parse(text) as { task_id: string }).task_id);
        if (this.holding) {
          this.#held.push(send);
          return;
        }
      }
      send();
    } catch {
      res.destroy();
    }
  }
}

/** Runs `work` on a stack whose gateway reaches the emulator through a relay. */
async function withRelay<T>(
  options: StackOptions,
  work: (stack: Stack, relay: Relay) => Promise<T>,
): Promise<T> {
  const relay = await Relay.start();
  try {
    return await withStack(
      { ...options, env: { ...options.env, NOVITA_BASE_URL: relay.url } },
      async (stack) => {
        relay.target = stack.emulator.url;
        return work(stack, relay);
      },
    );
  } finally {
    await relay.close();
  }
}

/* ---------------------------------------------------------------- sigkill-webhook */

/**
 * Tasks per round: this many answered (2 and 4.7 s upstream), then this many caught between 200
 * and write (2 and 2.7 s: their webhooks come soon after the restart).
 */
const WEBHOOK_ANSWERED = 2;
const WEBHOOK_CAUGHT = 2;

/**
 * Waits (up to 30 s) until every caught create so far has been adopted or has ended. One crash
 * at a time: a gateway killed again and again, down for most of the upstream's 15 s of webhook
 * tries, loses the only news of a caught task (see the report), which is not this attack.
 */
async function adoptedSoFar(stack: Stack, answered: readonly string[]): Promise<void> {
  const given = new Set(answered);
  await waitUntil(
    () =>
      stack.rows().every((row) => given.has(row.id) || row.upstreamTaskId !== null || isFinal(row)),
    30_000,
  );
}

/**
 * One round: two creates answered, then two made upstream whose answers the relay holds, a
 * SIGKILL, and a restart with the relay passing answers again. Returns the tasks given and how
 * many of the held creates went unanswered.
 */
async function webhookRound(stack: Stack, client: Client, relay: Relay, round: number) {
  const problems: string[] = [];
  relay.holding = false;
  const answered = await Promise.all(
    Array.from({ length: WEBHOOK_ANSWERED }, (_, k) =>
      client.generate(roundInput(k), `hook-${round}-${k}`),
    ),
  );
  relay.holding = true;
  const madeBefore = relay.created.length;
  const pending = Array.from({ length: WEBHOOK_CAUGHT }, (_, k) =>
    client.generate(smallInput(k), `hook-${round}-caught-${k}`),
  );
  await waitFor(
    'the held creates to be made upstream',
    () => relay.created.length >= madeBefore + WEBHOOK_CAUGHT,
    20_000,
  );
  const exit = await stack.stop('SIGKILL');
  if (exit.signal !== 'SIGKILL') problems.push(`exit ${JSON.stringify(exit)}`);
  const told = await Promise.all(pending);
  relay.holding = false;
  relay.release();
  await stack.start();
  return {
    ids: acceptedIds([...answered, ...told]),
    unanswered: told.filter((result) => result.kind === 'unanswered').length,
    problems,
  };
}

async function sigkillWebhook(scale: Scale): Promise<Outcome> {
  const rounds = scale === 'full' ? 15 : 3;
  return withRelay(
    { env: GENEROUS_LIMITS, emulator: { timeScale: 1 }, webhooks: true },
    async (stack, relay) => {
      const client = new Client(stack);
      const accepted: string[] = [];
      const breaches: string[] = [];
      let caught = 0;
      for (let round = 0; round < rounds; round++) {
        await adoptedSoFar(stack, accepted);
        const { ids, unanswered, problems } = await webhookRound(stack, client, relay, round);
        accepted.push(...ids);
        caught += unanswered;
        breaches.push(...problems.map((problem) => `round ${round}: ${problem}`));
      }
      const settled = await settle(stack, FINISH_MS);
      const books = await ledger(stack, accepted, 10_000);
      const rows = stack.rows();
      const answeredSet = new Set(accepted);
      const unanswered = rows.filter((row) => !answeredSet.has(row.id));
      const statuses = statusesOf(stack, accepted);
      const log = stack.emulator.requests();
      if (!settled) breaches.push('the books did not settle (a task unfinished or unrecorded)');
      if (statuses.some((status) => status !== 'SUCCEEDED')) {
        breaches.push(`answered tasks ended ${tally(statuses)}`);
      }
      if (caught !== rounds * WEBHOOK_CAUGHT) {
        breaches.push(`${caught} of ${rounds * WEBHOOK_CAUGHT} held creates went unanswered`);
      }
      if (createsIn(log).length !== rows.length) {
        breaches.push(`${createsIn(log).length} creates upstream for ${rows.length} tasks`);
      }
      breaches.push(...client.uncoded.map((error) => `an error without a known code: ${error}`));
      const observed = [
        `${rounds} SIGKILLs, each with ${WEBHOOK_CAUGHT} creates made upstream but unanswered`,
        `${accepted.length} answered tasks ended ${tally(statuses)}`,
        `${unanswered.length} caught ones ended ${tally(unanswered.map((row) => row.status))}, ${unanswered.filter((row) => row.upstreamTaskId).length} adopted by their webhook`,
        perRestart(
          startLines(stack)
            .slice(1)
            .map((line) => line.awaitingWebhook),
          'caught creates awaiting their webhook',
        ),
        `${createsIn(log).length} creates upstream (${paidIn(log).length} paid) for ${rows.length} tasks`,
        ...breachFigures(breaches),
      ].join('; ');
      return outcome(breaches.length === 0, observed, {
        cases: rounds,
        ...books,
        http500: client.http500,
        leaks: leaksIn([...client.texts, ...stack.output()], stack.secrets),
      });
    },
  );
}

/* ---------------------------------------------------------------- sigterm-retry-after */

const SHUTDOWN_TIMEOUT_MS = 3000;
/** Room for the process to be scheduled and its exit noticed on a busy machine. */
const EXIT_SLACK_MS = 1500;

/** One SIGTERM while a create waits out a 40 s Retry-After; returns what it took. */
async function termDuringRetryAfter(stack: Stack, client: Client, round: number) {
  const inProgress = await client.generate(roundInput(2), `term-${round}-running`);
  stack.emulator.setFaults({ rateLimit: { count: 1, retryAfterSeconds: 40 }, routes: ['create'] });
  const createsBefore = createsIn(stack.emulator.requests()).length;
  const waiting = client.generate(roundInput(0), `term-${round}-waiting`);
  await waitFor(
    'the create’s 429',
    () => createsIn(stack.emulator.requests()).at(createsBefore)?.status === 429,
    20_000,
  );
  const runningAtStop =
    inProgress.kind === 'accepted' &&
    !isFinal(stack.rows().find((row) => row.id === inProgress.id));
  const signalledAt = performance.now();
  const exit = await stack.stop('SIGTERM');
  const tookMs = Math.round(performance.now() - signalledAt);
  stack.emulator.setFaults({});
  const told = await waiting;
  await stack.start();
  return { inProgress, runningAtStop, exit, tookMs, told };
}

async function sigtermRetryAfter(scale: Scale): Promise<Outcome> {
  const rounds = scale === 'full' ? 3 : 1;
  return withStack(
    {
      env: { ...GENEROUS_LIMITS, SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) },
      emulator: { timeScale: 1 },
    },
    async (stack) => {
      const client = new Client(stack);
      const breaches: string[] = [];
      const accepted: string[] = [];
      const took: number[] = [];
      const told: string[] = [];
      for (let round = 0; round < rounds; round++) {
        const result = await termDuringRetryAfter(stack, client, round);
        if (result.inProgress.kind === 'accepted') accepted.push(result.inProgress.id);
        else breaches.push(`round ${round}: the running task was ${result.inProgress.kind}`);
        if (!result.runningAtStop) breaches.push(`round ${round}: no task was running at SIGTERM`);
        took.push(result.tookMs);
        if (result.exit.code !== 0)
          breaches.push(`round ${round}: exit ${JSON.stringify(result.exit)}`);
        if (result.tookMs > SHUTDOWN_TIMEOUT_MS + EXIT_SLACK_MS) {
          breaches.push(`round ${round}: SIGTERM took ${result.tookMs} ms`);
        }
        const answer = result.told;
        told.push(answer.kind === 'refused' || answer.kind === 'kept' ? answer.code : answer.kind);
        if (
          answer.kind === 'accepted' ||
          answer.kind === 'kept' ||
          (answer.kind === 'refused' && answer.code !== 'UPSTREAM_UNAVAILABLE')
        ) {
          breaches.push(
            `round ${round}: the waiting create was answered ${JSON.stringify(answer)}`,
          );
        }
      }
      const books = await ledger(stack, accepted, FINISH_MS);
      const rows = stack.rows();
      const statuses = statusesOf(stack, accepted);
      const log = stack.emulator.requests();
      const resumed = startLines(stack).slice(1);
      if (statuses.some((status) => status !== 'SUCCEEDED'))
        breaches.push(`tasks ended ${tally(statuses)}`);
      if (paidIn(log).length !== accepted.length) {
        breaches.push(`${paidIn(log).length} paid creates for ${accepted.length} tasks`);
      }
      if (rows.length !== accepted.length)
        breaches.push(`${rows.length} tasks stored, ${accepted.length} given`);
      if (resumed.some((line) => !(line.resumed >= 1) || line.interrupted !== 0)) {
        breaches.push(
          `restarts said ${JSON.stringify(resumed.map(({ resumed: r, interrupted: i }) => ({ r, i })))}`,
        );
      }
      breaches.push(...client.uncoded.map((error) => `an error without a known code: ${error}`));
      const observed = [
        `${rounds} SIGTERMs (SHUTDOWN_TIMEOUT_MS ${SHUTDOWN_TIMEOUT_MS}) while a create waited out a 40 s Retry-After: exited in ${took.join(', ')} ms`,
        `the waiting clients were told ${tally(told)}`,
        `restarts resumed ${resumed.map((line) => line.resumed).join(', ')} (interrupted ${resumed.map((line) => line.interrupted).join(', ')})`,
        `${accepted.length} running tasks ended ${tally(statuses)}`,
        `${createsIn(log).length} creates upstream (${paidIn(log).length} paid), ${rows.length} stored`,
        ...breachFigures(breaches),
      ].join('; ');
      return outcome(breaches.length === 0, observed, {
        cases: rounds,
        ...books,
        http500: client.http500,
        leaks: leaksIn([...client.texts, ...stack.output()], stack.secrets),
      });
    },
  );
}

/* ---------------------------------------------------------------- two-writers */

/**
 * A relayed stack whose database path this file chose, and the gateway's environment: `Stack`
 * keeps both to itself, and a second process must be started with them.
 */
async function withKnownDatabase<T>(
  work: (stack: Stack, relay: Relay, env: Record<string, string>) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'wan-video-reliability-two-writers-'));
  const databasePath = join(dir, 'gateway.db');
  try {
    return await withRelay({ env: { DATABASE_PATH: databasePath } }, (stack, relay) => {
      const env = {
        NOVITA_API_KEY: stack.upstreamKey,
        NOVITA_BASE_URL: relay.url,
        DATABASE_PATH: databasePath,
        LOG_LEVEL: 'info',
      };
      // The stack reads its own database path: this one reads the path chosen here.
      const view: Stack = Object.create(stack, { rows: { value: () => rowsAt(databasePath) } });
      return work(view, relay, env);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** How a second process on the same database ended. */
interface SecondProcess {
  /** It became healthy (it must not): it was killed, and its output is kept. */
  readonly started: boolean;
  /** Its exit code, when it exited by itself. */
  readonly code: number | null;
  /** Its stderr and stdout. */
  readonly output: string;
}

/**
 * Starts a second gateway process with `env` on a port of its own, expecting it to exit by
 * itself; one that starts instead, or hangs, is killed (within 30 s) rather than waited for.
 */
async function startSecond(env: Record<string, string>): Promise<SecondProcess> {
  try {
    const second = await spawnGateway(await freePort(), env, { healthyWithinMs: 30_000 });
    await second.kill('SIGKILL');
    return { started: true, code: null, output: [...second.stderr, ...second.stdout].join('\n') };
  } catch (error) {
    // spawnGateway's error holds the exit and everything the process wrote.
    const output = error instanceof Error ? error.message : String(error);
    const code = /"code":(\d+)/.exec(output)?.[1];
    return { started: false, code: code === undefined ? null : Number(code), output };
  }
}

/** One second process, started while the first one's create is held between 200 and write. */
async function secondWriter(
  stack: Stack,
  client: Client,
  relay: Relay,
  env: Record<string, string>,
  round: number,
) {
  relay.holding = true;
  const madeBefore = relay.created.length;
  let answered = false;
  const creating = client.generate(roundInput(round), `writer-${round}`).finally(() => {
    answered = true;
  });
  await waitFor('the create to be made upstream', () => relay.created.length > madeBefore, 20_000);
  const second = await startSecond(env);
  // What the first process's tasks looked like once the second had gone, its create still held.
  const heldRows = stack.rows();
  const stillInFlight = !answered;
  relay.holding = false;
  relay.release();
  return { second, heldRows, stillInFlight, created: await creating };
}

/** Why a second process's end is not the clear refusal expected, if it is not. */
function refusalBreach(second: SecondProcess, path: string): string | undefined {
  if (second.started) return 'it started and served';
  if (second.code === 0 || second.code === null) return `it ended: ${second.output.slice(0, 200)}`;
  if (!/another gateway process/i.test(second.output) || !second.output.includes(path)) {
    return `its output does not name the lock on ${path}: ${JSON.stringify(second.output.slice(0, 300))}`;
  }
  return undefined;
}

async function twoWriters(scale: Scale): Promise<Outcome> {
  const rounds = scale === 'full' ? 3 : 1;
  return withKnownDatabase(async (stack, relay, env) => {
    const client = new Client(stack);
    const breaches: string[] = [];
    const accepted: string[] = [];
    const seconds: string[] = [];
    const secondOutput: string[] = [];
    for (let round = 0; round < rounds; round++) {
      const { second, heldRows, stillInFlight, created } = await secondWriter(
        stack,
        client,
        relay,
        env,
        round,
      );
      secondOutput.push(second.output);
      seconds.push(second.started ? 'started' : `exit ${second.code}`);
      const refusal = refusalBreach(second, env.DATABASE_PATH as string);
      if (refusal) breaches.push(`round ${round}: the second process: ${refusal}`);
      if (!stillInFlight) {
        breaches.push(`round ${round}: the create was answered before the second exited`);
      }
      // The held create's task is the one CREATING; none may have been failed.
      const creatingNow = heldRows.filter((row) => row.status === 'CREATING');
      if (creatingNow.length !== 1 || heldRows.some((row) => row.status === 'FAILED')) {
        breaches.push(
          `round ${round}: with the second process gone, tasks were ${tally(heldRows.map((row) => row.status))}`,
        );
      }
      if (created.kind === 'accepted') accepted.push(created.id);
      else
        breaches.push(`round ${round}: the first process's create was ${JSON.stringify(created)}`);
    }
    const books = await ledger(stack, accepted, FINISH_MS);
    const statuses = statusesOf(stack, accepted);
    const log = stack.emulator.requests();
    if (statuses.some((status) => status !== 'SUCCEEDED'))
      breaches.push(`tasks ended ${tally(statuses)}`);
    if (paidIn(log).length !== accepted.length) {
      breaches.push(`${paidIn(log).length} paid creates for ${accepted.length} tasks`);
    }
    breaches.push(...client.uncoded.map((error) => `an error without a known code: ${error}`));
    const message = secondOutput
      .flatMap((output) => output.split('\n'))
      .find((line) => /^wan-video-gateway: another gateway process/i.test(line));
    const observed = [
      `${rounds} second processes on the same DATABASE_PATH while a create was in flight: ${tally(seconds)}${
        message
          ? ` ("${message
              .replace(/^wan-video-gateway: /, '')
              .replaceAll(env.DATABASE_PATH as string, '<DATABASE_PATH>')
              .slice(0, 120)}")`
          : ''
      }`,
      `the first process's ${accepted.length} tasks ended ${tally(statuses)}`,
      `${createsIn(log).length} creates upstream`,
      ...breachFigures(breaches),
    ].join('; ');
    return outcome(breaches.length === 0, observed, {
      cases: rounds,
      ...books,
      http500: client.http500,
      leaks: leaksIn([...client.texts, ...stack.output(), ...secondOutput], stack.secrets),
    });
  });
}

export const CRASH_ATTACKS: readonly Attack[] = [
  {
    id: 'sigkill-polling',
    title: 'SIGKILL mid-task, polling mode',
    expected:
      'after each SIGKILL (just answered, at the first read, PROCESSING, one task done) and a restart on the same database, every task a client was given ends SUCCEEDED, created upstream exactly once',
    fast: true,
    run: sigkillPolling,
  },
  {
    id: 'sigkill-webhook',
    title: 'SIGKILL between the upstream’s 200 and the local write, webhook mode',
    expected:
      'no orphaned paid task (each caught create is adopted by its webhook), no double create, every answered task ends SUCCEEDED; the caught ones end final',
    fast: true,
    run: sigkillWebhook,
  },
  {
    id: 'sigterm-retry-after',
    title: 'SIGTERM while a create waits out a 40 s Retry-After',
    expected: `exits 0 within SHUTDOWN_TIMEOUT_MS (${SHUTDOWN_TIMEOUT_MS} ms, ${EXIT_SLACK_MS} ms of slack); the waiting client is told UPSTREAM_UNAVAILABLE or loses its connection, nothing is made for it; the next start resumes the running task, which ends SUCCEEDED; nothing created twice`,
    fast: true,
    run: sigtermRetryAfter,
  },
  {
    id: 'two-writers',
    title: 'A second gateway process on the same SQLite file',
    expected:
      'the second exits non-zero with a message naming the database it cannot lock, touching no task; the first one’s create in flight ends SUCCEEDED, none marked FAILED',
    fast: true,
    run: twoWriters,
  },
];
