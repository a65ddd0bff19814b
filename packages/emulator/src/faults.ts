import { z } from 'zod';

/**
 * How often a fault strikes: `count` strikes the next N matching requests, then stops; `rate`
 * strikes that share of them, spread evenly and deterministically (0.5: every second one).
 */
const trigger = z
  .object({
    rate: z.number().min(0).max(1).optional(),
    count: z.number().int().min(0).optional(),
  })
  .refine((value) => value.rate !== undefined || value.count !== undefined, {
    message: 'give a rate (0 to 1) or a count',
  });

const route = z.enum(['create', 'result']);

/** The fault knobs, as `POST /__emulator/faults` takes them (and `--faults` at start). */
export const faultsSchema = z
  .object({
    /** Milliseconds added before every API answer. */
    latencyMs: z.number().int().min(0).max(60_000).optional(),
    /** Answers replaced by a 5xx, cycling through `statuses`. */
    serverErrors: trigger
      .and(
        z.object({
          statuses: z
            .array(z.union([z.literal(500), z.literal(502), z.literal(503)]))
            .min(1)
            .optional(),
        }),
      )
      .optional(),
    /** Answers replaced by 429 with `Retry-After: retryAfterSeconds`. */
    rateLimit: trigger
      .and(z.object({ retryAfterSeconds: z.number().int().min(0).optional() }))
      .optional(),
    /** Connections dropped without an answer. */
    connectionReset: trigger.optional(),
    /** 200 answers whose body is cut short into invalid JSON. */
    malformedJson: trigger.optional(),
    /** Tasks created from now on end FAILED with this reason. */
    failTasks: z.object({ reason: z.string().min(1) }).optional(),
    /** Tasks created from now on never finish: they stay PROCESSING at `progress`. */
    stallTasks: z.object({ progress: z.number().int().min(0).max(99).optional() }).optional(),
    /** The API routes the answer faults apply to. */
    routes: z.array(route).min(1).optional(),
  })
  .strict();

export type Faults = z.infer<typeof faultsSchema>;
export type ApiRoute = z.infer<typeof route>;

/** What to do to one API request. */
export type Strike =
  | { readonly kind: 'none' }
  | { readonly kind: 'reset' }
  | { readonly kind: 'rate_limit'; readonly retryAfterSeconds: number }
  | { readonly kind: 'server_error'; readonly status: 500 | 502 | 503 }
  | { readonly kind: 'malformed' };

interface Counter {
  seen: number;
  struck: number;
}

/** Holds the current faults and decides, request by request, which one strikes. */
export class FaultInjector {
  #faults: Faults = {};
  #counters = new Map<string, Counter>();

  get current(): Faults {
    return this.#faults;
  }

  set(faults: Faults): void {
    this.#faults = faults;
    this.#counters.clear();
  }

  reset(): void {
    this.set({});
  }

  /** Whether this trigger fires for the next request; updates its counter. */
  #fires(
    name: string,
    rule: { rate?: number | undefined; count?: number | undefined } | undefined,
  ): boolean {
    if (!rule) return false;
    const counter = this.#counters.get(name) ?? { seen: 0, struck: 0 };
    this.#counters.set(name, counter);
    counter.seen++;
    let fire: boolean;
    if (rule.count !== undefined) {
      fire = counter.struck < rule.count;
    } else {
      // Evenly spread: fire when the running share falls behind the rate.
      fire = Math.floor(counter.seen * (rule.rate ?? 0)) > counter.struck;
    }
    if (fire) counter.struck++;
    return fire;
  }

  /** The fault for one request on an API route, if any. Order: reset, 429, 5xx, malformed. */
  strike(routeName: ApiRoute): Strike {
    const faults = this.#faults;
    if (faults.routes && !faults.routes.includes(routeName)) return { kind: 'none' };
    if (this.#fires('reset', faults.connectionReset)) return { kind: 'reset' };
    if (this.#fires('rate', faults.rateLimit)) {
      return { kind: 'rate_limit', retryAfterSeconds: faults.rateLimit?.retryAfterSeconds ?? 1 };
    }
    if (this.#fires('5xx', faults.serverErrors)) {
      const statuses = faults.serverErrors?.statuses ?? [500, 502, 503];
      const struck = this.#counters.get('5xx')?.struck ?? 1;
      return { kind: 'server_error', status: statuses[(struck - 1) % statuses.length] ?? 500 };
    }
    if (this.#fires('malformed', faults.malformedJson)) return { kind: 'malformed' };
    return { kind: 'none' };
  }

  get latencyMs(): number {
    return this.#faults.latencyMs ?? 0;
  }

  /** How a task created now will end, by the faults in force. */
  taskFate():
    | { kind: 'normal' }
    | { kind: 'fail'; reason: string }
    | { kind: 'stall'; progress: number } {
    if (this.#faults.stallTasks)
      return { kind: 'stall', progress: this.#faults.stallTasks.progress ?? 42 };
    if (this.#faults.failTasks) return { kind: 'fail', reason: this.#faults.failTasks.reason };
    return { kind: 'normal' };
  }
}
