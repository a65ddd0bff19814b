/**
 * The seconds left now, counted down locally from the last figure the gateway pushed:
 * `eta` seconds were left at `receivedAt`; never below 0. `null` when there is no figure.
 */
export function etaLeft(eta: number | null, receivedAt: number, now: number): number | null {
  if (eta === null) return null;
  const elapsed = Math.max(0, Math.floor((now - receivedAt) / 1000));
  return Math.max(0, eta - elapsed);
}
