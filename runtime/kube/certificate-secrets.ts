/**
 * The apps' certificates on Kubernetes: one TLS Secret each (type kubernetes.io/tls,
 * tls.crt and tls.key), labelled with its app, in Dormant's own namespace (where it runs:
 * dormant-system when installed, default from the host), so that the activator may read
 * these and not the apps' config Secrets. In the Apps' namespace, each is owned by its App
 * (collected with it); elsewhere apps delete removes them. kubectl and cert-manager read
 * them as any TLS Secret. The HTTPS listener follows them with a list-and-watch.
 */
import { createHash } from 'node:crypto';
import { CoreV1Api, type KubeConfig, type V1Secret, Watch } from '@kubernetes/client-node';
import { appLabel } from './deployment-spec.js';
import { isNotFound } from './deployments.js';
import { runtimeErrors } from '../errors.js';
import { listWatch } from './list-watch.js';
import { type CertificateRecord, type CertificateStore, readCertificatePair, type StoredCertificate } from '../../tls/index.js';

/** Marks a Secret as one of Dormant's certificates. */
export const certificateLabel = 'dormant.dev/certificate';
const uidAnnotation = 'dormant.dev/app-uid';
const idAnnotation = 'dormant.dev/certificate-id';
const sourceAnnotation = 'dormant.dev/certificate-source';
const addedAnnotation = 'dormant.dev/added-at';

/** The Secret's name: the app's, then a hash of the app and the certificate's name, which no other app's can take (app names may hold -tls-). */
export const certificateSecretName = (app: string, id: string): string => `${app}-tls-${createHash('sha256').update(`${app}/${id}`).digest('hex').slice(0, 20)}`;

const isConflict = (error: unknown) => (error as { code?: number }).code === 409;

/** What marks a Secret as the certificate `id` of an App (its name and uid): read back by list() and the HTTPS listener. Also cert-manager's secretTemplate. */
export function certificateSecretMarks(record: Pick<CertificateRecord, 'app' | 'appUid' | 'id' | 'source'> & { readonly addedAt?: string }): { labels: Record<string, string>; annotations: Record<string, string> } {
  return {
    labels: { [certificateLabel]: 'true', [appLabel]: record.app },
    annotations: { [uidAnnotation]: record.appUid, [idAnnotation]: record.id, [sourceAnnotation]: record.source, ...(record.addedAt === undefined ? {} : { [addedAnnotation]: record.addedAt }) },
  };
}

export class CertificateSecrets implements CertificateStore {
  readonly #core: CoreV1Api;
  readonly #watcher: Watch;
  readonly #namespace: string;

  constructor(options: { config: KubeConfig; namespace?: string }) {
    this.#core = options.config.makeApiClient(CoreV1Api);
    this.#watcher = new Watch(options.config);
    this.#namespace = options.namespace ?? 'default';
  }

  #selector(app?: string): string {
    return app === undefined ? `${certificateLabel}=true` : `${certificateLabel}=true,${appLabel}=${app}`;
  }

  #read(secret: V1Secret, unreadable?: (where: string, error: unknown) => void): StoredCertificate | undefined {
    const where = `secret/${secret.metadata?.name ?? ''}`;
    try {
      const annotations = secret.metadata?.annotations ?? {};
      const app = secret.metadata?.labels?.[appLabel] ?? '';
      const certificatePem = Buffer.from(secret.data?.['tls.crt'] ?? '', 'base64').toString('utf8');
      const privateKeyPem = Buffer.from(secret.data?.['tls.key'] ?? '', 'base64').toString('utf8');
      const facts = readCertificatePair(certificatePem, privateKeyPem, undefined, where);
      const source = annotations[sourceAnnotation] === 'acme' ? 'acme' : 'user';
      return {
        app,
        appUid: annotations[uidAnnotation] ?? '',
        id: annotations[idAnnotation] ?? secret.metadata?.name ?? '',
        source,
        certificatePem,
        privateKeyPem,
        addedAt: annotations[addedAnnotation] ?? secret.metadata?.creationTimestamp?.toISOString() ?? '',
        ...facts,
      };
    } catch (error) {
      unreadable?.(where, error);
      return undefined;
    }
  }

  /** A refusal as Dormant says it (which verb, where, what to do); other errors as they are. */
  #refused(verb: string): (error: unknown) => never {
    return (error: unknown) => {
      if ((error as { code?: number }).code === 403) throw runtimeErrors.certificatesForbidden({ namespace: this.#namespace, verb }, { cause: error });
      throw error;
    };
  }

  async list(app?: string, unreadable?: (where: string, error: unknown) => void): Promise<StoredCertificate[]> {
    const secrets = await this.#core.listNamespacedSecret({ namespace: this.#namespace, labelSelector: this.#selector(app) }).catch(this.#refused('list'));
    return secrets.items.flatMap((secret) => this.#read(secret, unreadable) ?? []).sort((a, b) => `${a.app}/${a.id}`.localeCompare(`${b.app}/${b.id}`));
  }

  async put(record: CertificateRecord): Promise<void> {
    const name = certificateSecretName(record.app, record.id);
    const body: V1Secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name,
        namespace: this.#namespace,
        ...certificateSecretMarks(record),
        // Collected with its App when beside it; a Secret of an App deleted and made again under its name is another App's (the uid differs).
        ...(record.appUid === '' || this.#namespace !== 'default' ? {} : { ownerReferences: [{ apiVersion: 'dormant.dev/v1alpha1', kind: 'App', name: record.app, uid: record.appUid }] }),
      },
      data: { 'tls.crt': Buffer.from(record.certificatePem).toString('base64'), 'tls.key': Buffer.from(record.privateKeyPem).toString('base64') },
    };
    try {
      await this.#core.createNamespacedSecret({ namespace: this.#namespace, body });
    } catch (error) {
      if (!isConflict(error)) this.#refused('create')(error);
      await this.#core.replaceNamespacedSecret({ name, namespace: this.#namespace, body }).catch(this.#refused('update'));
    }
  }

  async removeApp(app: string): Promise<void> {
    await this.#core.deleteCollectionNamespacedSecret({ namespace: this.#namespace, labelSelector: this.#selector(app) }).catch(this.#refused('delete'));
  }

  async remove(app: string, id: string): Promise<boolean> {
    try {
      await this.#core.deleteNamespacedSecret({ name: certificateSecretName(app, id), namespace: this.#namespace });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      return this.#refused('delete')(error);
    }
  }

  watch(onChange: () => void, signal: AbortSignal): void {
    let pending: NodeJS.Timeout | undefined;
    const changed = () => {
      if (pending !== undefined || signal.aborted) return;
      pending = setTimeout(() => {
        pending = undefined;
        onChange();
      }, 20);
      pending.unref();
    };
    signal.addEventListener('abort', () => clearTimeout(pending));
    void listWatch<V1Secret & { metadata: { name: string } }>({
      watcher: this.#watcher,
      path: `/api/v1/namespaces/${this.#namespace}/secrets`,
      labelSelector: this.#selector(),
      list: async () => {
        const list = await this.#core.listNamespacedSecret({ namespace: this.#namespace, labelSelector: this.#selector() });
        return { items: list.items as (V1Secret & { metadata: { name: string } })[], resourceVersion: list.metadata?.resourceVersion };
      },
      onEvent: changed,
      signal,
    });
  }
}
