export { runtimeErrors, storeErrors } from './errors.js';
export { updateWithRetry } from './update-with-retry.js';
export { LocalStore, type LocalStoreOptions } from './local-store/local-store.js';
export { LocalRuntime, type LocalRuntimeOptions, type ReplicaReport } from './local/local-runtime.js';
export { readAppLogs } from './local/log-book.js';
export type { ListOptions, ObjectInput, ResourceStore, WatchEvent, WatchOptions } from './resource-store.js';
export type { Endpoint, LogLine, LogOptions, OneOffProcess, RolloutOptions, Runtime, TerminalSize } from './runtime.js';
export type { KubeRuntime, KubeRuntimeOptions, KubeStore, KubeStoreOptions } from './kube/index.js';
/** The Kubernetes store and runtime, loaded when first needed (the client takes half a second to load). */
export const loadKubernetesBackend = () => import('./kube/index.js');
export { Informer, type InformerOptions } from './core/index.js';
