/**
 * Time-weighted average concurrency and request count of one app over a report window.
 * Pure: the caller passes the time of every change.
 */
export class ConcurrencyMeter {
  #current = 0;
  #area = 0;
  #lastChangeMs: number;
  #windowStartMs: number;
  #requests = 0;

  constructor(nowMs: number) {
    this.#lastChangeMs = nowMs;
    this.#windowStartMs = nowMs;
  }

  get current(): number {
    return this.#current;
  }

  #advance(nowMs: number): void {
    this.#area += this.#current * (nowMs - this.#lastChangeMs);
    this.#lastChangeMs = nowMs;
  }

  started(nowMs: number): void {
    this.#advance(nowMs);
    this.#current++;
    this.#requests++;
  }

  finished(nowMs: number): void {
    this.#advance(nowMs);
    this.#current--;
  }

  /** The window so far, and a new window from now. */
  report(nowMs: number): { averageConcurrency: number; requests: number; windowMs: number } {
    this.#advance(nowMs);
    const windowMs = nowMs - this.#windowStartMs;
    const result = { averageConcurrency: windowMs > 0 ? this.#area / windowMs : this.#current, requests: this.#requests, windowMs };
    this.#area = 0;
    this.#requests = 0;
    this.#windowStartMs = nowMs;
    return result;
  }
}
