/** Gets each finished request of a traced app: arrival (ms since tracing began), duration without time held for a wake-up, status. */
export type RequestRecorder = (arrivedMs: number, durationMs: number, status: number) => void;

interface Tracer {
  readonly sinceMs: number;
  readonly record: RequestRecorder;
}

/**
 * The apps whose requests are being recorded (`dormant trace`, a cold-start trace for
 * `dormant policy simulate`), and who records them. The request path reads `tracing` for
 * every finished request and calls record() only while some app is traced.
 */
export class TraceRecorder {
  readonly #tracers = new Map<string, Set<Tracer>>();

  /** Some app is traced. */
  get tracing(): boolean {
    return this.#tracers.size > 0;
  }

  /** A request to app that arrived at startedAtMs finished; durationMs leaves out time held for a wake-up. */
  record(app: string, startedAtMs: number, durationMs: number, status: number): void {
    const tracers = this.#tracers.get(app);
    if (!tracers) return;
    for (const tracer of tracers) if (startedAtMs >= tracer.sinceMs) tracer.record(startedAtMs - tracer.sinceMs, durationMs, status);
  }

  /** Records every request to app that arrives from nowMs on, until the returned function is called. */
  add(app: string, record: RequestRecorder, nowMs: number): () => void {
    const tracer: Tracer = { sinceMs: nowMs, record };
    let tracers = this.#tracers.get(app);
    if (!tracers) {
      tracers = new Set();
      this.#tracers.set(app, tracers);
    }
    tracers.add(tracer);
    return () => {
      tracers.delete(tracer);
      if (tracers.size === 0 && this.#tracers.get(app) === tracers) this.#tracers.delete(app);
    };
  }
}
