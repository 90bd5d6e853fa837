import { type App, type Condition, setCondition } from '../../crds/index.js';

/** What a runtime reports of an app in App.status: its replica counts and, when it has one, its Ready condition. */
export interface ReplicaStatus {
  readonly desiredReplicas: number;
  readonly readyReplicas: number;
  readonly ready: Omit<Condition, 'lastTransitionTime'> | undefined;
}

/**
 * The App with the runtime's view written into its status, or undefined when the status
 * already says so: a write that changes nothing is not made (it would wake every watcher
 * of Apps for nothing). Other fields and conditions are kept as they are.
 */
export function withReplicaStatus(app: App, wanted: ReplicaStatus, nowIso: string): App | undefined {
  const status = app.status ?? {};
  const conditions = wanted.ready === undefined ? status.conditions : setCondition(status.conditions, wanted.ready, nowIso);
  if (status.desiredReplicas === wanted.desiredReplicas && status.readyReplicas === wanted.readyReplicas && conditions === status.conditions) return undefined;
  return {
    ...app,
    status: { ...status, desiredReplicas: wanted.desiredReplicas, readyReplicas: wanted.readyReplicas, ...(conditions && conditions.length > 0 ? { conditions: [...conditions] } : {}) },
  };
}

/** A key that is equal for two reports exactly when they would write the same status. */
export function replicaStatusKey(status: ReplicaStatus): string {
  return JSON.stringify([status.desiredReplicas, status.readyReplicas, status.ready?.status, status.ready?.reason, status.ready?.message]);
}
