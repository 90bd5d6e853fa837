import type { KindName, ObjectOfKind } from '../crds/index.js';

/** What a caller hands to create/update: a kind, a name, a spec; the store fills the rest. */
export interface ObjectInput<K extends KindName = KindName> {
  readonly apiVersion: string;
  readonly kind: K;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  };
  readonly spec?: unknown;
  readonly status?: unknown;
}

export interface ListOptions {
  /** Omit for every namespace. */
  readonly namespace?: string;
  /** Every label given must match exactly. */
  readonly labelSelector?: Readonly<Record<string, string>>;
}

/**
 * A watch starts with an ADDED event for every current object, then reports changes
 * (Kubernetes' "start at most recent" semantics). An object that starts or stops matching
 * the selector is ADDED or DELETED. Event objects are frozen: copy before changing one.
 */
export interface WatchOptions extends ListOptions {
  /** Ends the watch. */
  readonly signal?: AbortSignal;
}

export interface WatchEvent<T> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: T;
}

/**
 * Where Dormant objects live. Maps one to one to the Kubernetes API: the local store keeps
 * JSON files, the Kubernetes store is the apiserver. Every implementation runs
 * resource-store-contract.ts.
 */
export interface ResourceStore {
  /** Throws STORE_NOT_FOUND. */
  get<K extends KindName>(kind: K, name: string, namespace?: string): Promise<ObjectOfKind[K]>;
  /** Like get, but undefined when absent. */
  find<K extends KindName>(kind: K, name: string, namespace?: string): Promise<ObjectOfKind[K] | undefined>;
  /** Sorted by namespace, then name. */
  list<K extends KindName>(kind: K, options?: ListOptions): Promise<ObjectOfKind[K][]>;
  /** Validates and defaults; status is ignored (use updateStatus). Throws STORE_ALREADY_EXISTS, STORE_INVALID. */
  create<K extends KindName>(object: ObjectInput<K>): Promise<ObjectOfKind[K]>;
  /**
   * Replaces metadata labels/annotations and spec; status is kept. metadata.resourceVersion
   * is required and must be current (else STORE_INVALID or STORE_CONFLICT).
   */
  update<K extends KindName>(object: ObjectInput<K>): Promise<ObjectOfKind[K]>;
  /** Replaces status only; the same resourceVersion rule as update. */
  updateStatus<K extends KindName>(object: ObjectInput<K>): Promise<ObjectOfKind[K]>;
  /** Returns the deleted object. Throws STORE_NOT_FOUND. */
  delete<K extends KindName>(kind: K, name: string, namespace?: string): Promise<ObjectOfKind[K]>;
  watch<K extends KindName>(kind: K, options?: WatchOptions): AsyncIterable<WatchEvent<ObjectOfKind[K]>>;
  /** Ends every watch and releases files or connections. */
  close(): Promise<void>;
}
