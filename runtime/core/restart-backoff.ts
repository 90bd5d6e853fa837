/** Crash back-off of replicas, as pure functions of failure counts and elapsed time (CrashLoopBackOff's rules). */

export interface RestartBackoff {
  readonly baseMs: number;
  readonly maxMs: number;
  /** A replica that stayed ready this long starts the count over (CrashLoopBackOff's reset). */
  readonly resetAfterMs: number;
}

export const defaultRestartBackoff: RestartBackoff = { baseMs: 1000, maxMs: 60_000, resetAfterMs: 300_000 };

/** Delay before restarting after the n-th consecutive failure (n >= 1): base, 2 base, 4 base, ... capped. */
export function restartDelayMs(consecutiveFailures: number, backoff: RestartBackoff): number {
  const exponent = Math.max(0, consecutiveFailures - 1);
  return Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(exponent, 30));
}

/** The failure count after a replica exits, given how long it had been ready (undefined: never). */
export function nextFailureCount(previous: number, readyForMs: number | undefined, backoff: RestartBackoff): number {
  if (readyForMs !== undefined && readyForMs >= backoff.resetAfterMs) return 1;
  return previous + 1;
}
