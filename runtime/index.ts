export { storeErrors } from './errors.js';
export { LocalStore, type LocalStoreOptions } from './local-store/local-store.js';
export type { ListOptions, ObjectInput, ResourceStore, WatchEvent, WatchOptions } from './resource-store.js';
