/**
 * cert-manager's HTTP-01 challenges, answered by the activator: cert-manager writes each
 * Challenge (its host, token and key authorization) in the namespace of the Certificate,
 * Dormant's own; every activator follows them with a list-and-watch and answers
 * `/.well-known/acme-challenge/TOKEN` for that host, before the app sees the request. So
 * an ACME issuer with an HTTP-01 solver works behind Dormant, whose activators are what the
 * host's name points at; the solver's own pod, Service and Ingress are made by cert-manager
 * and not needed. Only this namespace's Challenges are read: only Dormant's administrators
 * write there.
 */
import { CustomObjectsApi, type KubeConfig, Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Http01Answers } from '../../tls/index.js';
import { apiClient } from './api-client.js';
import { listWatch } from './list-watch.js';

const group = 'acme.cert-manager.io';
const version = 'v1';
const plural = 'challenges';

interface ChallengeObject {
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec?: { readonly type?: string; readonly dnsName?: string; readonly token?: string; readonly key?: string };
}

export class CertManagerChallenges {
  readonly answers = new Http01Answers();
  readonly #custom: CustomObjectsApi;
  readonly #watcher: Watch;
  readonly #namespace: string;
  readonly #log: Logger;
  /** Each Challenge's token, to forget it when the Challenge goes. */
  readonly #tokens = new Map<string, string>();

  constructor(options: { config: KubeConfig; namespace: string; log: Logger }) {
    this.#custom = apiClient(options.config, CustomObjectsApi);
    this.#watcher = new Watch(options.config);
    this.#namespace = options.namespace;
    this.#log = options.log.child({ component: 'cert-manager' });
  }

  start(signal: AbortSignal): void {
    let warned = false;
    void listWatch<ChallengeObject>({
      watcher: this.#watcher,
      path: `/apis/${group}/${version}/namespaces/${this.#namespace}/${plural}`,
      list: async () => {
        const list = (await this.#custom.listNamespacedCustomObject({ group, version, namespace: this.#namespace, plural })) as { items: ChallengeObject[]; metadata?: { resourceVersion?: string } };
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion };
      },
      onEvent: ({ type, object }) => {
        const name = object.metadata.name;
        const known = this.#tokens.get(name);
        if (known !== undefined) this.answers.delete(known);
        this.#tokens.delete(name);
        const spec = object.spec;
        if (type === 'DELETED' || spec?.type !== 'HTTP-01' || !spec.dnsName || !spec.token || !spec.key) return;
        this.#tokens.set(name, spec.token);
        this.answers.set(spec.dnsName.toLowerCase(), spec.token, spec.key);
        this.#log.info({ host: spec.dnsName, challenge: name }, "answering cert-manager's HTTP-01 challenge");
      },
      onFailure: (what, error) => {
        // Once: cert-manager's CRDs may be installed later; the watch keeps trying.
        if (!warned) this.#log.warn({ err: error }, `cannot ${what} cert-manager's Challenges in ${this.#namespace}; HTTP-01 challenges are not answered until it can`);
        warned = true;
      },
      retryDelayMs: 5000,
      signal,
    });
  }
}
