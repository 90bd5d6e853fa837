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
const specHashAnnotation = 'dormant.dev/spec-hash';
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
    readonly annotations: Record<string, string>;
    readonly ownerReferences?: readonly { apiVersion: string; kind: string; name: string; uid: string }[];
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

/** What a Certificate in the cluster is, as the plan reads it. */
export interface FoundCertificate {
  readonly name: string;
  readonly specHash: string | undefined;
  readonly secretName: string | undefined;
}

/**
 * The Certificates wanted now: for each App with spec.tls.acme, one per host it holds (the
 * oldest claim, as the activator routes), but not the names Dormant keeps to itself. Each is
 * named as the certificate Secret it fills (the app's name and a hash), so no app can take
 * another's; in the Apps' namespace it is owned by its App.
 */
export function wantedCertificates(apps: readonly CertifiedApp[], options: { domain: string; issuer: CertManagerIssuer; namespace: string; appsNamespace: string }): CertManagerCertificate[] {
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
          annotations: { [specHashAnnotation]: specHash(spec) },
          ...(options.namespace === options.appsNamespace ? { ownerReferences: [{ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', name: app.metadata.name, uid }] } : {}),
        },
        spec,
      });
    }
  }
  return wanted;
}

const specHash = (spec: CertManagerCertificate['spec']): string => createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);

/** The hash a found Certificate carries, to compare with a wanted one's. */
export const specHashOf = (annotations: Readonly<Record<string, string>> | undefined): string | undefined => annotations?.[specHashAnnotation];

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
      return existing !== undefined && existing.specHash !== certificate.metadata.annotations[specHashAnnotation];
    }),
    remove: found.filter((certificate) => !wantedNames.has(certificate.name)),
  };
}
