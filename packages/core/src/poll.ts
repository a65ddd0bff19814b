import type { CallOptions, TaskReader } from './client.js';
import { abortReason, type EnvironmentOptions, resolveEnvironment, sleep } from './environment.js';
import { isUpstreamError, PollDeadlineError, type UpstreamError } from './errors.js';
import { isTerminalStatus, reduceTask, type TaskSnapshot } from './task.js';

export interface PollPolicy extends EnvironmentOptions {
  /** Stops the poll: the iterator throws the signal's reason. */
  signal?: AbortSignal;
  /**
   * When to give up, in epoch milliseconds: a task not terminal by then ends the iterator with
   * a `PollDeadlineError`. A last read is made at the deadline itself.
   */
  deadline?: number;
  /**
   * The shortest wait between reads.
   * @default 1000
   */
  minIntervalMs?: number;
  /**
   * The longest wait between reads.
   * @default 10000
   */
  maxIntervalMs?: number;
  /**
   * The wait when neither an eta nor a progress rate is known; it grows by half with each read
   * that changes nothing.
   * @default 2000
   */
  idleIntervalMs?: number;
  /**
   * The share of the expected remaining time to wait before the next read. Halving the
   * remaining time keeps reads few while the task is long and close together near its end.
   * @default 0.5
   */
  etaFraction?: number;
  /**
   * The longest wait between reads while the task is QUEUED. Its eta then covers the queue and
   * the work alike, so waiting on it hides the start of the work (and all the progress before
   * the next read); a read at least this often sees the task start. Reads stay within
   * `ceil(T / 3 s) + 3` for a task of T seconds.
   * @default 3000
   */
  queuedMaxIntervalMs?: number;
  /**
   * How much each wait is spread at random, as a share of it, so that many pollers do not
   * read in step.
   * @default 0.1
   */
  jitter?: number;
  /**
   * How long a read may still run past the deadline (the last read is made at the deadline
   * itself and needs time to answer). A read still running then is abandoned.
   * @default 2000
   */
  deadlineGraceMs?: number;
  /** The last known state, when resuming; only changes from it are yielded. */
  initial?: TaskSnapshot;
  /**
   * Whether `initial` was just read (a task the upstream has just created is known to be
   * QUEUED): then the first read waits as if it followed a read, instead of going out at once
   * only to confirm what is known. A resumed task, which may have moved meanwhile, is read at
   * once (the default).
   * @default false
   */
  initialIsFresh?: boolean;
  /** Told of each transient read failure; polling goes on. */
  onError?: (error: UpstreamError) => void;
  /** Options for each read. */
  read?: Omit<CallOptions, 'signal'>;
}

type ResolvedPolicy = Required<
  Pick<
    PollPolicy,
    | 'minIntervalMs'
    | 'maxIntervalMs'
    | 'idleIntervalMs'
    | 'etaFraction'
    | 'queuedMaxIntervalMs'
    | 'jitter'
    | 'deadlineGraceMs'
  >
>;

export const DEFAULT_POLL_POLICY: ResolvedPolicy = {
  minIntervalMs: 1000,
  maxIntervalMs: 10_000,
  idleIntervalMs: 2000,
  etaFraction: 0.5,
  queuedMaxIntervalMs: 3000,
  jitter: 0.1,
  deadlineGraceMs: 2000,
};

/** What the next wait is computed from. */
export interface PollState {
  readonly snapshot: TaskSnapshot | undefined;
  /** Progress points per second, from the last two readings that moved it; `null` if unknown. */
  readonly progressPerSecond: number | null;
  /** Reads in a row that changed nothing. */
  readonly unchangedReads: number;
  /** Failed reads in a row. */
  readonly failedReads: number;
}

const clamp = (value: number, min: number, max: number): number =>
  Math.min(max, Math.max(min, value));

/**
 * How long to wait before the next read. Pure: the same state, policy and random draw give the
 * same wait.
 *
 * - After failed reads: an exponential backoff from the idle interval, half fixed, half random.
 * - With an eta: that share (`etaFraction`) of the eta.
 * - With a progress rate: that share of the time the rate says is left.
 * - Otherwise: the idle interval, growing by half with each read that changed nothing.
 *
 * Then bounded to [minIntervalMs, maxIntervalMs] (to `queuedMaxIntervalMs` while QUEUED) and
 * spread by `jitter`, staying in bounds.
 */
export function nextPollDelay(
  state: PollState,
  policy: ResolvedPolicy,
  random: () => number,
): number {
  const { minIntervalMs: min } = policy;
  const max =
    state.snapshot?.status === 'QUEUED'
      ? Math.max(min, Math.min(policy.maxIntervalMs, policy.queuedMaxIntervalMs))
      : policy.maxIntervalMs;
  if (state.failedReads > 0) {
    const ceiling = clamp(policy.idleIntervalMs * 2 ** (state.failedReads - 1), min, max);
    return Math.round(ceiling / 2 + (ceiling / 2) * random());
  }
  const snapshot = state.snapshot;
  let wait: number;
  if (snapshot?.etaSeconds != null) {
    wait = snapshot.etaSeconds * 1000 * policy.etaFraction;
  } else if (snapshot && state.progressPerSecond !== null && state.progressPerSecond > 0) {
    const remainingSeconds = (100 - snapshot.progressPercent) / state.progressPerSecond;
    wait = remainingSeconds * 1000 * policy.etaFraction;
  } else {
    wait = policy.idleIntervalMs * 1.5 ** state.unchangedReads;
  }
  const bounded = clamp(wait, min, max);
  const spread = bounded * policy.jitter * (2 * random() - 1);
  return Math.round(clamp(bounded + spread, min, max));
}

/**
 * Follows a task until it reaches a terminal status, yielding each snapshot that changed
 * something (duplicates and illegal transitions are dropped). The generator returns the
 * terminal snapshot.
 *
 * Transient read failures (the client's `retryable` errors) are reported to `onError` and
 * polling goes on with backoff; anything else is thrown. Abort throws the signal's reason; the
 * deadline throws a `PollDeadlineError`.
 */
export async function* pollTask(
  reader: TaskReader,
  taskId: string,
  policy: PollPolicy = {},
): AsyncGenerator<TaskSnapshot, TaskSnapshot, undefined> {
  const env = resolveEnvironment(policy);
  const resolved = resolvePollPolicy(policy);
  const { signal, deadline } = policy;
  if (deadline !== undefined && !Number.isFinite(deadline)) {
    throw new TypeError(`deadline must be a finite time in epoch milliseconds (got ${deadline})`);
  }
  if (policy.initial && policy.initial.taskId !== taskId) {
    throw new TypeError(`initial is a snapshot of task ${policy.initial.taskId}, not of ${taskId}`);
  }
  let current = policy.initial;
  if (current && isTerminalStatus(current.status)) return current;

  let unchangedReads = 0;
  let failedReads = 0;
  let progressPerSecond: number | null = null;
  let lastMove: { at: number; progress: number } | undefined;
  let wait =
    policy.initialIsFresh && current
      ? nextPollDelay(
          { snapshot: current, progressPerSecond, unchangedReads, failedReads },
          resolved,
          env.random,
        )
      : 0;
  /** Set once the read at (or just before) the deadline is under way: there is no other after it. */
  let finalRead = false;
  // One abort for the task's deadline, shared by all its reads (not a controller per read).
  const reads = readsBefore(
    deadline === undefined ? undefined : deadline + resolved.deadlineGraceMs,
    env,
    signal,
  );
  try {
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      if (deadline !== undefined) {
        const left = deadline - env.now();
        if (finalRead || left < 0) throw new PollDeadlineError(taskId, deadline, current);
        if (wait >= left) {
          wait = left;
          finalRead = true;
        }
      }
      if (wait > 0) await sleep(wait, env, signal);

      let snapshot: TaskSnapshot;
      try {
        snapshot = await reader.getTaskResult(taskId, { ...policy.read, ...reads.options() });
        failedReads = 0;
      } catch (error) {
        if (signal?.aborted) throw abortReason(signal);
        if (reads.expired()) throw new PollDeadlineError(taskId, deadline ?? env.now(), current);
        if (!isUpstreamError(error) || !error.retryable) throw error;
        failedReads++;
        policy.onError?.(error);
        wait = Math.max(
          nextPollDelay(
            { snapshot: current, progressPerSecond, unchangedReads, failedReads },
            resolved,
            env.random,
          ),
          error.retryAfterMs ?? 0,
        );
        continue;
      }

      const reduction = reduceTask(current, snapshot);
      if (reduction.outcome === 'changed') {
        const next = reduction.snapshot;
        const at = env.now();
        if (lastMove && next.progressPercent > lastMove.progress && at > lastMove.at) {
          progressPerSecond =
            ((next.progressPercent - lastMove.progress) * 1000) / (at - lastMove.at);
        }
        if (!lastMove || next.progressPercent > lastMove.progress) {
          lastMove = { at, progress: next.progressPercent };
        }
        current = next;
        unchangedReads = 0;
        yield current;
      } else {
        unchangedReads++;
        // A rate measured before the task stalled says nothing now: let the idle backoff work.
        progressPerSecond = null;
      }
      if (current && isTerminalStatus(current.status)) return current;
      wait = nextPollDelay(
        { snapshot: current, progressPerSecond, unchangedReads, failedReads },
        resolved,
        env.random,
      );
    }
  } finally {
    reads.done();
  }
}

function resolvePollPolicy(policy: PollPolicy): ResolvedPolicy {
  const resolved: ResolvedPolicy = {
    minIntervalMs: policy.minIntervalMs ?? DEFAULT_POLL_POLICY.minIntervalMs,
    maxIntervalMs: policy.maxIntervalMs ?? DEFAULT_POLL_POLICY.maxIntervalMs,
    idleIntervalMs: policy.idleIntervalMs ?? DEFAULT_POLL_POLICY.idleIntervalMs,
    etaFraction: policy.etaFraction ?? DEFAULT_POLL_POLICY.etaFraction,
    queuedMaxIntervalMs: policy.queuedMaxIntervalMs ?? DEFAULT_POLL_POLICY.queuedMaxIntervalMs,
    jitter: policy.jitter ?? DEFAULT_POLL_POLICY.jitter,
    deadlineGraceMs: policy.deadlineGraceMs ?? DEFAULT_POLL_POLICY.deadlineGraceMs,
  };
  const { minIntervalMs: min, maxIntervalMs: max, idleIntervalMs, etaFraction, jitter } = resolved;
  const positive = (value: number) => Number.isFinite(value) && value > 0;
  if (!positive(min) || !positive(max) || min > max) {
    throw new RangeError(
      `minIntervalMs (${min}) and maxIntervalMs (${max}) must be positive, min <= max`,
    );
  }
  if (!positive(idleIntervalMs) || !positive(etaFraction)) {
    throw new RangeError('idleIntervalMs and etaFraction must be positive');
  }
  if (!(jitter >= 0 && jitter < 1))
    throw new RangeError(`jitter must be in [0, 1) (got ${jitter})`);
  if (!(resolved.deadlineGraceMs >= 0)) throw new RangeError('deadlineGraceMs must be 0 or more');
  return resolved;
}

/**
 * The options of a task's reads: the caller's signal, and an abort at `until` (the deadline plus
 * its grace) so that a slow read, with the client's own retries, cannot run on past it. One
 * controller and one timer for all the reads of a task, made at its first read; `done` clears
 * them. The timer does not keep the process alive.
 */
function readsBefore(
  until: number | undefined,
  env: ReturnType<typeof resolveEnvironment>,
  signal: AbortSignal | undefined,
) {
  if (until === undefined) {
    const options = signal ? { signal } : {};
    return { options: () => options, expired: () => false, done: () => {} };
  }
  let armed: { options: { signal: AbortSignal }; timer: unknown; onAbort: () => void } | undefined;
  let expired = false;
  return {
    options() {
      if (!armed) {
        const controller = new AbortController();
        const timer = env.setTimeout(
          () => {
            expired = true;
            controller.abort(new DOMException('The poll deadline passed', 'TimeoutError'));
          },
          Math.max(0, until - env.now()),
        );
        (timer as { unref?: () => void } | null)?.unref?.();
        const onAbort = () => controller.abort(signal?.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        armed = { options: { signal: controller.signal }, timer, onAbort };
      }
      return armed.options;
    },
    expired: () => expired,
    done: () => {
      if (!armed) return;
      env.clearTimeout(armed.timer);
      signal?.removeEventListener('abort', armed.onAbort);
    },
  };
}
