/**
 * What to start and what to drain, given the replicas an app has: the local runtime's
 * Deployment controller, as a pure function. It runs after every change (a replica got
 * ready, crashed, a new scale or revision) and is idempotent.
 */

export type ReplicaPhase = 'starting' | 'ready' | 'backoff' | 'draining';

export interface PlannedReplica {
  readonly id: string;
  readonly revision: string;
  readonly phase: ReplicaPhase;
  /** Creation order; higher is newer. */
  readonly sequence: number;
}

export interface ReplicaPlanInput {
  readonly desired: number;
  /** The revision replicas should run; undefined when nothing is deployed. */
  readonly revision: string | undefined;
  readonly replicas: readonly PlannedReplica[];
}

export interface ReplicaPlan {
  /** New replicas of the current revision to start. */
  readonly start: number;
  /** Replicas to stop routing to and stop. */
  readonly drain: readonly string[];
}

/** Cheapest to lose first: not started yet, then booting, then serving; newest first. */
const drainOrder: Record<ReplicaPhase, number> = { backoff: 0, starting: 1, ready: 2, draining: 3 };
const byDrainPreference = (a: PlannedReplica, b: PlannedReplica) =>
  drainOrder[a.phase] - drainOrder[b.phase] || b.sequence - a.sequence;

export function planReplicas({ desired, revision, replicas }: ReplicaPlanInput): ReplicaPlan {
  const live = replicas.filter((r) => r.phase !== 'draining');
  const current = live.filter((r) => revision !== undefined && r.revision === revision);
  const previous = live.filter((r) => revision === undefined || r.revision !== revision);
  const drain: string[] = [];

  const surplus = current.length - desired;
  const keptCurrent = [...current].sort(byDrainPreference);
  if (surplus > 0) drain.push(...keptCurrent.splice(0, surplus).map((r) => r.id));
  const start = revision === undefined ? 0 : Math.max(0, desired - current.length);

  // Old replicas that serve nothing go at once; serving ones go as new ones become
  // ready, so capacity never drops below what is desired during a rollout.
  const readyCurrent = keptCurrent.filter((r) => r.phase === 'ready').length;
  const previousSorted = [...previous].sort(byDrainPreference);
  const previousReady = previousSorted.filter((r) => r.phase === 'ready');
  for (const r of previousSorted) if (r.phase !== 'ready') drain.push(r.id);
  const previousReadyToDrain = Math.max(0, Math.min(previousReady.length, readyCurrent + previousReady.length - desired));
  drain.push(...previousReady.slice(0, previousReadyToDrain).map((r) => r.id));

  return { start, drain };
}
