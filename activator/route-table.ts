import { appHost, normalizeHost, reservedHost } from '../crds/index.js';

/** One app's claim on a host; `order` sorts older claims first (crds claimOrder). */
interface Claim {
  readonly app: string;
  readonly order: string;
}

/**
 * Host -> app. `<app>.<domain>` always, plus every host an App lists in spec.routes.hosts.
 * A host claimed by two apps (written past the stores' checks: two writers at once, or
 * kubectl) goes to the oldest claim, whatever order the claims arrive in; reserved names
 * (the bare domain, localhost, IP addresses) go to no app. Kept current from the store's
 * watch; a lookup is one map read.
 */
export class RouteTable {
  readonly #domain: string;
  readonly #apps = new Set<string>();
  /** Host -> its claims, oldest first: the first is the owner. */
  readonly #claims = new Map<string, Claim[]>();
  readonly #hostsOf = new Map<string, readonly string[]>();

  constructor(domain: string) {
    this.#domain = normalizeHost(domain);
  }

  get domain(): string {
    return this.#domain;
  }

  /**
   * Records an app's hosts; `order` ranks its claims against other apps' (older first).
   * Returns the hosts it claims that an older claim keeps.
   */
  set(app: string, hosts: readonly string[], order = ''): { host: string; owner: string }[] {
    this.remove(app);
    this.#apps.add(app);
    const claimed = [...new Set([appHost(app, this.#domain), ...hosts.map(normalizeHost)])].filter((host) => reservedHost(host, this.#domain) === undefined);
    this.#hostsOf.set(app, claimed);
    const shadowed: { host: string; owner: string }[] = [];
    for (const host of claimed) {
      const claims = this.#claims.get(host) ?? [];
      claims.push({ app, order });
      claims.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
      this.#claims.set(host, claims);
      const owner = claims[0]?.app;
      if (owner !== undefined && owner !== app) shadowed.push({ host, owner });
    }
    return shadowed;
  }

  remove(app: string): void {
    this.#apps.delete(app);
    for (const host of this.#hostsOf.get(app) ?? []) {
      const claims = (this.#claims.get(host) ?? []).filter((claim) => claim.app !== app);
      if (claims.length === 0) this.#claims.delete(host);
      else this.#claims.set(host, claims);
    }
    this.#hostsOf.delete(app);
  }

  apps(): string[] {
    return [...this.#apps].sort();
  }

  /** The host without port, lower-cased: what the table is keyed by. */
  static hostname(header: string | undefined): string {
    if (!header) return '';
    const host = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.split(':', 1)[0] ?? '';
    return host.toLowerCase();
  }

  /** The app served at this hostname (as hostname() gives it), or undefined. */
  resolve(hostname: string): string | undefined {
    const claims = this.#claims.get(hostname) ?? (hostname.endsWith('.') ? this.#claims.get(hostname.slice(0, -1)) : undefined);
    return claims?.[0]?.app;
  }

  /** The bare domain (and loopback names) show the list of apps. */
  isRoot(hostname: string): boolean {
    return hostname === this.#domain || hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]' || hostname === '';
  }
}
