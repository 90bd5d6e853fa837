/** Timings of the local runtime, as pure functions of elapsed time or failure count. */

/**
 * How long to wait before the next readiness probe, given how long the replica has been
 * starting. A refused loopback connect costs microseconds, so probing every 2 ms while
 * most apps boot keeps the added cold-start latency at a few ms; slow starters are
 * probed less often (never less than every 100 ms).
 */
export function probeDelayMs(elapsedMs: number): number {
  if (elapsedMs < 1000) return 2;
  if (elapsedMs < 5000) return 10;
  if (elapsedMs < 20_000) return 50;
  return 100;
}

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
