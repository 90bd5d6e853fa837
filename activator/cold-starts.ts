/**
 * The cold starts an app's requests met: how long each request held while the app woke
 * waited, kept for the last hour (at most `capacity` of them, the oldest dropped), and
 * summed up for `dormant apps info`. No clock of its own: times come from the caller.
 */
export interface ColdStartSummary {
  /** Requests that waited for a wake-up in the window. */
  readonly count: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/** The p-th percentile (0..100) of sorted values, nearest rank. Pure. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? null;
}

export class ColdStartLog {
  readonly #atMs: Float64Array;
  readonly #waitedMs: Float64Array;
  #next = 0;
  #size = 0;

  constructor(readonly capacity = 1024) {
    this.#atMs = new Float64Array(capacity);
    this.#waitedMs = new Float64Array(capacity);
  }

  record(atMs: number, waitedMs: number): void {
    this.#atMs[this.#next] = atMs;
    this.#waitedMs[this.#next] = waitedMs;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** The cold starts recorded at or after sinceMs. */
  summary(sinceMs: number): ColdStartSummary {
    const waited: number[] = [];
    for (let i = 0; i < this.#size; i++) if ((this.#atMs[i] ?? 0) >= sinceMs) waited.push(this.#waitedMs[i] ?? 0);
    waited.sort((a, b) => a - b);
    return { count: waited.length, p50Ms: percentile(waited, 50), p99Ms: percentile(waited, 99) };
  }
}
