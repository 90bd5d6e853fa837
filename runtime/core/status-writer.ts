import type { Logger } from 'pino';
import { apiTimestamp, defaultNamespace } from '../../crds/index.js';
import type { ResourceStore } from '../resource-store.js';
import { updateWithRetry } from '../update-with-retry.js';
import { type ReplicaStatus, replicaStatusKey, withReplicaStatus } from './replica-status.js';

export interface StatusWriterOptions {
  readonly store: ResourceStore;
  readonly log: Logger;
  readonly namespace?: string;
  /** Changes within this long are written once. */
  readonly delayMs: number;
  /** After a failed write (the store away), the next try. */
  readonly retryMs?: number;
  /** The status as it is now, read when the write is made; undefined: nothing to write. */
  readonly current: (app: string) => ReplicaStatus | undefined;
  /** Whether this process writes status now (components apart: only the acting autoscaler does). */
  readonly enabled?: () => boolean;
  readonly now?: () => Date;
}

interface AppWrites {
  timer: NodeJS.Timeout | undefined;
  writing: boolean;
  dirty: boolean;
  /** Key of the last status this writer wrote or found in place: the same report again needs no read. */
  written: string;
}

/**
 * Writes each app's replica status to its App, debounced: one write in flight per app,
 * a change made while it writes is written after it, a failed write is tried again until it
 * lands, and a report equal to the last one written is neither read nor written again.
 */
export class StatusWriter {
  readonly #options: StatusWriterOptions;
  readonly #apps = new Map<string, AppWrites>();
  readonly #now: () => Date;
  readonly #enabled: () => boolean;
  #closed = false;

  constructor(options: StatusWriterOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#enabled = options.enabled ?? (() => true);
  }

  /** The app's status changed (or may have): write it soon. */
  schedule(app: string): void {
    if (this.#closed || !this.#enabled()) return;
    let writes = this.#apps.get(app);
    if (!writes) {
      writes = { timer: undefined, writing: false, dirty: false, written: '' };
      this.#apps.set(app, writes);
    }
    writes.dirty = true;
    if (writes.timer || writes.writing) return;
    const scheduled = writes;
    scheduled.timer = setTimeout(() => {
      scheduled.timer = undefined;
      void this.#drain(app, scheduled);
    }, this.#options.delayMs);
  }

  /** Writes every app again: this process has just become the writer, and another may have written since. */
  rewriteAll(apps: Iterable<string>): void {
    for (const app of apps) {
      const writes = this.#apps.get(app);
      if (writes) writes.written = '';
      this.schedule(app);
    }
  }

  /** Forgets an app (it was deleted). */
  forget(app: string): void {
    const writes = this.#apps.get(app);
    if (writes) clearTimeout(writes.timer);
    this.#apps.delete(app);
  }

  async #drain(app: string, writes: AppWrites): Promise<void> {
    writes.writing = true;
    try {
      // Checked again at each write: this process may have stopped being the writer meanwhile.
      while (writes.dirty && !this.#closed && this.#enabled()) {
        writes.dirty = false;
        if (!(await this.#write(app, writes))) {
          writes.dirty = true;
          await new Promise((resolve) => setTimeout(resolve, this.#options.retryMs ?? 1000).unref());
        }
      }
    } finally {
      writes.writing = false;
    }
  }

  /** False when the store could not be written (tried again later). */
  async #write(app: string, writes: AppWrites): Promise<boolean> {
    const { store, namespace = defaultNamespace } = this.#options;
    try {
      await updateWithRetry(async () => {
        const wanted = this.#options.current(app);
        if (wanted === undefined) return;
        const key = replicaStatusKey(wanted);
        if (key === writes.written) return;
        const object = await store.find('App', app, namespace);
        if (!object || this.#closed) return;
        const changed = withReplicaStatus(object, wanted, apiTimestamp(this.#now()));
        if (changed) await store.updateStatus(changed);
        writes.written = key;
      }, 5);
      return true;
    } catch (error) {
      if (this.#closed) return true;
      this.#options.log.warn({ app, err: error }, 'cannot write app status; trying again');
      return false;
    }
  }

  close(): void {
    this.#closed = true;
    for (const writes of this.#apps.values()) clearTimeout(writes.timer);
  }
}
