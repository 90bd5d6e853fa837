/**
 * An async iterable of snapshots: a slow reader skips to the newest value instead of
 * queueing stale ones (endpoints change faster than a busy consumer may read).
 */
export class LatestValue<T> implements AsyncIterable<T> {
  #pending: { value: T } | undefined;
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #ended = false;
  readonly #onEnd: () => void;

  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.end();

  constructor(onEnd: () => void, signal?: AbortSignal) {
    this.#onEnd = onEnd;
    this.#signal = signal;
    if (signal?.aborted) this.end();
    else signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get ended(): boolean {
    return this.#ended;
  }

  set(value: T): void {
    if (this.#ended) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value, done: false });
    } else {
      this.#pending = { value };
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#onEnd();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const pending = this.#pending;
        if (pending) {
          this.#pending = undefined;
          return Promise.resolve({ value: pending.value, done: false });
        }
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
