import { defaultNamespace, type KindName, type ObjectOfKind } from '../../crds/index.js';
import type { ResourceStore, WatchEvent } from '../resource-store.js';

export interface InformerOptions {
  readonly namespace?: string;
  /** Told when the watch ends other than by stop() (the store closed or failed). */
  readonly onEnd?: (error: unknown) => void;
}

/**
 * An in-memory copy of one kind, fed by the store's watch, as Kubernetes controllers keep
 * theirs: readers look objects up here instead of re-reading the store, and each watch
 * event carries the one object that changed, so the work per change does not grow with
 * the number of objects.
 */
export class Informer<K extends KindName> {
  readonly #store: ResourceStore;
  readonly #kind: K;
  readonly #options: InformerOptions;
  readonly #objects = new Map<string, ObjectOfKind[K]>();
  readonly #listeners = new Set<(event: WatchEvent<ObjectOfKind[K]>) => void>();
  readonly #stop = new AbortController();

  constructor(store: ResourceStore, kind: K, options: InformerOptions = {}) {
    this.#store = store;
    this.#kind = kind;
    this.#options = options;
  }

  /** Resolves once the cache holds what the store held at the start; follows changes until stop(). */
  async start(): Promise<void> {
    const namespace = this.#options.namespace;
    const listed = await this.#store.list(this.#kind, namespace === undefined ? {} : { namespace });
    for (const object of listed) this.#objects.set(keyOf(object), object);
    void (async () => {
      // The watch repeats the current objects as ADDED first; those already cached at their version change nothing.
      for await (const event of this.#store.watch(this.#kind, { ...(namespace === undefined ? {} : { namespace }), signal: this.#stop.signal })) this.#apply(event);
    })().then(
      () => {
        if (!this.#stop.signal.aborted) this.#options.onEnd?.(undefined);
      },
      (error: unknown) => this.#options.onEnd?.(error),
    );
  }

  #apply(event: WatchEvent<ObjectOfKind[K]>): void {
    const key = keyOf(event.object);
    const cached = this.#objects.get(key);
    if (event.type === 'DELETED') {
      if (!cached) return;
      this.#objects.delete(key);
    } else {
      if (cached?.metadata.resourceVersion === event.object.metadata.resourceVersion) return;
      this.#objects.set(key, event.object);
    }
    for (const listener of this.#listeners) listener(event);
  }

  get(name: string, namespace: string = defaultNamespace): ObjectOfKind[K] | undefined {
    return this.#objects.get(`${namespace}/${name}`);
  }

  list(): IterableIterator<ObjectOfKind[K]> {
    return this.#objects.values();
  }

  get size(): number {
    return this.#objects.size;
  }

  /** Calls listener with every change from now on; returns the way to stop. */
  onChange(listener: (event: WatchEvent<ObjectOfKind[K]>) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  stop(): void {
    this.#stop.abort();
    this.#listeners.clear();
  }
}

const keyOf = (object: { metadata: { name: string; namespace?: string | undefined } }): string => `${object.metadata.namespace ?? defaultNamespace}/${object.metadata.name}`;
