/**
 * Replays a traffic trace through the same decider the scaling loop runs, with simulated
 * time: pure, so `dormant policy simulate` and its tests get the same numbers every run.
 *
 * The model, stated so a user can check a number by hand: load of second s is reported at
 * the end of that second; the loop decides every tickMs and at once when a request finds
 * the app at zero (a poke); a started replica is ready coldStartMs later; scaling down
 * removes replicas at once, not-yet-ready ones first; a request that finds no ready
 * replica is held until the first one is ready. Replica-seconds count replicas from start
 * to stop (booting ones too: they cost). An app with minScale > 0 starts at minScale, ready.
 */
import { type DeciderState, decide, initialDeciderState, type Observation, type ScalingPolicy } from './decide.js';
import type { Trace } from './trace.js';

export interface SimulationOptions {
  /** How often the loop decides (`dormant up`: 2 s). */
  readonly tickMs: number;
  /** From a scale-up to the new replica answering. */
  readonly coldStartMs: number;
}

export interface TimelinePoint {
  readonly atS: number;
  /** Concurrency the trace puts on the app during that second. */
  readonly load: number;
  /** Replicas asked for at the end of that second. */
  readonly scale: number;
  /** Replicas answering at the end of that second. */
  readonly ready: number;
}

export interface SimulationResult {
  readonly durationS: number;
  /** Times the app went from zero replicas to one or more. */
  readonly coldStarts: number;
  /** Replicas x seconds they ran: the cost. */
  readonly replicaSeconds: number;
  readonly peakReplicas: number;
  /** Request-seconds spent held for want of a ready replica (concurrency x seconds for load traces). */
  readonly heldSeconds: number;
  /** Requests that were held (request logs only; load traces do not count requests). */
  readonly heldRequests: number | undefined;
  /** The longest single wait for a ready replica. */
  readonly longestHoldS: number;
  readonly timeline: readonly TimelinePoint[];
}

interface PerSecondLoad {
  readonly durationS: number;
  readonly concurrency: Float64Array;
  readonly requests: Float64Array;
  /** Arrival times in ms, ascending (load traces: the start of each loaded second). */
  readonly arrivalsMs: readonly number[];
}

/** The trace as the activator would have reported it: per-second concurrency and arrivals. */
export function perSecondLoad(trace: Trace): PerSecondLoad {
  if (trace.kind === 'load') {
    const last = trace.samples[trace.samples.length - 1];
    const durationS = last ? Math.floor(last.atS) + 1 : 0;
    const concurrency = new Float64Array(durationS);
    const requests = new Float64Array(durationS);
    const arrivalsMs: number[] = [];
    let next = 0;
    let value = 0;
    for (let s = 0; s < durationS; s++) {
      for (let sample = trace.samples[next]; sample && Math.floor(sample.atS) <= s; sample = trace.samples[++next]) value = sample.concurrency;
      concurrency[s] = value;
      // Without arrivals in the trace, each unit of concurrency counts as one request per second.
      requests[s] = value;
      if (value > 0) arrivalsMs.push(s * 1000);
    }
    return { durationS, concurrency, requests, arrivalsMs };
  }
  let endS = 0;
  for (const r of trace.requests) endS = Math.max(endS, r.atS + r.durationS);
  const durationS = Math.floor(endS) + 1;
  const concurrency = new Float64Array(durationS);
  const requests = new Float64Array(durationS);
  for (const r of trace.requests) {
    const first = Math.floor(r.atS);
    requests[first] = (requests[first] ?? 0) + 1;
    const end = r.atS + r.durationS;
    for (let s = first; s < end && s < durationS; s++) {
      concurrency[s] = (concurrency[s] ?? 0) + Math.min(end, s + 1) - Math.max(r.atS, s);
    }
  }
  return { durationS, concurrency, requests, arrivalsMs: trace.requests.map((r) => Math.round(r.atS * 1000)) };
}

export function simulate(policy: ScalingPolicy, trace: Trace, options: SimulationOptions): SimulationResult {
  const load = perSecondLoad(trace);
  const endMs = load.durationS * 1000;
  // Ready times of the running replicas, ascending: the newest are the last to be ready.
  const replicas: number[] = [];
  for (let i = 0; i < policy.minScale; i++) replicas.push(0);
  let state: DeciderState = initialDeciderState;
  let observations: Observation[] = [];
  let coldStarts = 0;
  let replicaMs = 0;
  let lastChangeMs = 0;
  let peakReplicas = replicas.length;
  let heldMs = 0;
  let heldRequests = 0;
  let longestHoldMs = 0;
  const timeline: TimelinePoint[] = [];

  const readyAt = (t: number) => {
    let ready = 0;
    for (const at of replicas) if (at <= t) ready++;
    return ready;
  };
  const runDecider = (t: number, poked: boolean) => {
    observations = observations.filter((o) => o.atMs > t - policy.stableWindowMs);
    const decision = decide({ policy, observations, state, readyReplicas: readyAt(t), currentScale: replicas.length, poked, nowMs: t });
    state = decision.state;
    const desired = decision.desiredScale;
    if (desired === replicas.length) return;
    replicaMs += replicas.length * (t - lastChangeMs);
    lastChangeMs = t;
    if (replicas.length === 0) coldStarts++;
    while (replicas.length < desired) replicas.push(t + options.coldStartMs);
    replicas.length = desired;
    peakReplicas = Math.max(peakReplicas, desired);
  };

  let arrival = 0;
  let nextTickMs = options.tickMs;
  for (let s = 0; s <= load.durationS; s++) {
    const t = s * 1000;
    if (s > 0) observations.push({ atMs: t, concurrency: load.concurrency[s - 1] ?? 0, requests: load.requests[s - 1] ?? 0 });
    const secondEndMs = s === load.durationS ? t + 1 : t + 1000;
    // Ticks and arrivals of this second in time order; a tick goes first at the same ms.
    for (;;) {
      const at = load.arrivalsMs[arrival];
      const arrivalMs = s === load.durationS || at === undefined || at >= secondEndMs ? Number.POSITIVE_INFINITY : at;
      const tickMs = nextTickMs < secondEndMs ? nextTickMs : Number.POSITIVE_INFINITY;
      if (tickMs === Number.POSITIVE_INFINITY && arrivalMs === Number.POSITIVE_INFINITY) break;
      if (tickMs <= arrivalMs) {
        runDecider(tickMs, false);
        nextTickMs += options.tickMs;
        continue;
      }
      arrival++;
      if (replicas.length === 0) runDecider(arrivalMs, true);
      if (trace.kind === 'requests' && readyAt(arrivalMs) === 0) {
        const wait = (replicas[0] ?? arrivalMs) - arrivalMs;
        heldRequests++;
        heldMs += wait;
        longestHoldMs = Math.max(longestHoldMs, wait);
      }
    }
    if (s === load.durationS) break;
    const concurrency = load.concurrency[s] ?? 0;
    if (trace.kind === 'load' && concurrency > 0 && readyAt(t) === 0) {
      const wait = Math.min(1000, Math.max(0, (replicas[0] ?? t + 1000) - t));
      heldMs += concurrency * wait;
      longestHoldMs = Math.max(longestHoldMs, (replicas[0] ?? t) - t);
    }
    timeline.push({ atS: s, load: concurrency, scale: replicas.length, ready: readyAt(t + 1000) });
  }
  replicaMs += replicas.length * (endMs - lastChangeMs);

  return {
    durationS: load.durationS,
    coldStarts,
    replicaSeconds: replicaMs / 1000,
    peakReplicas,
    heldSeconds: heldMs / 1000,
    heldRequests: trace.kind === 'requests' ? heldRequests : undefined,
    longestHoldS: longestHoldMs / 1000,
    timeline,
  };
}
