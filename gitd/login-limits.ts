/**
 * SSH login limits, as OpenSSH's sshd has them: LoginGraceTime, MaxStartups (a cap on
 * unauthenticated connections with early random drop) and MaxAuthTries. Pure decisions;
 * the sockets, timers and random source live in the SSH server.
 */

/** MaxStartups start:rate:full: beyond start unauthenticated connections, a new one is dropped with probability rate%, rising linearly to 100% at full. */
export interface MaxStartups {
  readonly start: number;
  readonly ratePercent: number;
  readonly full: number;
}

export interface LoginLimits {
  readonly graceMs: number;
  readonly maxStartups: MaxStartups;
  readonly maxAuthTries: number;
  /**
   * Under the cap, the oldest connection that has waited this long without logging in is
   * closed to make room for a new one. A real client logs in well within it.
   */
  readonly evictAfterMs: number;
}

export const defaultLoginLimits: LoginLimits = {
  graceMs: 30_000,
  maxStartups: { start: 10, ratePercent: 30, full: 100 },
  maxAuthTries: 6,
  evictAfterMs: 2_000,
};

/** "start:rate:full", or "N" (refuse beyond N), as in sshd_config; a problem string when it is not one. */
export function parseMaxStartups(text: string): MaxStartups | string {
  const parts = text.split(':');
  const numbers = parts.map((p) => (/^\d{1,6}$/.test(p) ? Number(p) : Number.NaN));
  const [start, rate, full] = numbers;
  if (numbers.some(Number.isNaN) || (parts.length !== 1 && parts.length !== 3) || start === undefined) {
    return `takes start:rate:full (such as 10:30:100) or one number, got "${text}"`;
  }
  if (parts.length === 1) return start >= 1 ? { start, ratePercent: 100, full: start } : `must be at least 1, got "${text}"`;
  if (rate === undefined || full === undefined || start < 1 || rate > 100 || full < start) {
    return `needs start >= 1, rate from 0 to 100 and full >= start, got "${text}"`;
  }
  return { start, ratePercent: rate, full };
}

/** The chance, in percent, that a new connection is dropped while `unauthenticated` others wait (OpenSSH's drop_connection). */
export function dropPercent(limits: MaxStartups, unauthenticated: number): number {
  if (unauthenticated < limits.start) return 0;
  if (unauthenticated >= limits.full || limits.ratePercent >= 100) return 100;
  return limits.ratePercent + ((100 - limits.ratePercent) * (unauthenticated - limits.start)) / (limits.full - limits.start);
}

export interface StartupInput {
  readonly limits: MaxStartups;
  /** Unauthenticated connections open now, the new one not counted. */
  readonly unauthenticated: number;
  /** A draw from [0, 1). */
  readonly random: number;
  /** How long the oldest unauthenticated connection has waited; undefined when there is none. */
  readonly oldestWaitMs: number | undefined;
  readonly evictAfterMs: number;
}

/**
 * admit: let the new connection in. drop: close it (MaxStartups). evict-oldest: close the
 * connection that has waited longest without logging in, and let the new one in. Where
 * OpenSSH would drop the newcomer, a connection that has had its chance goes first: clients
 * that open sockets and never log in, silent or sending a byte now and then, then cannot
 * keep a real login out (it takes well under evictAfterMs), while a burst of new ones is
 * still shed as MaxStartups sheds it.
 */
export function startupDecision({ limits, unauthenticated, random, oldestWaitMs, evictAfterMs }: StartupInput): 'admit' | 'drop' | 'evict-oldest' {
  if (random * 100 >= dropPercent(limits, unauthenticated)) return 'admit';
  return oldestWaitMs !== undefined && oldestWaitMs >= evictAfterMs ? 'evict-oldest' : 'drop';
}

/** Whether a refused authentication request counts toward MaxAuthTries: every method but the "none" probe clients open with. */
export function countsAsAuthFailure(method: string): boolean {
  return method !== 'none';
}
