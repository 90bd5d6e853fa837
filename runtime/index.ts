export { storeErrors } from './errors.js';
export { writeFileAtomic } from './local-store/atomic-file.js';
export { LocalStore, type LocalStoreOptions } from './local-store/local-store.js';
export type { ListOptions, ObjectInput, ResourceStore, WatchEvent, WatchOptions } from './resource-store.js';
export type { Endpoint, LogLine, LogOptions, Runtime } from './runtime.js';
