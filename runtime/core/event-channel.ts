/**
 * An async iterable fed by push(), ended by end() or by an AbortSignal. It queues every
 * item, or with keep 'latest' only the newest: a slow reader then skips to the newest
 * value instead of reading stale ones (endpoints change faster than a busy reader reads).
 */
export class EventChannel<T> implements AsyncIterable<T> {
  readonly #buffered: T[] = [];
  #waiting: ((result: IteratorResult<T>) => void) | undefined;
  #ended = false;
  readonly #onEnd: () => void;

  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.end();

  readonly #keepLatest: boolean;

  constructor(onEnd: () => void, signal?: AbortSignal, keep: 'all' | 'latest' = 'all') {
    this.#onEnd = onEnd;
    this.#keepLatest = keep === 'latest';
    this.#signal = signal;
    if (signal?.aborted) this.end();
    else signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  push(item: T): void {
    if (this.#ended) return;
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting({ value: item, done: false });
    } else if (this.#keepLatest) {
      this.#buffered[0] = item;
    } else {
      this.#buffered.push(item);
    }
  }

  get ended(): boolean {
    return this.#ended;
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
        const item = this.#buffered.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
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
