import { isDormantError } from '../errors/index.js';

/**
 * Runs a read-change-write against the store again while the store refuses it for a stale
 * resourceVersion (STORE_CONFLICT: another writer, often a status write, got there first),
 * as kubectl and client-go's RetryOnConflict do. `write` must read the object afresh each
 * time. After `attempts` conflicts the last one is thrown; any other error at once.
 */
export async function updateWithRetry<T>(write: () => Promise<T>, attempts = 10): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (error) {
      if (!isDormantError(error, 'STORE_CONFLICT') || attempt >= attempts) throw error;
    }
  }
}
