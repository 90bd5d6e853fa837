/**
 * Which App a host name belongs to. Every app claims `<name>.<domain>` and each host in its
 * spec.routes.hosts; a host belongs to one app only, and the names Dormant serves itself
 * belong to none. The stores refuse a claim on a taken or reserved host; the activator
 * routes a host claimed twice anyway (an object written past the checks: a race between two
 * writers, kubectl on Kubernetes) to the oldest claim. Pure.
 */

/** What of an App says which hosts it holds (an App is one). */
export interface HostHolder {
  readonly metadata: { readonly name: string; readonly namespace?: string | undefined };
  readonly spec: { readonly routes: { readonly hosts: readonly string[] } };
}

/** A host as Dormant compares hosts: lower-case, without port or trailing dot. */
export function normalizeHost(host: string): string {
  let name = host.trim().toLowerCase();
  if (name.startsWith('[')) name = name.slice(0, name.indexOf(']') + 1);
  else name = name.split(':', 1)[0] ?? '';
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** The address every app has: `<name>.<domain>`. */
export const appHost = (app: string, domain: string): string => `${app}.${normalizeHost(domain)}`;

/** Why Dormant keeps this host to itself, or undefined when an app may claim it. */
export function reservedHost(host: string, domain: string): string | undefined {
  const name = normalizeHost(host);
  if (name === '') return 'it is empty';
  if (name === 'localhost') return "it is localhost, where Dormant's list of apps is served";
  if (name === normalizeHost(domain)) return "it is the bare domain, where Dormant's list of apps is served";
  // An IPv4 literal (a last label of digits only) or an IPv6 one: the machine's address, not one app's.
  if (/(^|\.)[0-9]+$/.test(name) || name.startsWith('[')) return "it is an IP address: the machine's, not one app's";
  return undefined;
}

/** The hosts an app claims: its own address first, then spec.routes.hosts, normalized, once each. */
export function appClaims(app: HostHolder, domain: string): string[] {
  return [...new Set([appHost(app.metadata.name, domain), ...app.spec.routes.hosts.map(normalizeHost)])];
}

/** Older claims come first: by creationTimestamp, then by name. */
export function claimOrder(app: { readonly metadata: { readonly name: string; readonly creationTimestamp?: string | undefined } }): string {
  return `${app.metadata.creationTimestamp ?? ''}\u0000${app.metadata.name}`;
}

export type HostRefusal =
  | { readonly host: string; readonly reserved: string }
  | { readonly host: string; readonly owner: string; readonly ownersAddress: boolean; readonly ownAddress: boolean };

/**
 * The first host `candidate` claims that it may not: reserved, or claimed by another app
 * in `others` (its address or its spec.routes.hosts). Only the claims the candidate does
 * not already hold (`held`, from its stored version) are checked, so an app that already
 * shares a host (written past the checks) can still change other settings.
 */
export function refusedHost(candidate: HostHolder, others: Iterable<HostHolder>, domain: string, held: readonly string[] = []): HostRefusal | undefined {
  const own = appHost(candidate.metadata.name, domain);
  const already = new Set(held);
  const claims = appClaims(candidate, domain).filter((host) => !already.has(host));
  for (const host of claims) {
    if (host === own) continue;
    const reserved = reservedHost(host, domain);
    if (reserved !== undefined) return { host, reserved };
  }
  for (const other of others) {
    if (other.metadata.name === candidate.metadata.name && (other.metadata.namespace ?? 'default') === (candidate.metadata.namespace ?? 'default')) continue;
    const otherAddress = appHost(other.metadata.name, domain);
    const taken = new Set(appClaims(other, domain));
    for (const host of claims) {
      if (taken.has(host)) return { host, owner: other.metadata.name, ownersAddress: host === otherAddress, ownAddress: host === own };
    }
  }
  return undefined;
}
