/**
 * ResourceStore over the Kubernetes apiserver: App, Revision and AutoscalePolicy are the
 * CRDs in manifests/crds. The same checks as the local store run before a request is sent
 * (store-checks.ts), so a bad object gets the same message from both; what only the
 * apiserver knows (conflicts, immutability, its own CEL rules) is mapped to the same error
 * codes. Watches run list-watch.ts's reflector loop.
 */
import { ApiException, CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import { type App, defaultNamespace, type DormantObject, group, hasImmutableSpec, type KindName, kinds, type ObjectOfKind, validateAs, formatProblem, version } from '../../crds/index.js';
import { isDormantError } from '../../errors/index.js';
import { storeErrors } from '../errors.js';
import { EventChannel } from '../core/index.js';
import type { ListOptions, ObjectInput, ResourceStore, WatchEvent, WatchOptions } from '../resource-store.js';
import { admit, checkHosts, checkKey, claimsNewHosts, deepFreeze, defaultDomain, requireResourceVersion } from '../store-checks.js';
import { listWatch } from './list-watch.js';
import { apiClient, defaultRequestTimeoutMs } from './api-client.js';

export interface KubeStoreOptions {
  /** A kubeconfig file; omitted: $KUBECONFIG, ~/.kube/config, or the pod's service account. */
  readonly kubeconfig?: string;
  /** Waits between attempts to re-establish a watch. */
  readonly rewatchDelayMs?: number;
  /** The deadline of one request (not of a watch): 15 s. */
  readonly requestTimeoutMs?: number;
  /** The domain apps are served under (`<app>.<domain>`), for the check that hosts are one app's each; localhost by default. */
  readonly domain?: string;
}

interface ApiStatus {
  readonly kind?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly code?: number;
  readonly details?: { readonly causes?: readonly { readonly field?: string; readonly message?: string }[] };
}

interface ListResponse {
  readonly metadata: { readonly resourceVersion?: string };
  readonly items: DormantObject[];
}

export function loadKubeConfig(file: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (file !== undefined) config.loadFromFile(file);
  else config.loadFromDefault();
  return config;
}

/** The apiserver's answer, whatever form client-node hands it over in. */
function apiStatus(error: unknown): ApiStatus | undefined {
  if (!(error instanceof ApiException)) return undefined;
  const body: unknown = error.body;
  if (typeof body === 'string') {
    try {
      return { code: error.code, ...(JSON.parse(body) as ApiStatus) };
    } catch {
      return { code: error.code, message: body };
    }
  }
  return { code: error.code, ...((body ?? {}) as ApiStatus) };
}

const selectorText = (options: ListOptions) =>
  options.labelSelector === undefined ? undefined : Object.entries(options.labelSelector).map(([key, value]) => `${key}=${value}`).join(',') || undefined;

/** Fields the apiserver adds that Dormant neither reads nor writes back. */
function fromApi<T>(object: T): T {
  const metadata = (object as { metadata?: { managedFields?: unknown } }).metadata;
  if (metadata?.managedFields !== undefined) delete metadata.managedFields;
  return object;
}

/**
 * Runs a request again while the apiserver says it is not ready for it (429, 503: storage
 * initialising after a CRD is installed, or overload) or refuses connections (restarting),
 * at most about 10 s; then its answer stands.
 */
async function whenReady<T>(request: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      const code = error instanceof ApiException ? error.code : 0;
      // Refused: the request was never received, so sending it again is safe (an apiserver restarting).
      const refused = (error as { code?: unknown }).code === 'ECONNREFUSED';
      if ((code !== 429 && code !== 503 && !refused) || attempt >= 20) throw error;
      const retryAfter = Number((error as ApiException<unknown>).headers?.['retry-after']);
      await new Promise((resolve) => setTimeout(resolve, Number.isFinite(retryAfter) && retryAfter > 0 ? Math.min(retryAfter * 1000, 2000) : 500));
    }
  }
}

export class KubeStore implements ResourceStore {
  readonly #api: CustomObjectsApi;
  readonly #watcher: Watch;
  readonly #rewatchDelayMs: number;
  readonly #requestTimeoutMs: number;
  readonly #server: string;
  readonly #domain: string;
  readonly #channels = new Set<EventChannel<WatchEvent<DormantObject>>>();
  #closed = false;

  private constructor(config: KubeConfig, options: KubeStoreOptions) {
    this.#api = apiClient(config, CustomObjectsApi, options.requestTimeoutMs ?? defaultRequestTimeoutMs);
    this.#watcher = new Watch(config);
    this.#rewatchDelayMs = options.rewatchDelayMs ?? 1000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? defaultRequestTimeoutMs;
    this.#server = config.getCurrentCluster()?.server ?? 'the cluster';
    this.#domain = options.domain ?? defaultDomain;
  }

  static async open(options: KubeStoreOptions = {}): Promise<KubeStore> {
    const config = loadKubeConfig(options.kubeconfig);
    const store = new KubeStore(config, options);
    await store.#checkInstalled(config);
    return store;
  }

  /** The CRDs must be installed; say how when they are not. */
  async #checkInstalled(config: KubeConfig): Promise<void> {
    const server = config.getCurrentCluster()?.server ?? 'the cluster';
    try {
      await whenReady(() => this.#api.listClusterCustomObject({ group, version, plural: kinds.App.plural, limit: 1 }));
    } catch (error) {
      const status = apiStatus(error);
      if (status?.code === 404) throw storeErrors.crdsMissing({ server });
      throw storeErrors.apiUnreachable({ server, reason: status?.message ?? (error as Error).message }, { cause: error });
    }
  }

  #translate(error: unknown, kind: string, namespace: string, name: string): unknown {
    const status = apiStatus(error);
    if (status === undefined) {
      if (isDormantError(error)) return error;
      // No answer at all: connection refused or reset, DNS, TLS, or none within the deadline.
      const timedOut = (error as Error).name === 'AbortError' || (error as { type?: string }).type === 'aborted';
      const reason = timedOut ? `no answer within ${this.#requestTimeoutMs / 1000} s` : ((error as Error).message ?? String(error));
      return storeErrors.apiUnreachable({ server: this.#server, reason }, { cause: error });
    }
    if (status.code === 404) return storeErrors.notFound({ kind, namespace, name });
    if (status.code === 409 && status.reason === 'AlreadyExists') return storeErrors.alreadyExists({ kind, namespace, name });
    if (status.code === 422 || status.code === 400) {
      const causes = status.details?.causes ?? [];
      if (causes.some((c) => c.message?.includes('is immutable'))) return storeErrors.immutable({ kind, namespace, name });
      const problems = causes.length > 0 ? causes.map((c) => `${c.field ?? 'object'}: ${c.message ?? 'is invalid'}`) : [status.message ?? 'refused by the apiserver'];
      return storeErrors.invalid({ kind, namespace, name, problems });
    }
    return storeErrors.apiRefused({ kind, namespace, name, status: status.code ?? 0, reason: status.message ?? String(error) }, { cause: error });
  }

  async get<K extends KindName>(kind: K, name: string, namespace = defaultNamespace): Promise<ObjectOfKind[K]> {
    checkKey(kind, name, namespace);
    try {
      return fromApi((await whenReady(() => this.#api.getNamespacedCustomObject({ group, version, namespace, plural: kinds[kind].plural, name }))) as ObjectOfKind[K]);
    } catch (error) {
      throw this.#translate(error, kind, namespace, name);
    }
  }

  async find<K extends KindName>(kind: K, name: string, namespace = defaultNamespace): Promise<ObjectOfKind[K] | undefined> {
    try {
      return await this.get(kind, name, namespace);
    } catch (error) {
      if ((error as { code?: string }).code === 'STORE_NOT_FOUND') return undefined;
      throw error;
    }
  }

  async #list(kind: KindName, options: ListOptions): Promise<ListResponse> {
    const plural = kinds[kind].plural;
    const labelSelector = selectorText(options);
    const request = labelSelector === undefined ? {} : { labelSelector };
    const namespace = options.namespace;
    try {
      const answer =
        namespace === undefined
          ? await whenReady(() => this.#api.listClusterCustomObject({ group, version, plural, ...request }))
          : await whenReady(() => this.#api.listNamespacedCustomObject({ group, version, plural, namespace, ...request }));
      const list = answer as ListResponse;
      for (const item of list.items) fromApi(item);
      return list;
    } catch (error) {
      throw this.#translate(error, kind, options.namespace ?? defaultNamespace, 'list');
    }
  }

  async list<K extends KindName>(kind: K, options: ListOptions = {}): Promise<ObjectOfKind[K][]> {
    if (options.namespace !== undefined) checkKey(kind, 'list', options.namespace);
    const { items } = await this.#list(kind, options);
    const key = (o: DormantObject) => `${o.metadata.namespace ?? ''}\u0000${o.metadata.name}`;
    return (items as ObjectOfKind[K][]).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  async create<K extends KindName>(input: ObjectInput<K>): Promise<ObjectOfKind[K]> {
    const namespace = input.metadata.namespace ?? defaultNamespace;
    const admitted = admit(input, namespace);
    checkKey(input.kind, admitted.metadata.name, namespace);
    const { kind } = input;
    const name = admitted.metadata.name;
    if (admitted.kind === 'App') await this.#checkHosts(admitted, undefined);
    try {
      const body = { ...admitted, apiVersion: `${group}/${version}`, kind, metadata: { ...admitted.metadata, namespace } };
      return fromApi((await whenReady(() => this.#api.createNamespacedCustomObject({ group, version, namespace, plural: kinds[kind].plural, body }))) as ObjectOfKind[K]);
    } catch (error) {
      throw this.#translate(error, kind, namespace, name);
    }
  }

  update<K extends KindName>(input: ObjectInput<K>): Promise<ObjectOfKind[K]> {
    return this.#replace(input, 'spec');
  }

  updateStatus<K extends KindName>(input: ObjectInput<K>): Promise<ObjectOfKind[K]> {
    return this.#replace(input, 'status');
  }

  async #replace<K extends KindName>(input: ObjectInput<K>, part: 'spec' | 'status'): Promise<ObjectOfKind[K]> {
    const namespace = input.metadata.namespace ?? defaultNamespace;
    const { kind } = input;
    const { name, resourceVersion: given } = input.metadata;
    checkKey(kind, name, namespace);
    requireResourceVersion(kind, namespace, name, given);
    let body: DormantObject;
    if (part === 'spec') {
      body = admit(input, namespace);
      if (body.kind === 'App') {
        const current = await this.find('App', name, namespace);
        if (current) await this.#checkHosts(body, current);
      }
    } else {
      // Only the status is the caller's to change here; check it, not the spec it came with.
      const result = validateAs(kind, { ...input, metadata: { ...input.metadata, namespace } });
      const statusProblems = result.ok ? [] : result.problems.filter((p) => p.path === 'status' || p.path.startsWith('status.'));
      if (statusProblems.length > 0) throw storeErrors.invalid({ kind, namespace, name, problems: statusProblems.map(formatProblem) });
      body = { ...(input as unknown as DormantObject), metadata: { ...input.metadata, namespace } } as DormantObject;
    }
    body = { ...body, apiVersion: `${group}/${version}`, kind, metadata: { ...body.metadata, resourceVersion: given } } as DormantObject;
    const request = { group, version, namespace, plural: kinds[kind].plural, name, body };
    try {
      const answer = part === 'spec' ? await whenReady(() => this.#api.replaceNamespacedCustomObject(request)) : await whenReady(() => this.#api.replaceNamespacedCustomObjectStatus(request));
      return fromApi(answer as ObjectOfKind[K]);
    } catch (error) {
      const status = apiStatus(error);
      if (status?.code === 409) {
        const current = await this.find(kind, name, namespace);
        if (current === undefined) throw storeErrors.notFound({ kind, namespace, name });
        throw storeErrors.conflict({ kind, namespace, name, given, current: current.metadata.resourceVersion ?? '' });
      }
      if (part === 'spec' && hasImmutableSpec(kind) && status?.code === 422 && (status.message ?? '').includes('immutable')) {
        throw storeErrors.immutable({ kind, namespace, name });
      }
      throw this.#translate(error, kind, namespace, name);
    }
  }

  /**
   * Hosts are one app's each. The apiserver cannot check this (a CRD has no uniqueness rule,
   * and Dormant runs no admission webhook), so it is checked here before the write: two
   * writers at once, or kubectl, can still get a shared host in, and the activator then
   * routes it to the oldest claim.
   */
  async #checkHosts(candidate: App, current: App | undefined): Promise<void> {
    if (!claimsNewHosts(candidate, current, this.#domain)) return;
    checkHosts(candidate, current, await this.list('App'), this.#domain);
  }

  /**
   * The apiserver answers a delete of a custom resource with a Status, not the object, so
   * the object is read first and the deletion's own resourceVersion is taken from a watch
   * opened before the delete: the DELETED event a watcher sees carries the same version.
   * With finalizers the object stays, marked for deletion, and that is what is returned.
   */
  async delete<K extends KindName>(kind: K, name: string, namespace = defaultNamespace): Promise<ObjectOfKind[K]> {
    checkKey(kind, name, namespace);
    const plural = kinds[kind].plural;
    const current = await this.get(kind, name, namespace);
    const { uid, resourceVersion } = current.metadata;
    let deletedEvent: (object: ObjectOfKind[K]) => void = () => {};
    const seen = new Promise<ObjectOfKind[K]>((resolve) => {
      deletedEvent = resolve;
    });
    let watching: AbortController | undefined;
    try {
      watching = await this.#watcher.watch(
        `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
        { fieldSelector: `metadata.name=${name}`, ...(resourceVersion === undefined ? {} : { resourceVersion }) },
        (type: string, object: ObjectOfKind[K]) => {
          if (type === 'DELETED' && object.metadata?.uid === uid) deletedEvent(fromApi(object));
        },
        () => {},
      );
    } catch {
      watching = undefined;
    }
    // client-node reports a watch that could not start through done() and an aborted controller.
    if (watching?.signal.aborted) watching = undefined;
    try {
      let answer: unknown;
      try {
        // Only the uid as a precondition: status writes by the runtime and autoscaler must not make deleting an App fail.
        answer = await whenReady(() =>
          this.#api.deleteNamespacedCustomObject({ group, version, namespace, plural, name, body: { preconditions: uid === undefined ? {} : { uid } } }),
        );
      } catch (error) {
        throw this.#translate(error, kind, namespace, name);
      }
      const marked = answer as { kind?: string; metadata?: { deletionTimestamp?: string } } | undefined;
      if (marked?.kind === kind && marked.metadata?.deletionTimestamp !== undefined) return fromApi(marked as unknown as ObjectOfKind[K]);
      if (watching === undefined) return current;
      const timeout = new Promise<ObjectOfKind[K]>((resolve) => setTimeout(() => resolve(current), 10_000).unref());
      return await Promise.race([seen, timeout]);
    } finally {
      watching?.abort();
    }
  }

  watch<K extends KindName>(kind: K, options: WatchOptions = {}): AsyncIterable<WatchEvent<ObjectOfKind[K]>> {
    const store = this;
    return {
      async *[Symbol.asyncIterator]() {
        if (options.namespace !== undefined) checkKey(kind, 'watch', options.namespace);
        if (options.signal?.aborted || store.#closed) return;
        const stop = new AbortController();
        const channel = new EventChannel<WatchEvent<DormantObject>>(() => {
          stop.abort();
          store.#channels.delete(channel);
        }, options.signal);
        store.#channels.add(channel);
        void listWatch<DormantObject>({
          watcher: store.#watcher,
          path: `/apis/${group}/${version}${options.namespace === undefined ? '' : `/namespaces/${options.namespace}`}/${kinds[kind].plural}`,
          labelSelector: selectorText(options),
          list: async () => {
            const list = await store.#list(kind, options);
            return { items: list.items, resourceVersion: list.metadata.resourceVersion };
          },
          onEvent: ({ type, object }) => channel.push({ type, object: deepFreeze(fromApi(object)) }),
          retryDelayMs: store.#rewatchDelayMs,
          signal: stop.signal,
        });
        yield* channel as AsyncIterable<WatchEvent<ObjectOfKind[K]>>;
      },
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const channel of [...this.#channels]) channel.end();
  }
}
