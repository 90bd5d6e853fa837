/**
 * List, then watch from the list's resourceVersion; resume from the last version seen when
 * the stream ends, and list again (reporting the difference) when the apiserver says that
 * version is gone. What client-go's reflector does, as a loop that reports ADDED, MODIFIED
 * and DELETED against the objects it has seen, so a consumer never misses a change or sees
 * one twice across reconnects. Used by the Kubernetes store (watches) and runtime (pods).
 */
import type { Watch } from '@kubernetes/client-node';

export interface WatchedObject {
  readonly metadata: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string; readonly uid?: string };
}

export type ListWatchEvent<T> = { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly object: T };

export interface ListWatchOptions<T extends WatchedObject> {
  readonly watcher: Watch;
  /** Collection path, such as /api/v1/namespaces/default/pods. */
  readonly path: string;
  readonly labelSelector?: string | undefined;
  readonly list: () => Promise<{ readonly items: readonly T[]; readonly resourceVersion: string | undefined }>;
  readonly onEvent: (event: ListWatchEvent<T>) => void;
  /** After the first list has been reported. */
  readonly onSynced?: () => void;
  /** Between attempts after a failure (apiserver away). */
  readonly retryDelayMs?: number;
  /** A watch silent this long (no event, no bookmark) is taken for a dead connection. */
  readonly idleMs?: number;
  /** Told of each failed list or watch (apiserver away, refused), before the retry. */
  readonly onFailure?: (what: 'list' | 'watch', error: unknown) => void;
  readonly signal: AbortSignal;
}

const keyOf = (o: WatchedObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;

/** Runs until the signal aborts. */
export async function listWatch<T extends WatchedObject>(options: ListWatchOptions<T>): Promise<void> {
  const { signal } = options;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const idleMs = options.idleMs ?? 180_000;
  const known = new Map<string, T>();
  let resourceVersion: string | undefined;
  let relist = true;
  let synced = false;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });

  while (!signal.aborted) {
    if (relist) {
      try {
        const list = await options.list();
        if (signal.aborted) return;
        resourceVersion = list.resourceVersion;
        const present = new Set<string>();
        for (const object of list.items) {
          const key = keyOf(object);
          present.add(key);
          const previous = known.get(key);
          known.set(key, object);
          if (previous !== undefined && previous.metadata.uid !== object.metadata.uid) {
            // Deleted and created again while the watch was away: say both.
            options.onEvent({ type: 'DELETED', object: previous });
            options.onEvent({ type: 'ADDED', object });
          } else if (previous === undefined) options.onEvent({ type: 'ADDED', object });
          else if (previous.metadata.resourceVersion !== object.metadata.resourceVersion) options.onEvent({ type: 'MODIFIED', object });
        }
        for (const [key, previous] of known) {
          if (present.has(key)) continue;
          known.delete(key);
          options.onEvent({ type: 'DELETED', object: previous });
        }
        relist = false;
        if (!synced) {
          synced = true;
          options.onSynced?.();
        }
      } catch (error) {
        options.onFailure?.('list', error);
        await pause(retryDelayMs);
        continue;
      }
    }
    const failed = await new Promise<unknown>((resolve) => {
      let controller: AbortController | undefined;
      const stop = () => controller?.abort();
      signal.addEventListener('abort', stop, { once: true });
      const finish = (failure: unknown) => {
        clearTimeout(idle);
        signal.removeEventListener('abort', stop);
        resolve(failure);
      };
      // The server ends each watch after 5 to 10 minutes (as client-go asks), and a watch that
      // has said nothing, not even a bookmark (about one a minute), for 3 minutes is taken
      // for a dead connection and resumed.
      const query: Record<string, string | number | boolean> = { allowWatchBookmarks: true, timeoutSeconds: 300 + Math.floor(Math.random() * 300) };
      let idle: NodeJS.Timeout | undefined;
      const quiet = () => {
        clearTimeout(idle);
        idle = setTimeout(() => controller?.abort(), idleMs);
        idle.unref();
      };
      quiet();
      if (resourceVersion !== undefined) query.resourceVersion = resourceVersion;
      if (options.labelSelector !== undefined) query.labelSelector = options.labelSelector;
      options.watcher
        .watch(
          options.path,
          query,
          (type: string, object: T & { code?: number }) => {
            quiet();
            if (type === 'ERROR') {
              // 410 Gone: the version is too old to resume from; list again.
              relist = true;
              controller?.abort();
              return;
            }
            resourceVersion = object.metadata?.resourceVersion ?? resourceVersion;
            if (type === 'BOOKMARK') return;
            const key = keyOf(object);
            if (type === 'DELETED') {
              if (known.delete(key)) options.onEvent({ type: 'DELETED', object });
            } else if (type === 'ADDED' || type === 'MODIFIED') {
              const previous = known.get(key);
              known.set(key, object);
              options.onEvent({ type: previous === undefined ? 'ADDED' : 'MODIFIED', object });
            }
          },
          (error: unknown) => finish(error !== null && error !== undefined && !relist ? error : undefined),
        )
        .then(
          (started) => {
            controller = started;
            if (signal.aborted) started.abort();
          },
          (error: unknown) => finish(error ?? new Error('the watch did not start')),
        );
    });
    if (failed !== undefined && !signal.aborted) {
      options.onFailure?.('watch', failed);
      await pause(retryDelayMs);
    }
  }
}

export interface FollowOptions<T extends WatchedObject> extends Omit<ListWatchOptions<T>, 'onSynced' | 'onFailure'> {
  /** How long the first list may keep failing before follow() gives up. */
  readonly firstListTimeoutMs: number;
  /** The error follow() rejects with when the first list is refused or times out; reason says which. */
  readonly refused: (reason: string, cause: unknown) => Error;
  /** Told of failures after the first list (the watch retries on its own). */
  readonly onRetry: (what: 'list' | 'watch', error: unknown) => void;
  /** Monotonic milliseconds (performance.now by default). */
  readonly clock?: () => number;
}

/**
 * listWatch for a component that cannot work without the objects: resolves once the first
 * list is reported, then keeps watching until the signal aborts. Refused for good (401, 403)
 * or failing for firstListTimeoutMs before that, it rejects with the reason instead of
 * waiting on, so `dormant up` stops with a message rather than serving blind.
 */
export function follow<T extends WatchedObject>(options: FollowOptions<T>): Promise<void> {
  const clock = options.clock ?? (() => performance.now());
  const deadline = clock() + options.firstListTimeoutMs;
  return new Promise<void>((resolve, reject) => {
    let synced = false;
    void listWatch<T>({
      ...options,
      onSynced: () => {
        synced = true;
        resolve();
      },
      onFailure: (what, error) => {
        const status = (error as { code?: unknown }).code;
        if (synced || (status !== 401 && status !== 403 && clock() <= deadline)) {
          options.onRetry(what, error);
          return;
        }
        const reason = status === 401 || status === 403 ? `the apiserver answered ${status}` : `no answer for ${options.firstListTimeoutMs / 1000} s (${(error as Error).message})`;
        reject(options.refused(reason, error));
      },
    });
  });
}
