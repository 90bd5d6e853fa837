import { link, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { storeErrors } from '../errors.js';

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * A lock across processes (`dormant up` and CLI commands share one state folder): a file
 * created with O_EXCL holding the owner's pid. A lock whose owner died (kill -9) is broken.
 * Inside one process, callers queue on a promise chain first, so the file is only
 * contended between processes.
 */
export class StateLock {
  readonly #file: string;
  readonly #timeoutMs: number;
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
      // The pid is written to a private file first and hard-linked into place, so the
      // lock file never exists without its owner's pid in it, even after a kill -9.
      const claim = `${this.#file}.${process.pid}`;
      await writeFile(claim, String(process.pid), { mode: 0o600 });
      try {
        await link(claim, this.#file);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      } finally {
        await unlink(claim).catch(() => {});
      }
      const owner = Number.parseInt(await readFile(this.#file, 'utf8').catch(() => ''), 10);
      const ownerless = !Number.isInteger(owner) || owner <= 0;
      const abandoned = ownerless && (await stat(this.#file).then((s) => Date.now() - s.mtimeMs > 5000, () => false));
      if (abandoned || (!ownerless && !isAlive(owner))) {
        // Its owner is gone. Renaming first means only one breaker removes this very file.
        const stale = `${this.#file}.stale-${process.pid}`;
        if (await rename(this.#file, stale).then(() => true, () => false)) await unlink(stale).catch(() => {});
        continue;
      }
      const waitedMs = Math.round(performance.now() - started);
      if (waitedMs > this.#timeoutMs) throw storeErrors.locked({ lockFile: this.#file, pid: owner, waitedMs });
      await sleep(pauseMs);
      pauseMs = Math.min(pauseMs * 2, 20);
    }
  }
}
