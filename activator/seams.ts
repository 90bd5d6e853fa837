// The activator's seams with the rest of Dormant: where ready replicas come from (the
// runtime) and where load goes (the autoscaler). Narrow interfaces, defined by their user.
import type { Endpoint } from '../runtime/index.js';

/** Where ready replicas come from: the runtime, as the activator needs it. */
export interface EndpointSource {
  endpoints(app: string, signal?: AbortSignal): AsyncIterable<readonly Endpoint[]>;
  drained(app: string, endpointId: string): void;
  /** false when the app has no revision to start: a request then gets 503 at once. Absent: assume deployed. */
  deployed?(app: string): boolean;
}

export interface AppStats {
  readonly app: string;
  /** Time-weighted requests in flight or held, over the window. */
  readonly averageConcurrency: number;
  readonly requests: number;
  readonly windowMs: number;
}

/** Where load goes: the autoscaler, in-process locally and over HTTP in Kubernetes. */
export interface StatsSink {
  report(stats: readonly AppStats[]): void;
  /** An app with no ready replica has a request waiting: wake it now. */
  poke(app: string): void;
}
