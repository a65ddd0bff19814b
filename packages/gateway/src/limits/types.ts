/** Per-client limits shared by every replica (in Redis) or by this process (in memory). */
export interface Limits {
  /**
   * Takes one video from the client's per-minute budget. Resolves when allowed; rejects with
   * RATE_LIMITED (with `retryAfterSeconds`) when the budget is spent.
   */
  consumeMutation(owner: string): Promise<void>;
  close(): Promise<void>;
}
