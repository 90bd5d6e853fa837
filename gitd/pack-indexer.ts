/**
 * Runs pack-index.ts in a worker thread, one per admitted pack: indexing 100,000 objects
 * takes seconds of CPU, which on Dormant's one event loop would stop every app from answering.
 * A worker that fails (throws, runs out of memory, cannot start) or a push that is closed
 * rejects with PackRejected; the worker is terminated either way.
 */
import { Worker } from 'node:worker_threads';
import { checkClosed, indexPackFile, PackRejected } from './pack-index.js';

/** What the worker is given. */
export interface IndexJob {
  readonly gitdir: string;
  readonly packFile: string;
}

/** What the worker answers: the pack's objects once indexed, then whether its closure holds. */
export type IndexAnswer = { readonly kind: 'indexed'; readonly oids: string[] } | { readonly kind: 'checked' } | { readonly kind: 'rejected'; readonly message: string };

/**
 * The worker's module. Under tsx (bin/dormant.js, tests) it is the .ts file next to this one,
 * and a worker does not inherit tsx's loader, so a small script registers it first; from the
 * compiled build it is the .js file.
 */
function startWorker(job: IndexJob): Worker {
  if (import.meta.url.endsWith('.ts')) {
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./pack-index-worker.ts', import.meta.url).href;
    const script = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); });`;
    return new Worker(script, { eval: true, workerData: job });
  }
  return new Worker(new URL('./pack-index-worker.js', import.meta.url), { workerData: job });
}

/** Indexes a pack and checks its closure: in a worker thread (PackIndexer) or, for a small pack, here (SmallPackIndexer). */
export interface PackIndexing {
  indexed(): Promise<string[]>;
  checkClosed(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A pack this small is indexed and checked in Dormant's own thread: a worker costs 0.2 to
 * 0.5 s to start, more than indexing a small app's first push takes, and a few hundred
 * small objects hold the event loop for milliseconds, not seconds.
 */
export interface InThreadLimits {
  readonly maxObjects: number;
  readonly maxIndexBytes: number;
}
export const inThreadLimits: InThreadLimits = { maxObjects: 1_000, maxIndexBytes: 16 * 1024 * 1024 };

export class SmallPackIndexer implements PackIndexing {
  readonly #job: IndexJob;
  readonly #signal: AbortSignal | undefined;
  #oids: string[] | undefined;

  constructor(job: IndexJob, signal?: AbortSignal) {
    this.#job = job;
    this.#signal = signal;
  }

  #stopIfClosed(): void {
    if (this.#signal?.aborted) throw new PackRejected('the push was closed while its pack was being indexed');
  }

  async indexed(): Promise<string[]> {
    this.#stopIfClosed();
    this.#oids = await indexPackFile(this.#job.gitdir, this.#job.packFile);
    this.#stopIfClosed();
    return this.#oids;
  }

  async checkClosed(): Promise<void> {
    this.#stopIfClosed();
    const oids = this.#oids ?? [];
    await checkClosed(this.#job.gitdir, oids, new Set(oids));
  }

  async close(): Promise<void> {}
}

export class PackIndexer implements PackIndexing {
  readonly #worker: Worker;
  #pending: { resolve: (answer: IndexAnswer) => void; reject: (error: Error) => void } | undefined;
  /** Answers that came before they were asked for. */
  readonly #answers: IndexAnswer[] = [];
  #failure: Error | undefined;
  readonly #onAbort = () => this.#fail(new PackRejected('the push was closed while its pack was being indexed'));

  readonly #signal: AbortSignal | undefined;

  private constructor(job: IndexJob, signal: AbortSignal | undefined) {
    this.#signal = signal;
    this.#worker = startWorker(job);
    this.#worker.on('message', (answer: IndexAnswer) => {
      const pending = this.#pending;
      this.#pending = undefined;
      if (pending) pending.resolve(answer);
      else this.#answers.push(answer);
    });
    this.#worker.on('error', (error) => this.#fail(new PackRejected(`indexing the pack failed in its worker: ${error.message.slice(0, 160)}`)));
    this.#worker.on('exit', (code) => this.#fail(new PackRejected(`indexing the pack failed: its worker stopped (exit code ${code})`)));
    signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (signal?.aborted) this.#onAbort();
  }

  /** Starts a worker that indexes packFile (its .idx is written next to it). */
  static start(job: IndexJob, signal?: AbortSignal): PackIndexer {
    return new PackIndexer(job, signal);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(this.#failure);
    void this.#worker.terminate();
  }

  #next(send?: () => void): Promise<IndexAnswer> {
    const early = this.#answers.shift();
    if (!early && this.#failure) return Promise.reject(this.#failure);
    return (early ? Promise.resolve(early) : new Promise<IndexAnswer>((resolve, reject) => {
      this.#pending = { resolve, reject };
      send?.();
    })).then((answer) => {
      if (answer.kind === 'rejected') throw new PackRejected(answer.message);
      return answer;
    });
  }

  /** The pack's object ids, once indexed. */
  async indexed(): Promise<string[]> {
    const answer = await this.#next();
    if (answer.kind !== 'indexed') throw new PackRejected(`indexing the pack failed: its worker answered ${answer.kind}`);
    return answer.oids;
  }

  /** Checks, once the pack is in the repository, that its objects name only objects that exist. */
  async checkClosed(): Promise<void> {
    const answer = await this.#next(() => this.#worker.postMessage('check'));
    if (answer.kind !== 'checked') throw new PackRejected(`checking the pack failed: its worker answered ${answer.kind}`);
  }

  /** Stops the worker; always called when the admission ends. */
  async close(): Promise<void> {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#failure ??= new PackRejected('the pack indexer is closed');
    await this.#worker.terminate();
  }
}
