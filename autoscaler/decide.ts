/**
 * The scaling decision, after Knative's KPA, as a pure function of the policy, the load
 * observed, the previous state and the time. No clock, no I/O: the loop feeds it, tests
 * and `dormant policy simulate` replay it.
 */
import { type AutoscalePolicySpec, parseDuration } from '../crds/index.js';

/** The policy with durations in ms, as the decider uses it. */
export interface ScalingPolicy {
  readonly metric: 'concurrency' | 'rps';
  readonly target: number;
  readonly targetUtilization: number;
  readonly minScale: number;
  /** undefined: no upper bound. */
  readonly maxScale: number | undefined;
  readonly activationScale: number;
  readonly scaleToZeroGraceMs: number;
  readonly scaleDownDelayMs: number;
  readonly stableWindowMs: number;
  readonly panicWindowPercentage: number;
  readonly panicThresholdPercentage: number;
  readonly maxScaleUpRate: number;
  readonly maxScaleDownRate: number;
}

export function scalingPolicy(spec: AutoscalePolicySpec): ScalingPolicy {
  const ms = (text: string, fallback: number) => parseDuration(text) ?? fallback;
  return {
    metric: spec.metric,
    target: spec.target,
    targetUtilization: spec.targetUtilization,
    minScale: spec.minScale,
    maxScale: spec.maxScale,
    activationScale: spec.activationScale,
    scaleToZeroGraceMs: ms(spec.scaleToZeroGracePeriod, 30_000),
    scaleDownDelayMs: ms(spec.scaleDownDelay, 0),
    stableWindowMs: ms(spec.stableWindow, 60_000),
    panicWindowPercentage: spec.panicWindowPercentage,
    panicThresholdPercentage: spec.panicThresholdPercentage,
    maxScaleUpRate: spec.maxScaleUpRate,
    maxScaleDownRate: spec.maxScaleDownRate,
  };
}

/** One second of load, summed over every activator. */
export interface Observation {
  readonly atMs: number;
  /** Average requests in flight or held during that second. */
  readonly concurrency: number;
  /** Requests that arrived during that second. */
  readonly requests: number;
}

export interface DeciderState {
  /** When panic mode began; undefined when not panicking. */
  readonly panicSinceMs: number | undefined;
  /** The highest scale decided while panicking: panic never scales down. */
  readonly panicScale: number;
  /** Last time a request was seen (arrival or in flight). */
  readonly lastRequestMs: number | undefined;
  /** When observations began (a restarted autoscaler has none). */
  readonly observingSinceMs: number | undefined;
  /** Desired scales within scaleDownDelay, newest last. */
  readonly recent: readonly { readonly atMs: number; readonly scale: number }[];
}

export const initialDeciderState: DeciderState = { panicSinceMs: undefined, panicScale: 0, lastRequestMs: undefined, observingSinceMs: undefined, recent: [] };

export interface DecideInput {
  readonly policy: ScalingPolicy;
  /** Per-second observations, oldest first; older than the stable window are ignored. */
  readonly observations: readonly Observation[];
  readonly state: DeciderState;
  readonly readyReplicas: number;
  /** The scale currently asked of the runtime. */
  readonly currentScale: number;
  /** The activator holds a request for this app (a poke). */
  readonly poked: boolean;
  readonly nowMs: number;
  /**
   * The atMs of the oldest second with a report for this app, one of no load included: a
   * round of reports that left the app out said it had none, without an observation.
   * Where its history begins, until the state keeps that. Absent: the oldest observation's.
   */
  readonly firstReportMs?: number;
}

export interface Decision {
  readonly desiredScale: number;
  readonly panicking: boolean;
  /** Why, in words: "stable: 130 concurrent over 60 s -> 2". */
  readonly reason: string;
  readonly state: DeciderState;
}

const round1 = (n: number) => Math.round(n * 10) / 10;
const seconds = (ms: number) => `${round1(ms / 1000)} s`;

/** Average metric value per second over the last windowMs (missing seconds count as zero). */
function windowAverage(policy: ScalingPolicy, observations: readonly Observation[], windowMs: number, nowMs: number, observedMs: number): number {
  let sum = 0;
  for (const o of observations) if (o.atMs > nowMs - windowMs) sum += policy.metric === 'rps' ? o.requests : o.concurrency;
  const span = Math.max(1000, Math.min(windowMs, observedMs));
  return sum / (span / 1000);
}

export function decide(input: DecideInput): Decision {
  const { policy, observations, state, readyReplicas, currentScale, poked, nowMs } = input;
  const unit = policy.metric === 'rps' ? 'requests/s' : 'concurrent';
  const perReplica = policy.target * policy.targetUtilization;
  const panicWindowMs = Math.max(1000, (policy.stableWindowMs * policy.panicWindowPercentage) / 100);
  // A report stands for the second that ends at its atMs.
  const firstReportMs = input.firstReportMs ?? observations[0]?.atMs;
  const firstObservedMs = firstReportMs === undefined ? nowMs : firstReportMs - 1000;
  const observingSinceMs = state.observingSinceMs ?? firstObservedMs;
  const observedMs = nowMs - observingSinceMs;

  let lastRequestMs = state.lastRequestMs;
  for (const o of observations) if ((o.requests > 0 || o.concurrency > 0) && (lastRequestMs === undefined || o.atMs > lastRequestMs)) lastRequestMs = o.atMs;
  if (poked) lastRequestMs = nowMs;

  const stable = windowAverage(policy, observations, policy.stableWindowMs, nowMs, observedMs);
  const panic = windowAverage(policy, observations, panicWindowMs, nowMs, observedMs);
  const desiredStable = Math.ceil(stable / perReplica);
  const desiredPanic = Math.ceil(panic / perReplica);
  let reason = `stable: ${round1(stable)} ${unit} over ${seconds(Math.min(policy.stableWindowMs, Math.max(observedMs, 1000)))} -> ${desiredStable}`;

  // Panic: a burst of at least panicThreshold of what the ready replicas handle.
  const ready = Math.max(1, readyReplicas);
  const overThreshold = desiredPanic / ready >= policy.panicThresholdPercentage / 100 && desiredPanic > 0;
  let panicSinceMs = state.panicSinceMs;
  // A restarted autoscaler with several replicas up knows nothing of their load: panic
  // (hold the scale) rather than read "no history" as "no load".
  const freshWithReplicas = state.observingSinceMs === undefined && readyReplicas > 1;
  if ((overThreshold || freshWithReplicas) && panicSinceMs === undefined) panicSinceMs = nowMs;
  else if (overThreshold) panicSinceMs = nowMs;
  else if (panicSinceMs !== undefined && nowMs - panicSinceMs >= policy.stableWindowMs) panicSinceMs = undefined;
  const panicking = panicSinceMs !== undefined;

  let desired = desiredStable;
  let panicScale = 0;
  if (panicking) {
    panicScale = Math.max(desiredPanic, state.panicScale, freshWithReplicas ? readyReplicas : 0);
    desired = panicScale;
    reason = freshWithReplicas && !overThreshold
      ? `panic: no history yet, holding ${readyReplicas} ready`
      : `panic: ${round1(panic)} ${unit} over ${seconds(panicWindowMs)}, ${readyReplicas} ready -> ${desired}`;
  }

  // Until a whole stable window has been observed, never scale down.
  if (observedMs < policy.stableWindowMs && desired < currentScale && !panicking) {
    desired = currentScale;
    reason = `warming up: ${seconds(observedMs)} of ${seconds(policy.stableWindowMs)} observed, holding ${currentScale}`;
  }

  // Rate limits: ceil up (at least one more when one is needed), floor down.
  const maxUp = Math.ceil(policy.maxScaleUpRate * ready);
  const maxDown = Math.floor(ready / policy.maxScaleDownRate);
  if (currentScale > 0 && desired > maxUp) {
    desired = maxUp;
    reason += ` (scale-up limited to ${maxUp})`;
  }
  if (desired < maxDown && desired > 0) {
    desired = maxDown;
    reason += ` (scale-down limited to ${maxDown})`;
  }

  // Scale-down delay: the highest desired scale within the delay wins.
  const recent = [...state.recent.filter((r) => r.atMs > nowMs - policy.scaleDownDelayMs), { atMs: nowMs, scale: desired }];
  const delayed = Math.max(...recent.map((r) => r.scale));
  if (delayed > desired) {
    reason += ` (held at ${delayed} by scaleDownDelay ${seconds(policy.scaleDownDelayMs)})`;
    desired = delayed;
  }

  // To zero only after a whole stable window without requests and the grace period.
  if (desired === 0 && currentScale > 0) {
    const idleMs = lastRequestMs === undefined ? observedMs : nowMs - lastRequestMs;
    const quietWindow = idleMs >= policy.stableWindowMs;
    const graceOver = idleMs >= policy.scaleToZeroGraceMs;
    if (!quietWindow || !graceOver) {
      desired = 1;
      reason = `idle ${seconds(idleMs)}: keeping 1 until ${seconds(Math.max(policy.stableWindowMs, policy.scaleToZeroGraceMs))} without requests`;
    } else {
      reason = `idle ${seconds(idleMs)}: scale to zero`;
    }
  }

  // Waking from zero: at once, to activationScale.
  if (currentScale === 0 && (poked || desired > 0)) {
    const woken = Math.max(desired, policy.activationScale, 1);
    reason = `wake from zero${poked ? ' (request waiting)' : ''} -> ${woken}`;
    desired = woken;
  }

  const clamped = Math.min(Math.max(desired, policy.minScale), policy.maxScale ?? Number.POSITIVE_INFINITY);
  if (clamped !== desired) reason += clamped > desired ? ` (minScale ${policy.minScale})` : ` (maxScale ${policy.maxScale})`;

  return {
    desiredScale: clamped,
    panicking,
    reason,
    state: { panicSinceMs, panicScale, lastRequestMs, observingSinceMs, recent: recent.filter((r) => r.atMs > nowMs - policy.scaleDownDelayMs) },
  };
}
