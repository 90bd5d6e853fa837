/**
 * The per-app reconciler: given what should run (the revision, the scale, a rollout being
 * proven) and what runs (the replicas the executor reports) at a time, the actions that
 * bring the one to the other, as plain values, and when to look again. It decides start
 * and drain order (surge: old replicas serve until new ones are ready), when a rollout is
 * proven or has failed, and when a crashed replica's back-off is over. It is pure: the
 * executors perform the actions and call it again after every change, and it is idempotent.
 */

export type ReplicaPhase = 'starting' | 'ready' | 'backoff' | 'draining';

export interface PlannedReplica {
  readonly id: string;
  readonly revision: string;
  readonly phase: ReplicaPhase;
  /** Creation order; higher is newer. */
  readonly sequence: number;
  /** In back-off after a crash: from this time (ms) a new replica may take its place. */
  readonly restartAtMs?: number;
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

/** Replicas to start and drain for a scale and revision: the Deployment controller's surge, as a pure function. */
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

export interface DesiredApp {
  /** The revision replicas should run (a rollout's while it runs); undefined when nothing is deployed. */
  readonly revision: string | undefined;
  readonly scale: number;
  /**
   * A revision being rolled out and not proven yet: it keeps one replica even at scale
   * zero, and a crash of a replica started for it (sequence from firstSequence) fails it.
   */
  readonly rollout: { readonly revision: string; readonly firstSequence: number; readonly deadlineMs?: number } | undefined;
}

export type RuntimeAction =
  | { readonly type: 'StartReplica'; readonly revision: string }
  | { readonly type: 'DrainReplica'; readonly id: string }
  /** A crashed replica whose back-off is over: drop it, a new one takes its place. */
  | { readonly type: 'ForgetReplica'; readonly id: string }
  | { readonly type: 'CompleteRollout'; readonly revision: string }
  /**
   * A replica of the revision being rolled out crashed (replica names it), or the rollout's
   * deadline passed before it was proven (replica undefined): the previous revision stays.
   */
  | { readonly type: 'FailRollout'; readonly revision: string; readonly replica: string | undefined };

export interface Reconciliation {
  readonly actions: readonly RuntimeAction[];
  /** When to reconcile again although nothing changed (a back-off ends); undefined: only on the next change. */
  readonly nextMs: number | undefined;
}

export function reconcile(desired: DesiredApp, replicas: readonly PlannedReplica[], nowMs: number): Reconciliation {
  const rollout = desired.rollout;
  const failed = rollout && replicas.find((r) => r.revision === rollout.revision && r.phase === 'backoff' && r.sequence >= rollout.firstSequence);
  if (rollout && failed) return { actions: [{ type: 'FailRollout', revision: rollout.revision, replica: failed.id }], nextMs: undefined };
  const actions: RuntimeAction[] = [];
  let nextMs: number | undefined;
  const present: PlannedReplica[] = [];
  for (const replica of replicas) {
    if (replica.phase === 'backoff' && replica.restartAtMs !== undefined && replica.revision === desired.revision) {
      if (replica.restartAtMs <= nowMs) {
        actions.push({ type: 'ForgetReplica', id: replica.id });
        continue;
      }
      nextMs = Math.min(nextMs ?? replica.restartAtMs, replica.restartAtMs);
    }
    present.push(replica);
  }
  const plan = planReplicas({
    // A rollout in progress keeps one new replica even if the app is scaled to zero
    // meanwhile, so that it is proven to start (or fails) instead of passing untested.
    desired: rollout ? Math.max(desired.scale, 1) : desired.scale,
    revision: desired.revision,
    replicas: present,
  });
  for (const id of plan.drain) actions.push({ type: 'DrainReplica', id });
  if (desired.revision !== undefined) for (let i = 0; i < plan.start; i++) actions.push({ type: 'StartReplica', revision: desired.revision });
  if (rollout) {
    const draining = new Set(plan.drain);
    const live = present.filter((r) => r.phase !== 'draining' && !draining.has(r.id));
    const readyNew = live.filter((r) => r.revision === rollout.revision && r.phase === 'ready').length;
    if (readyNew >= Math.max(desired.scale, 1) && !live.some((r) => r.revision !== rollout.revision)) actions.push({ type: 'CompleteRollout', revision: rollout.revision });
    else if (rollout.deadlineMs !== undefined) {
      if (rollout.deadlineMs <= nowMs) return { actions: [{ type: 'FailRollout', revision: rollout.revision, replica: undefined }], nextMs: undefined };
      nextMs = Math.min(nextMs ?? rollout.deadlineMs, rollout.deadlineMs);
    }
  }
  return { actions, nextMs };
}
