import type { Condition } from './meta.js';

/** A time as the API writes it: RFC 3339 in UTC, to the second, as Kubernetes' metav1.Time. */
export function apiTimestamp(time: Date | number): string {
  return new Date(time).toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * The conditions with `condition` set in place of the one of its type, as Kubernetes'
 * meta.SetStatusCondition: lastTransitionTime moves only when the status changes. Returns
 * the same array when nothing would change, so a caller can skip a write that changes nothing.
 */
export function setCondition(conditions: readonly Condition[] | undefined, condition: Omit<Condition, 'lastTransitionTime'>, nowIso: string): readonly Condition[] {
  const current = conditions ?? [];
  const previous = current.find((c) => c.type === condition.type);
  if (previous && previous.status === condition.status && previous.reason === condition.reason && previous.message === condition.message) return current;
  const lastTransitionTime = previous && previous.status === condition.status && previous.lastTransitionTime ? previous.lastTransitionTime : nowIso;
  return [...current.filter((c) => c.type !== condition.type), { ...condition, lastTransitionTime }];
}
