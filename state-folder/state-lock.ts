import { readFile, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { stateFolderErrors } from './errors.js';
import { createExclusive } from './claim-file.js';
import { identityPid, isIdentityAlive, processIdentity } from './process-identity.js';

/** How old an ownerless or breaker file must be before it counts as abandoned. */
const abandonedMs = 5000;

/**
 * A lock across processes (`dormant up` and CLI commands share one state folder): a file
 * that exists only while held, holding its owner's pid and start time. A lock whose owner
 * died (kill -9) is broken, by one process at a time. Inside one process, callers queue
 * on a promise chain first, so the file is only contended between processes.
 */
export class StateLock {
  readonly #file: string;
  readonly #timeoutMs: number;
  readonly #identity = processIdentity();
  #tail: Promise<unknown> = Promise.resolve();

  constructor(file: string, options: { timeoutMs?: number } = {}) {
    this.#file = file;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Runs fn while holding the lock. */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(async () => {
      await this.#acquire();
      try {
        return await fn();
      } finally {
        await unlink(this.#file).catch(() => {});
      }
    });
    this.#tail = run.catch(() => {});
    return run;
  }

  async #acquire(): Promise<void> {
    const started = performance.now();
    let pauseMs = 1;
    for (;;) {
      if (await createExclusive(this.#file, this.#identity)) return;
      const owner = await readFile(this.#file, 'utf8').catch(() => '');
      if (await this.#isAbandoned(this.#file, owner)) {
        await this.#breakStale(owner);
        continue;
      }
      const waitedMs = Math.round(performance.now() - started);
      if (waitedMs > this.#timeoutMs) throw stateFolderErrors.locked({ lockFile: this.#file, pid: identityPid(owner) ?? 0, waitedMs });
      await sleep(pauseMs);
      pauseMs = Math.min(pauseMs * 2, 20);
    }
  }

  async #isAbandoned(path: string, owner: string): Promise<boolean> {
    if (owner === '') {
      // Gone since we looked, or (never with #claim) empty: only old ones count.
      return stat(path).then((s) => Date.now() - s.mtimeMs > abandonedMs, () => false);
    }
    return !isIdentityAlive(owner);
  }

  /**
   * Removes a lock whose owner is dead. Breakers take turns through a second lock file, and
   * each re-reads the lock under it, so none can remove a lock a live process just took.
   */
  async #breakStale(deadOwner: string): Promise<void> {
    const breaker = `${this.#file}.break`;
    if (!(await createExclusive(breaker, this.#identity))) {
      const other = await readFile(breaker, 'utf8').catch(() => '');
      if (await this.#isAbandoned(breaker, other)) await unlink(breaker).catch(() => {});
      await sleep(1);
      return;
    }
    try {
      const owner = await readFile(this.#file, 'utf8').catch(() => '');
      if (owner === deadOwner) await unlink(this.#file).catch(() => {});
    } finally {
      await unlink(breaker).catch(() => {});
    }
  }
}
