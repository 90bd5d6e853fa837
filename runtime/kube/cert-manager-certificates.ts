/**
 * Keeps cert-manager's Certificates in Dormant's namespace as cert-manager-plan.ts wants
 * them: after every change of an App, after a change of one of these Certificates (deleted
 * by hand, say), and every few minutes. Passes run one at a time; a failed one is logged
 * and the next pass tries again. cert-manager issues and renews; the Secrets it writes are
 * read by the HTTPS listener like any other certificate of Dormant's.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type App, appClaims } from '../../crds/index.js';
import { runtimeErrors } from '../errors.js';
import type { ResourceStore } from '../resource-store.js';
import { apiClient } from './api-client.js';
import { type CertManagerCertificate, type CertManagerIssuer, certificateChanges, certManagerLabel, type FoundCertificate, type FoundSpec, specHash, wantedCertificates } from './cert-manager-plan.js';
import { appLabel } from './deployment-spec.js';
import { isNotFound } from './deployments.js';
import { listWatch } from './list-watch.js';

const group = 'cert-manager.io';
const version = 'v1';
const plural = 'certificates';
const isConflict = (error: unknown) => (error as { code?: number }).code === 409;

interface CertificateObject {
  readonly metadata: { readonly name: string; readonly resourceVersion?: string; readonly labels?: Record<string, string> };
  readonly spec?: FoundSpec & { readonly secretName?: string; readonly dnsNames?: readonly string[] };
}

/** What of an App the plan reads: a pass runs only when one of these changed (not on each status write). */
const planned = (app: App): string => JSON.stringify([app.metadata.uid, app.metadata.creationTimestamp, app.spec.routes.hosts, app.spec.tls?.acme === true]);
/** After a failed pass, the next one comes this soon (then at the usual pace). */
const retryMs = 30_000;

export interface CertManagerCertificatesOptions {
  readonly config: KubeConfig;
  /** Where the Certificates and their Secrets are: Dormant's own namespace (the listener's). */
  readonly namespace: string;
  /** Where the Apps are. */
  readonly appsNamespace: string;
  readonly issuer: CertManagerIssuer;
  readonly domain: string;
  readonly store: Pick<ResourceStore, 'list' | 'watch'>;
  readonly log: Logger;
  /** A platform event of the app's (dormant logs). */
  readonly record?: (app: string, text: string) => void;
  /** Between passes without a change. */
  readonly resyncMs?: number;
}

export class CertManagerCertificates {
  readonly #options: CertManagerCertificatesOptions;
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #watcher: Watch;
  readonly #log: Logger;
  readonly #stop = new AbortController();
  #running: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  /** Each App's planned() as last seen by the watch. */
  readonly #seen = new Map<string, string>();
  /** Each Certificate's specHash as last seen by the watch. */
  readonly #seenCertificates = new Map<string, string>();

  constructor(options: CertManagerCertificatesOptions) {
    this.#options = options;
    this.#custom = apiClient(options.config, CustomObjectsApi);
    this.#core = apiClient(options.config, CoreV1Api);
    this.#watcher = new Watch(options.config);
    this.#log = options.log.child({ component: 'cert-manager' });
  }

  /** Refuses (RUNTIME_CERT_MANAGER_MISSING) when Certificates cannot be listed there: cert-manager's CRDs are not installed, or this identity may not. Warns when the issuer is not found. */
  async check(): Promise<void> {
    const { namespace, issuer } = this.#options;
    try {
      await this.#custom.listNamespacedCustomObject({ group, version, namespace, plural, limit: 1 });
    } catch (error) {
      const code = (error as { code?: number }).code;
      const reason = code === 404 ? "the API has no certificates.cert-manager.io (cert-manager's CRDs are not installed)" : code === 403 ? 'this identity may not list them' : (error as Error).message.slice(0, 300);
      throw runtimeErrors.certManagerMissing({ namespace, reason }, { cause: error });
    }
    try {
      if (issuer.kind === 'ClusterIssuer') await this.#custom.getClusterCustomObject({ group, version, plural: 'clusterissuers', name: issuer.name });
      else await this.#custom.getNamespacedCustomObject({ group, version, namespace, plural: 'issuers', name: issuer.name });
    } catch (error) {
      if (isNotFound(error)) this.#log.warn({ issuer: `${issuer.kind}/${issuer.name}` }, `cert-manager has no ${issuer.kind} ${issuer.name}${issuer.kind === 'Issuer' ? ` in namespace ${namespace}` : ''} yet: certificates wait for it`);
    }
  }

  start(): void {
    const { signal } = this.#stop;
    void (async () => {
      while (!signal.aborted) {
        try {
          for await (const event of this.#options.store.watch('App', { namespace: this.#options.appsNamespace, signal })) {
            const name = event.object.metadata.name;
            const now = event.type === 'DELETED' ? undefined : planned(event.object);
            if (this.#seen.get(name) === now) continue;
            if (now === undefined) this.#seen.delete(name);
            else this.#seen.set(name, now);
            this.#wake();
          }
        } catch (error) {
          if (!signal.aborted) this.#log.warn({ err: error }, 'watching Apps failed; watching again');
        }
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    })();
    void listWatch<CertificateObject>({
      watcher: this.#watcher,
      path: `/apis/${group}/${version}/namespaces/${this.#options.namespace}/${plural}`,
      labelSelector: `${certManagerLabel}=true`,
      list: async () => {
        const list = (await this.#custom.listNamespacedCustomObject({ group, version, namespace: this.#options.namespace, plural, labelSelector: `${certManagerLabel}=true` })) as { items: CertificateObject[]; metadata?: { resourceVersion?: string } };
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion };
      },
      // Its spec changed (by hand) or it was deleted: cert-manager's own status writes are not a reason.
      onEvent: ({ type, object }) => {
        const now = type === 'DELETED' ? undefined : specHash(object.spec ?? {});
        if (this.#seenCertificates.get(object.metadata.name) === now) return;
        if (now === undefined) this.#seenCertificates.delete(object.metadata.name);
        else this.#seenCertificates.set(object.metadata.name, now);
        this.#wake();
      },
      signal,
    });
    this.#wake();
  }

  async close(): Promise<void> {
    this.#stop.abort();
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** A pass soon: at once when none runs, else once the running one ends. */
  #wake(): void {
    if (this.#stop.signal.aborted) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    let failed = false;
    this.#running = this.#pass()
      .then((failures) => {
        failed = failures > 0;
      })
      .catch((error: unknown) => {
        failed = true;
        this.#log.error({ err: error }, `keeping cert-manager's Certificates failed; trying again in ${retryMs / 1000} s`);
      })
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.#wake();
          return;
        }
        this.#timer = setTimeout(() => this.#wake(), failed ? retryMs : (this.#options.resyncMs ?? 300_000));
        this.#timer.unref();
      });
  }

  /** One pass; resolves with how many changes failed (each logged and said among its app's events), rejects when nothing could be read. */
  async #pass(): Promise<number> {
    const { namespace, appsNamespace, issuer, domain } = this.#options;
    const apps: App[] = await this.#options.store.list('App', { namespace: appsNamespace });
    const list = (await this.#custom.listNamespacedCustomObject({ group, version, namespace, plural, labelSelector: `${certManagerLabel}=true` })) as { items: CertificateObject[] };
    const found: (FoundCertificate & { app: string | undefined; hosts: readonly string[] })[] = list.items.map((item) => ({
      name: item.metadata.name,
      specHash: specHash(item.spec ?? {}),
      secretName: item.spec?.secretName,
      app: item.metadata.labels?.[appLabel],
      hosts: item.spec?.dnsNames ?? [],
    }));
    const changes = certificateChanges(wantedCertificates(apps, { domain, issuer, namespace }), found);
    // Hosts each app still holds: a certificate no longer renewed for one of them (automatic certificates turned off) is served until it ends, as the built-in ACME's.
    const held = new Set(apps.flatMap((app) => appClaims(app, domain).map((host) => `${app.metadata.name}/${host}`)));
    let failures = 0;
    // One change that fails (refused, a webhook's answer) does not hold up the others; the pass after it comes sooner.
    const attempt = async (app: string | undefined, what: string, change: () => Promise<void>) => {
      if (this.#stop.signal.aborted) return;
      try {
        await change();
      } catch (error) {
        failures++;
        this.#log.warn({ app, err: error }, `cert-manager: cannot ${what}`);
        if (app !== undefined) this.#options.record?.(app, `TLS: cannot ${what}: ${(error as Error).message.slice(0, 300)} (tried again in ${retryMs / 1000} s)`);
      }
    };
    for (const certificate of changes.create) {
      const app = certificate.metadata.labels[appLabel];
      await attempt(app, `request a certificate for ${certificate.spec.dnsNames.join(', ')} from cert-manager`, async () => {
        if (!(await this.#create(certificate))) return;
        this.#log.info({ app, host: certificate.spec.dnsNames[0] }, 'certificate requested from cert-manager');
        if (app !== undefined) this.#options.record?.(app, `TLS certificate for ${certificate.spec.dnsNames.join(', ')} requested from cert-manager (${issuer.kind} ${issuer.name}): Certificate ${certificate.metadata.name}`);
      });
    }
    for (const certificate of changes.replace) {
      await attempt(certificate.metadata.labels[appLabel], `update the Certificate ${certificate.metadata.name}`, async () => {
        await this.#replace(certificate);
      });
    }
    for (const certificate of changes.remove) {
      await attempt(certificate.app, `remove the Certificate ${certificate.name}`, async () => {
        // The Certificate first, so cert-manager does not write its Secret again; the Secret too when the app no longer holds the host (or is gone).
        await this.#custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name: certificate.name }).catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
        if (certificate.secretName !== undefined && !certificate.hosts.some((host) => held.has(`${certificate.app}/${host}`))) {
          await this.#core.deleteNamespacedSecret({ name: certificate.secretName, namespace }).catch((error: unknown) => {
            if (!isNotFound(error)) throw error;
          });
        }
        this.#log.info({ app: certificate.app, certificate: certificate.name }, "cert-manager's Certificate removed");
      });
    }
    return failures;
  }

  /** Whether it was made: a Certificate of that name that Dormant did not make (without its label) is left alone, and said. */
  async #create(certificate: CertManagerCertificate): Promise<boolean> {
    try {
      await this.#custom.createNamespacedCustomObject({ group, version, namespace: this.#options.namespace, plural, body: certificate });
      return true;
    } catch (error) {
      if (!isConflict(error)) throw error;
      return this.#replace(certificate);
    }
  }

  /** Custom objects are replaced only with the resourceVersion read; never one Dormant did not make. */
  async #replace(certificate: CertManagerCertificate): Promise<boolean> {
    const { namespace } = this.#options;
    const current = (await this.#custom.getNamespacedCustomObject({ group, version, namespace, plural, name: certificate.metadata.name })) as CertificateObject;
    if (current.metadata.labels?.[certManagerLabel] !== 'true') {
      throw new Error(`a Certificate named ${certificate.metadata.name} that Dormant did not make is in namespace ${namespace}; delete or rename it`);
    }
    await this.#custom.replaceNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      name: certificate.metadata.name,
      body: { ...certificate, metadata: { ...certificate.metadata, resourceVersion: current.metadata.resourceVersion } },
    });
    return true;
  }

}
