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

  /** Nothing counted since the last report: no request in flight, none started, none ended. */
  get idle(): boolean {
    return this.#current === 0 && this.#requests === 0 && this.#area === 0;
  }

  /**
   * Rounds of reports that left this meter out while it was idle, the last at roundMs: its
   * window starts there, as if each round had reported its nothing and begun a new window.
   * Moving the start of an idle window loses nothing; a busy one is left as it is.
   */
  skippedUntil(roundMs: number): void {
    if (this.idle && roundMs > this.#windowStartMs) this.#windowStartMs = roundMs;
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
