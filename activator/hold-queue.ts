/**
 * A bounded FIFO ring buffer for requests waiting for capacity. Cancelled entries (the
 * client left) are skipped when they reach the head, so removal is O(1); a full ring with
 * cancelled entries inside is compacted once, so they never cost a waiting slot.
 */
export interface Held {
  cancelled: boolean;
  /** In the queue now (set by push, cleared by shift): cancel is a no-op otherwise. */
  queued: boolean;
  enqueuedAtMs: number;
}

export class HoldQueue<T extends Held> {
  #slots: (T | undefined)[];
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
    this.#dropCancelledHead();
    if (this.#length === this.#slots.length && this.#active < this.#length) this.#compact();
    if (this.#length === this.#slots.length) return false;
    this.#slots[(this.#head + this.#length) % this.#slots.length] = item;
    this.#length++;
    this.#active++;
    item.cancelled = false;
    item.queued = true;
    return true;
  }

  /** The oldest waiting request, without removing it. */
  peek(): T | undefined {
    this.#dropCancelledHead();
    return this.#length === 0 ? undefined : this.#slots[this.#head];
  }

  shift(): T | undefined {
    const item = this.peek();
    if (item === undefined) return undefined;
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#length--;
    this.#active--;
    item.queued = false;
    return item;
  }

  cancel(item: T): void {
    if (!item.queued || item.cancelled) return;
    item.cancelled = true;
    item.queued = false;
    this.#active--;
  }

  #dropCancelledHead(): void {
    while (this.#length > 0 && this.#slots[this.#head]?.cancelled) {
      this.#slots[this.#head] = undefined;
      this.#head = (this.#head + 1) % this.#slots.length;
      this.#length--;
    }
  }

  /** Rewrites the ring without cancelled entries, oldest first. */
  #compact(): void {
    const kept: T[] = [];
    for (let i = 0; i < this.#length; i++) {
      const item = this.#slots[(this.#head + i) % this.#slots.length];
      if (item && !item.cancelled) kept.push(item);
    }
    this.#slots = new Array(this.#slots.length);
    for (let i = 0; i < kept.length; i++) this.#slots[i] = kept[i];
    this.#head = 0;
    this.#length = kept.length;
  }
}
