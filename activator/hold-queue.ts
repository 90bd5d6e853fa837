/**
 * A bounded FIFO ring buffer for requests waiting for capacity. Cancelled entries (the
 * client left) are skipped when they reach the head, so removal is O(1).
 */
export interface Held {
  cancelled: boolean;
  enqueuedAtMs: number;
}

export class HoldQueue<T extends Held> {
  readonly #slots: (T | undefined)[];
  #head = 0;
  #length = 0;
  #active = 0;

  constructor(capacity: number) {
    this.#slots = new Array(Math.max(1, capacity));
  }

  get capacity(): number {
    return this.#slots.length;
  }

  /** Waiting requests that have not left. */
  get active(): number {
    return this.#active;
  }

  /** False when full. */
  push(item: T): boolean {
    this.#compact();
    if (this.#length === this.#slots.length) return false;
    this.#slots[(this.#head + this.#length) % this.#slots.length] = item;
    this.#length++;
    this.#active++;
    return true;
  }

  /** The oldest waiting request, without removing it. */
  peek(): T | undefined {
    this.#compact();
    return this.#length === 0 ? undefined : this.#slots[this.#head];
  }

  shift(): T | undefined {
    const item = this.peek();
    if (item === undefined) return undefined;
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#length--;
    this.#active--;
    return item;
  }

  cancel(item: T): void {
    if (item.cancelled) return;
    item.cancelled = true;
    this.#active--;
  }

  /** Drops cancelled entries from the head. */
  #compact(): void {
    while (this.#length > 0 && this.#slots[this.#head]?.cancelled) {
      this.#slots[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#slots.length;
      this.#length--;
    }
  }
}
