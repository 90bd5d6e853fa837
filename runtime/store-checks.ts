/**
 * What every ResourceStore checks the same way, so the local files and the apiserver give
 * the same answers: names before they reach a path or a URL, the caller's object against
 * the schema (with defaults), label selectors, and frozen events.
 */
import { type App, appClaims, type HostHolder, defaultNamespace, type DormantObject, formatProblem, isKindName, type KindName, kindNames, type ObjectOfKind, refusedHost, validateAs } from '../crds/index.js';
import { storeErrors } from './errors.js';
import type { ListOptions, ObjectInput } from './resource-store.js';

export const namePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Anything but a DNS-1123 label is refused before it reaches a path or a URL. */
export function checkKey(kind: string, name: string, namespace: string): void {
  const problems: string[] = [];
  if (!namePattern.test(name) || name.length > 253) problems.push(`metadata.name: ${JSON.stringify(name)} is not a valid name; use lower-case letters, digits and '-'`);
  if (!namePattern.test(namespace) || namespace.length > 63) problems.push(`metadata.namespace: ${JSON.stringify(namespace)} is not a valid namespace; use lower-case letters, digits and '-'`);
  if (problems.length > 0) throw storeErrors.invalid({ kind, namespace: namePattern.test(namespace) ? namespace : defaultNamespace, name: String(name), problems });
}

/** As the apiserver does for custom resources: no blind overwrites, an update names the version it read. */
export function requireResourceVersion(kind: string, namespace: string, name: string, given: string | undefined): asserts given is string {
  if (given === undefined || given === '') {
    throw storeErrors.invalid({
      kind,
      namespace,
      name,
      problems: ['metadata.resourceVersion: is required for an update; read the object first and send it back with its resourceVersion'],
    });
  }
}

/** Validates and defaults the caller's object; status is dropped (it belongs to updateStatus). */
export function admit<K extends KindName>(input: ObjectInput<K>, namespace: string): ObjectOfKind[K] {
  const kind: unknown = input.kind;
  if (!isKindName(kind)) {
    throw storeErrors.invalid({ kind: String(kind), namespace, name: String(input.metadata?.name), problems: [`kind: ${JSON.stringify(kind)} is not a Dormant kind; use one of ${kindNames.join(', ')}`] });
  }
  const { status: _status, ...rest } = input;
  const result = validateAs(kind, { ...rest, metadata: { ...input.metadata, namespace } });
  if (!result.ok) throw storeErrors.invalid({ kind, namespace, name: String(input.metadata?.name), problems: result.problems.map(formatProblem) });
  return result.object as ObjectOfKind[K];
}

export function matches(object: DormantObject, options: ListOptions): boolean {
  if (options.namespace !== undefined && object.metadata.namespace !== options.namespace) return false;
  const selector = options.labelSelector;
  if (selector) {
    const labels = object.metadata.labels ?? {};
    for (const [key, value] of Object.entries(selector)) if (labels[key] !== value) return false;
  }
  return true;
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** The domain apps are served under when a store is not told: Dormant's default. */
export const defaultDomain = 'localhost';

/** Whether an App claims a host its stored version (`current`; undefined on create) does not: only then are the other Apps read. */
export function claimsNewHosts(candidate: App, current: App | undefined, domain: string): boolean {
  if (current === undefined) return true;
  const held = new Set(appClaims(current, domain));
  return appClaims(candidate, domain).some((host) => !held.has(host));
}

/**
 * Hosts are one app's each: refuses an App that claims a reserved host or one another app
 * claims (see crds/app-hosts.ts), naming the owner. `current` is the App as stored
 * (undefined on create); only the hosts it adds are checked.
 */
export function checkHosts(candidate: App, current: App | undefined, others: Iterable<HostHolder>, domain: string): void {
  const refusal = refusedHost(candidate, others, domain, current === undefined ? [] : appClaims(current, domain));
  if (refusal === undefined) return;
  const where = { kind: 'App', namespace: candidate.metadata.namespace ?? defaultNamespace, name: candidate.metadata.name, host: refusal.host };
  if ('reserved' in refusal) throw storeErrors.hostReserved({ ...where, reason: refusal.reserved });
  throw storeErrors.hostTaken({ ...where, owner: refusal.owner, ownersAddress: refusal.ownersAddress, ownAddress: refusal.ownAddress });
}
