/**
 * What an attack is, what it reports, and the ledger every attack that makes tasks closes with:
 * tasks lost, double creates and orphaned paid tasks, read off the emulator's request log and
 * the gateway's own database, never off the gateway's word.
 */
import type { Stack } from './stack.js';

/** The counts the table shows; every one but `cases` must be 0 for an attack to hold. */
export interface Counts {
  /** How many attempts the attack made (requests, rounds, fuzzed inputs…). */
  cases: number;
  /** Tasks a client was given that never reached a final state, or are not stored. */
  lost: number;
  /** Paid upstream tasks beyond one per gateway task. */
  doubleCreates: number;
  /** Paid upstream tasks no gateway task records. */
  orphaned: number;
  /** HTTP answers with a 5xx status (and WebSocket close codes 1011). */
  http500: number;
  /** Secrets found in a response, a close reason, a log line or an error. */
  leaks: number;
}

export const ZERO: Counts = {
  cases: 0,
  lost: 0,
  doubleCreates: 0,
  orphaned: 0,
  http500: 0,
  leaks: 0,
};

export interface Outcome {
  /** What was seen, in one or two sentences with figures. */
  readonly observed: string;
  readonly counts: Counts;
  /** Whether what was expected held (and every count but `cases` is 0). */
  readonly held: boolean;
}

export interface Attack {
  /** Short and stable: `--only` takes it. */
  readonly id: string;
  readonly title: string;
  /** What must hold. */
  readonly expected: string;
  /** Part of the fast set that `pnpm test` (so CI) runs. */
  readonly fast: boolean;
  /** `scale` is 1 for the full suite and smaller in the fast set (fewer rounds, fewer cases). */
  run(scale: Scale): Promise<Outcome>;
}

/** How big a run is: `full` for `pnpm test:reliability`, `fast` inside `pnpm test`. */
export type Scale = 'fast' | 'full';

/** Sums counts. */
export function add(...all: Partial<Counts>[]): Counts {
  const sum = { ...ZERO };
  for (const counts of all) {
    for (const key of Object.keys(sum) as (keyof Counts)[]) sum[key] += counts[key] ?? 0;
  }
  return sum;
}

/** True when every count that must be 0 is. */
export const clean = (counts: Counts): boolean =>
  counts.lost === 0 &&
  counts.doubleCreates === 0 &&
  counts.orphaned === 0 &&
  counts.http500 === 0 &&
  counts.leaks === 0;

/** An outcome that holds when `ok` and the counts are clean. */
export const outcome = (ok: boolean, observed: string, counts: Partial<Counts>): Outcome => {
  const all = add(counts);
  return { observed, counts: all, held: ok && clean(all) };
};

const FINAL = new Set(['SUCCEEDED', 'FAILED']);

/**
 * Closes the books on the tasks clients were given (`accepted`): waits up to `ms` for each to
 * reach a final state in the gateway's database, then counts lost, double and orphaned tasks
 * against every create the emulator answered 200.
 */
export async function ledger(
  stack: Stack,
  accepted: readonly string[],
  ms = 60_000,
): Promise<Pick<Counts, 'lost' | 'doubleCreates' | 'orphaned'>> {
  const end = Date.now() + ms;
  let rows = stack.rows();
  const unfinished = () => {
    const byId = new Map(rows.map((row) => [row.id, row]));
    return accepted.filter((id) => !FINAL.has(byId.get(id)?.status ?? ''));
  };
  while (unfinished().length > 0 && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    rows = stack.rows();
  }
  const paid = new Set(
    stack.emulator
      .requests()
      .filter(
        (entry) =>
          entry.method === 'POST' &&
          entry.path.endsWith('/wan-t2v') &&
          entry.status === 200 &&
          entry.taskId,
      )
      .map((entry) => entry.taskId as string),
  );
  const recorded = new Set(rows.flatMap((row) => (row.upstreamTaskId ? [row.upstreamTaskId] : [])));
  return {
    lost: unfinished().length,
    doubleCreates: Math.max(0, paid.size - rows.length),
    orphaned: [...paid].filter((id) => !recorded.has(id)).length,
  };
}

/** Counts the places any of `secrets` appears in `texts`. */
export function leaksIn(texts: Iterable<string>, secrets: readonly string[]): number {
  let found = 0;
  for (const text of texts) {
    for (const secret of secrets) if (secret && text.includes(secret)) found += 1;
  }
  return found;
}
