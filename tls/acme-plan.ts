/**
 * Which hosts ACME is to get a certificate for, now: every host of an app with ACME on that
 * a public CA can issue for and that no valid certificate of the app covers for long
 * enough, and not while its last failure backs off. Pure: apps, certificates, failures and
 * the clock in; orders out.
 */
import { appClaims, type HostHolder, reservedHost } from '../crds/index.js';
import { certificateCovers, type HeldCertificate } from './certificate.js';

/** An app as the plan reads it. */
export interface AcmeApp extends HostHolder {
  readonly metadata: HostHolder['metadata'] & { readonly uid?: string | undefined };
  readonly spec: HostHolder['spec'] & { readonly tls?: { readonly acme?: boolean | undefined } | undefined };
}

/** A host's failed orders: how many in a row, and when the next may start. */
export interface AcmeFailures {
  readonly count: number;
  readonly retryAtMs: number;
}

export interface AcmeOrder {
  readonly app: string;
  readonly host: string;
  /** missing: no certificate covers it; renewal: the one that does ends within a third of its life. */
  readonly reason: 'missing' | 'renewal';
}

/** Why a CA will not issue for this host by HTTP-01, or undefined when it may. */
export function acmeIneligible(host: string, domain: string): string | undefined {
  const reserved = reservedHost(host, domain);
  if (reserved !== undefined) return reserved;
  if (host === 'localhost' || host.endsWith('.localhost')) return 'names under localhost cannot be certified by a public CA';
  if (!host.includes('.')) return 'a single-label name cannot be certified by a public CA';
  if (host.startsWith('*.')) return 'a wildcard needs a DNS-01 challenge, and Dormant answers HTTP-01 only';
  return undefined;
}

/** The hosts of an app that ACME would certify (its own address and spec.routes.hosts, minus those no CA issues for). */
export function acmeHostsOf(app: AcmeApp, domain: string): string[] {
  return appClaims(app, domain).filter((host) => acmeIneligible(host, domain) === undefined);
}

/** Renew when less than a third of the certificate's life is left (Let's Encrypt's advice: at two thirds). */
export function renewalDue(certificate: Pick<HeldCertificate, 'notBefore' | 'notAfter'>, nowMs: number): boolean {
  return nowMs >= certificate.notAfter - (certificate.notAfter - certificate.notBefore) / 3;
}

/** The wait after `count` failures in a row: 5 minutes, doubling, at most 12 hours (below Let's Encrypt's 5 failures per host per hour). */
export function retryDelayMs(count: number): number {
  return Math.min(5 * 60_000 * 2 ** Math.max(0, count - 1), 12 * 3_600_000);
}

/**
 * The orders due at nowMs, in app then host order. `certificates` are each app's, by app
 * name (those of another app never cover this one's hosts, whatever their names say).
 */
export function dueOrders(
  apps: readonly AcmeApp[],
  certificates: ReadonlyMap<string, readonly HeldCertificate[]>,
  failures: ReadonlyMap<string, AcmeFailures>,
  domain: string,
  nowMs: number,
): AcmeOrder[] {
  const orders: AcmeOrder[] = [];
  for (const app of apps) {
    if (app.spec.tls?.acme !== true) continue;
    const held = certificates.get(app.metadata.name) ?? [];
    for (const host of acmeHostsOf(app, domain)) {
      const failed = failures.get(host);
      if (failed !== undefined && nowMs < failed.retryAtMs) continue;
      const covering = held.filter((certificate) => certificate.notBefore <= nowMs && certificate.notAfter > nowMs && certificateCovers(certificate, host));
      if (covering.length === 0) orders.push({ app: app.metadata.name, host, reason: 'missing' });
      else if (covering.every((certificate) => renewalDue(certificate, nowMs))) orders.push({ app: app.metadata.name, host, reason: 'renewal' });
    }
  }
  return orders;
}

/** When the plan next has something to do without a change: the earliest renewal or retry after nowMs, or undefined. */
export function nextCheckMs(
  apps: readonly AcmeApp[],
  certificates: ReadonlyMap<string, readonly HeldCertificate[]>,
  failures: ReadonlyMap<string, AcmeFailures>,
  domain: string,
  nowMs: number,
): number | undefined {
  let next: number | undefined;
  const consider = (at: number) => {
    if (at > nowMs && (next === undefined || at < next)) next = at;
  };
  for (const app of apps) {
    if (app.spec.tls?.acme !== true) continue;
    for (const host of acmeHostsOf(app, domain)) {
      const failed = failures.get(host);
      if (failed !== undefined) consider(failed.retryAtMs);
      for (const certificate of certificates.get(app.metadata.name) ?? []) {
        if (certificateCovers(certificate, host)) consider(certificate.notAfter - (certificate.notAfter - certificate.notBefore) / 3);
      }
    }
  }
  return next;
}
