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
  /**
   * The activator's report every second, a round: the load of each app that had any since
   * its last report. Every other app this activator knows had none: it is left out, so an
   * idle app costs nothing, and an empty round still says the activator is reporting.
   */
  round(stats: readonly AppStats[]): void;
  /** The load of these apps since their last report, out of round (a wake-up's, at once); says nothing of other apps. */
  report(stats: readonly AppStats[]): void;
  /** An app with no ready replica has a request waiting: wake it now. */
  poke(app: string): void;
}

/** The certificates the HTTPS listener presents: the TLS context for a host of an app (its name and uid), or undefined (the handshake is refused). */
export interface TlsSource {
  secureContext(app: string, appUid: string | undefined, host: string): import('node:tls').SecureContext | undefined;
  /** Changes whenever the certificates do: what the activator caches from secureContext is good while it stays the same. */
  readonly generation: number;
}

/** ACME HTTP-01 answers being served for hosts of apps: the activator answers them before the app sees the request. */
export interface ChallengeAnswers {
  /** How many are being served; 0 most of the time, when requests are not looked at for them. */
  readonly pending: number;
  answer(host: string, token: string): string | undefined;
}
