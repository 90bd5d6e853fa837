/**
 * Host -> app. `<app>.<domain>` always, plus every host an App lists in spec.routes.hosts.
 * Kept current from the store's watch; lookups are two map reads.
 */
export class RouteTable {
  readonly #domain: string;
  readonly #suffix: string;
  readonly #apps = new Set<string>();
  /** Extra hosts (spec.routes.hosts) -> app. */
  readonly #hosts = new Map<string, string>();
  readonly #hostsOf = new Map<string, readonly string[]>();

  constructor(domain: string) {
    this.#domain = domain.toLowerCase();
    this.#suffix = `.${this.#domain}`;
  }

  get domain(): string {
    return this.#domain;
  }

  set(app: string, hosts: readonly string[]): void {
    this.remove(app);
    this.#apps.add(app);
    this.#hostsOf.set(app, hosts);
    for (const host of hosts) this.#hosts.set(host.toLowerCase(), app);
  }

  remove(app: string): void {
    this.#apps.delete(app);
    for (const host of this.#hostsOf.get(app) ?? []) if (this.#hosts.get(host) === app) this.#hosts.delete(host);
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

  /** The app served at this hostname, 'root' for Dormant's own page, or undefined. */
  resolve(hostname: string): string | undefined {
    const explicit = this.#hosts.get(hostname);
    if (explicit !== undefined) return explicit;
    if (hostname.endsWith(this.#suffix)) {
      const app = hostname.slice(0, -this.#suffix.length);
      return this.#apps.has(app) ? app : undefined;
    }
    return undefined;
  }

  /** The bare domain (and loopback names) show the list of apps. */
  isRoot(hostname: string): boolean {
    return hostname === this.#domain || hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]' || hostname === '';
  }
}
