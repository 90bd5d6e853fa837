/**
 * cert-manager's Certificates for the apps with automatic certificates (spec.tls.acme), when
 * Dormant runs on Kubernetes with `--cert-manager-issuer`: one Certificate per host an app
 * holds, in Dormant's namespace, whose Secret cert-manager writes with the marks of one of
 * Dormant's certificates (its secretTemplate), so the HTTPS listener serves it as it serves
 * any other. How the issuer proves the name (HTTP-01 through the cluster's ingress, DNS-01,
 * a private CA) is the issuer's business. Pure: Apps and the Certificates found in, the
 * changes out.
 */
import { createHash } from 'node:crypto';
import { appClaims, claimOrder, type HostHolder, reservedHost } from '../../crds/index.js';
import { acmeCertificateId } from '../../tls/index.js';
import { certificateSecretMarks, certificateSecretName } from './certificate-secrets.js';
import { appLabel } from './deployment-spec.js';

/** Marks the Certificates Dormant made (and may delete). */
export const certManagerLabel = 'dormant.dev/cert-manager';
/** At most this many per app, as for certificates added by hand. */
const maxPerApp = 48;

export interface CertManagerIssuer {
  readonly kind: 'ClusterIssuer' | 'Issuer';
  readonly name: string;
}

/** An App as the plan reads it (an App is one). */
export interface CertifiedApp extends HostHolder {
  readonly metadata: HostHolder['metadata'] & { readonly uid?: string | undefined; readonly creationTimestamp?: string | undefined };
  readonly spec: HostHolder['spec'] & { readonly tls?: { readonly acme?: boolean | undefined } | undefined };
}

export interface CertManagerCertificate {
  readonly apiVersion: 'cert-manager.io/v1';
  readonly kind: 'Certificate';
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels: Record<string, string>;
  };
  readonly spec: {
    readonly secretName: string;
    readonly dnsNames: readonly string[];
    readonly commonName?: string;
    readonly issuerRef: { readonly group: 'cert-manager.io'; readonly kind: string; readonly name: string };
    readonly secretTemplate: { readonly labels: Record<string, string>; readonly annotations: Record<string, string> };
    readonly privateKey: { readonly rotationPolicy: 'Always' };
  };
}

/** What a Certificate in the cluster is, as the plan reads it (specHash of its spec as found). */
export interface FoundCertificate {
  readonly name: string;
  readonly specHash: string;
  readonly secretName: string | undefined;
}

/**
 * The Certificates wanted now: for each App with spec.tls.acme, one per host it holds (the
 * oldest claim, as the activator routes), but not the names Dormant keeps to itself. Each is
 * named as the certificate Secret it fills (the app's name and a hash), so no app can take
 * another's. Not owned by its App: the garbage collector would delete it before the
 * reconciler could delete the Secret it filled (cert-manager leaves Secrets behind).
 */
export function wantedCertificates(apps: readonly CertifiedApp[], options: { domain: string; issuer: CertManagerIssuer; namespace: string }): CertManagerCertificate[] {
  const owners = new Map<string, string>();
  for (const app of [...apps].sort((a, b) => claimOrder(a).localeCompare(claimOrder(b)))) {
    for (const host of appClaims(app, options.domain)) if (!owners.has(host)) owners.set(host, app.metadata.name);
  }
  const wanted: CertManagerCertificate[] = [];
  for (const app of apps) {
    const uid = app.metadata.uid;
    if (app.spec.tls?.acme !== true || uid === undefined) continue;
    const hosts = appClaims(app, options.domain).filter((host) => owners.get(host) === app.metadata.name && reservedHost(host, options.domain) === undefined);
    for (const host of hosts.slice(0, maxPerApp)) {
      const id = acmeCertificateId(host);
      const name = certificateSecretName(app.metadata.name, id);
      const spec: CertManagerCertificate['spec'] = {
        secretName: name,
        dnsNames: [host],
        // A CN holds 64 characters at most; the name is in subjectAltName either way.
        ...(host.length <= 64 ? { commonName: host } : {}),
        issuerRef: { group: 'cert-manager.io', kind: options.issuer.kind, name: options.issuer.name },
        secretTemplate: certificateSecretMarks({ app: app.metadata.name, appUid: uid, id, source: 'acme' }),
        privateKey: { rotationPolicy: 'Always' },
      };
      wanted.push({
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: {
          name,
          namespace: options.namespace,
          labels: { [certManagerLabel]: 'true', [appLabel]: app.metadata.name },
        },
        spec,
      });
    }
  }
  return wanted;
}

/** A Certificate's spec as found (any fields), for specHash. */
export interface FoundSpec {
  readonly secretName?: unknown;
  readonly dnsNames?: unknown;
  readonly commonName?: unknown;
  readonly issuerRef?: { readonly group?: unknown; readonly kind?: unknown; readonly name?: unknown } | undefined;
  readonly secretTemplate?: { readonly labels?: unknown; readonly annotations?: unknown } | undefined;
  readonly privateKey?: { readonly rotationPolicy?: unknown } | undefined;
}

/** A hash of the fields Dormant sets, read from a spec as found or as wanted: a hand edit of one of them differs, a field cert-manager defaults does not. */
export function specHash(spec: FoundSpec): string {
  const sorted = (value: unknown) => (value !== null && typeof value === 'object' ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b))) : value);
  const fields = [
    spec.secretName,
    spec.dnsNames,
    spec.commonName ?? null,
    [spec.issuerRef?.group ?? null, spec.issuerRef?.kind ?? null, spec.issuerRef?.name ?? null],
    sorted(spec.secretTemplate?.labels ?? null),
    sorted(spec.secretTemplate?.annotations ?? null),
    spec.privateKey?.rotationPolicy ?? null,
  ];
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex').slice(0, 16);
}

/**
 * What to do: create the wanted ones not found, replace those whose spec changed, delete
 * those found that are no longer wanted (with the Secrets they filled: cert-manager leaves
 * them behind).
 */
export function certificateChanges<Found extends FoundCertificate>(
  wanted: readonly CertManagerCertificate[],
  found: readonly Found[],
): { create: CertManagerCertificate[]; replace: CertManagerCertificate[]; remove: Found[] } {
  const foundByName = new Map(found.map((certificate) => [certificate.name, certificate]));
  const wantedNames = new Set(wanted.map((certificate) => certificate.metadata.name));
  return {
    create: wanted.filter((certificate) => !foundByName.has(certificate.metadata.name)),
    replace: wanted.filter((certificate) => {
      const existing = foundByName.get(certificate.metadata.name);
      return existing !== undefined && existing.specHash !== specHash(certificate.spec);
    }),
    remove: found.filter((certificate) => !wantedNames.has(certificate.name)),
  };
}
