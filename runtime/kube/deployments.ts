/**
 * The apiserver calls the Kubernetes executor makes on Deployments: create one per
 * Revision, scale, read, list and delete an app's. No decisions: what to scale comes from
 * the reconciler.
 */
import type { AppsV1Api, CoreV1Api, V1Deployment } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { App, Revision } from '../../crds/index.js';
import { appLabel, deploymentFor, envSecretFor } from './deployment-spec.js';

const isConflict = (error: unknown) => (error as { code?: number }).code === 409;
export const isNotFound = (error: unknown) => (error as { code?: number }).code === 404;

export class Deployments {
  readonly #api: AppsV1Api;
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  readonly #log: Logger;

  constructor(api: AppsV1Api, core: CoreV1Api, namespace: string, log: Logger) {
    this.#api = api;
    this.#core = core;
    this.#namespace = namespace;
    this.#log = log;
  }

  /** Every Deployment of every app, with the resourceVersion to watch from. */
  async list(): Promise<{ items: (V1Deployment & { metadata: { name: string } })[]; resourceVersion: string | undefined }> {
    const list = await this.#api.listNamespacedDeployment({ namespace: this.#namespace, labelSelector: appLabel });
    return { items: list.items as (V1Deployment & { metadata: { name: string } })[], resourceVersion: list.metadata?.resourceVersion };
  }

  /** Its scale as the apiserver has it now. */
  async replicas(name: string): Promise<number> {
    const deployment = await this.#api.readNamespacedDeployment({ name, namespace: this.#namespace });
    return deployment.spec?.replicas ?? 0;
  }

  async scale(name: string, replicas: number): Promise<void> {
    await this.#api.replaceNamespacedDeploymentScale({
      name,
      namespace: this.#namespace,
      body: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name, namespace: this.#namespace }, spec: { replicas } },
    });
  }

  /**
   * Creates the revision's Deployment, or takes over the one that exists when it is this
   * App's and runs this image. One left by an earlier App of the same name (revision names
   * start again at 00001 once an App's Revisions are gone) is replaced, not reused.
   */
  async ensure(app: App, revision: Revision, replicas: number): Promise<void> {
    await this.#ensureEnvSecret(app, revision);
    const body = deploymentFor(app, revision, replicas);
    const name = revision.metadata.name;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#api.createNamespacedDeployment({ namespace: this.#namespace, body });
        return;
      } catch (error) {
        if (!isConflict(error) || attempt >= 1) throw error;
      }
      const existing = await this.#api.readNamespacedDeployment({ name, namespace: this.#namespace });
      const ours = existing.metadata?.ownerReferences?.some((o) => o.kind === 'App' && o.uid === app.metadata.uid) ?? false;
      const sameImage = existing.spec?.template.spec?.containers[0]?.image === revision.status?.image;
      if (ours && sameImage) {
        await this.scale(name, replicas);
        return;
      }
      this.#log.warn({ app: app.metadata.name, deployment: name }, 'replacing a Deployment of the same name left by an earlier app');
      await this.#api.deleteNamespacedDeployment({ name, namespace: this.#namespace, body: { propagationPolicy: 'Background', preconditions: { uid: existing.metadata?.uid ?? '' } } }).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      const gone = performance.now() + 30_000;
      while (performance.now() < gone) {
        const still = await this.#api.readNamespacedDeployment({ name, namespace: this.#namespace }).catch(() => undefined);
        if (!still) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /**
   * The revision's environment as its Secret, before the Deployment whose pods read it. One
   * of the same name (a retried rollout, an earlier App's) is replaced: what it holds follows
   * from the revision alone, and Dormant never needs to read a Secret back.
   */
  async #ensureEnvSecret(app: App, revision: Revision): Promise<void> {
    const body = envSecretFor(app, revision);
    if (!body) return;
    const name = revision.metadata.name;
    try {
      await this.#core.createNamespacedSecret({ namespace: this.#namespace, body });
    } catch (error) {
      if (!isConflict(error)) throw error;
      await this.#core.replaceNamespacedSecret({ name, namespace: this.#namespace, body });
    }
  }

  /** Deletes every Deployment of the app (a retired app: nothing serves it any more). */
  async deleteAll(app: string): Promise<void> {
    await this.#api.deleteCollectionNamespacedDeployment({ namespace: this.#namespace, labelSelector: `${appLabel}=${app}` });
  }
}
