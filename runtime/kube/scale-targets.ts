/**
 * From the reconciler's actions to Deployment scales. Kubernetes starts and stops pods
 * itself: a StartReplica is one more pod for its revision's Deployment, a DrainReplica one
 * fewer for the pod's. Every Deployment of the app gets a scale: the pods it keeps plus
 * those to start, and zero when neither. Pure.
 */
import type { PlannedReplica, RuntimeAction } from '../core/index.js';

export function scaleTargets(replicas: readonly PlannedReplica[], actions: readonly RuntimeAction[], deployments: Iterable<string>): Map<string, number> {
  const targets = new Map<string, number>();
  for (const deployment of deployments) targets.set(deployment, 0);
  const revisionOf = new Map<string, string>();
  for (const replica of replicas) {
    revisionOf.set(replica.id, replica.revision);
    if (replica.phase !== 'draining') targets.set(replica.revision, (targets.get(replica.revision) ?? 0) + 1);
  }
  for (const action of actions) {
    if (action.type === 'StartReplica') targets.set(action.revision, (targets.get(action.revision) ?? 0) + 1);
    else if (action.type === 'DrainReplica' || action.type === 'ForgetReplica') {
      const revision = revisionOf.get(action.id);
      if (revision !== undefined) targets.set(revision, Math.max(0, (targets.get(revision) ?? 0) - 1));
    }
  }
  return targets;
}
