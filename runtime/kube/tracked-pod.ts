/**
 * What the Kubernetes executor knows of one pod: the kubelet's view, and whether the
 * runtime's own probe has seen its app answer. The probe bridges the time from the pod's
 * first address to the kubelet's first Ready report (the kubelet probes every second or
 * so; the activator wants the pod the moment the app listens).
 */
import { probeDelayMs, type ReplicaPhase, type ReplicaStatus, replicaAnswers } from '../core/index.js';
import { type PodView, rolloutFailure } from './deployment-spec.js';

export interface TrackedPod {
  view: PodView;
  /** Answered the runtime's own probe since it last changed (address, restarts). */
  probed: boolean;
  probing: boolean;
  /** The kubelet has reported it Ready at least once: from then on its word decides. */
  everReady: boolean;
  readonly seenAtMs: number;
  /** Order of first sight: a rollout's own pods are those seen after it began. */
  readonly sequence: number;
  /** Its first answer was said among the app's platform events. */
  saidReady?: boolean;
}

/**
 * What the platform says of a pod that changed (dormant logs --source platform): its first
 * answer, with the time since it was first seen; a crash, with its exit and Kubernetes's
 * restart; a failed readiness check; a back-off. `before` is its view before this change (undefined: first seen). Pure:
 * the caller marks the pod saidReady once it answers.
 */
export function podEvents(pod: TrackedPod, before: PodView | undefined, nowMs: number): string[] {
  const { view } = pod;
  const said: string[] = [];
  if (!pod.saidReady && podAnswers(pod)) {
    said.push(`Pod ${view.name} of ${view.revision} ready ${Math.round(nowMs - pod.seenAtMs)} ms after it was first seen`);
  }
  if (before !== undefined && view.restarts > before.restarts) {
    const how =
      view.lastExitReason === 'OOMKilled'
        ? `was killed by the kernel: it used all of its memory limit (exit code ${view.lastExitCode ?? '?'}; raise spec.run.resources.limits.memory)`
        : view.lastExitCode === undefined
          ? 'stopped'
          : view.lastExitCode > 128
            ? `was killed by signal ${view.lastExitCode - 128} (exit code ${view.lastExitCode})`
            : `exited with code ${view.lastExitCode}`;
    said.push(`Pod ${view.name} of ${view.revision} crashed: its app ${how}; Kubernetes restarts it (restart ${view.restarts})`);
  }
  // Ready, and no longer, while its container runs (not a crash, a restart or a stop): its readiness check fails (spec.run.readinessPath), and it gets no requests meanwhile.
  if (before?.ready === true && !view.ready && !view.terminating && view.running === true && view.restarts === before.restarts) {
    said.push(`Pod ${view.name} of ${view.revision} failed its readiness check: it gets no requests until it passes again`);
  }
  if (view.waitingReason === 'CrashLoopBackOff' && before?.waitingReason !== 'CrashLoopBackOff') {
    said.push(`Pod ${view.name} of ${view.revision} is in back-off after ${view.restarts} restart${view.restarts === 1 ? '' : 's'}${view.waitingMessage ? `: ${view.waitingMessage}` : ''}`);
  }
  return said;
}

/** A pod first seen, or a known one as the kubelet now reports it. */
export function trackPod(known: TrackedPod | undefined, view: PodView, nowMs: number, sequence: number): TrackedPod {
  if (!known) return { view, probed: false, probing: false, everReady: view.ready, seenAtMs: nowMs, sequence };
  // A restart or a new address voids what the probe saw; the kubelet's Ready, once seen, decides from then on.
  if (view.ip !== known.view.ip || view.restarts !== known.view.restarts || (known.view.ready && !view.ready)) known.probed = false;
  known.everReady ||= view.ready;
  known.view = view;
  return known;
}

/** The app in the pod answers: the kubelet says Ready, or, before the kubelet's first Ready, the runtime's own probe got an answer. */
export function podAnswers(pod: TrackedPod): boolean {
  return !pod.view.terminating && pod.view.ip !== undefined && (pod.view.ready || (pod.probed && !pod.everReady));
}

/** The pod as the reconciler sees it. A crash-looping pod is in back-off: Kubernetes restarts it, never replaced from here. */
export function podPhase(pod: TrackedPod): ReplicaPhase {
  if (pod.view.terminating) return 'draining';
  if (podAnswers(pod)) return 'ready';
  if (rolloutFailure([pod.view]) !== undefined) return 'backoff';
  return 'starting';
}

export interface PodProbeOptions {
  readonly port: () => Promise<number>;
  readonly path: string | undefined;
  /** The pod is still the one tracked (not deleted or replaced). */
  readonly tracked: () => boolean;
  readonly closed: () => boolean;
  /** The app answered: called once, with the time since the pod was first seen. */
  readonly onAnswer: (elapsedMs: number) => void;
}

/** Connects to a new pod's port (or GETs its readinessPath) every few ms until its app answers, it changes, or 120 s pass. */
export function probePod(pod: TrackedPod, options: PodProbeOptions): void {
  if (pod.probed || pod.probing || pod.everReady || pod.view.ip === undefined || pod.view.terminating || pod.view.ready) return;
  pod.probing = true;
  const address = pod.view.ip;
  const restarts = pod.view.restarts;
  void (async () => {
    const port = await options.port();
    const deadline = performance.now() + 120_000;
    const unchanged = () => options.tracked() && pod.view.ip === address && pod.view.restarts === restarts && !pod.view.terminating && !pod.view.ready;
    while (!options.closed() && unchanged() && performance.now() < deadline) {
      if ((await replicaAnswers(address, port, options.path)) && unchanged()) {
        pod.probed = true;
        options.onAnswer(performance.now() - pod.seenAtMs);
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, probeDelayMs(performance.now() - pod.seenAtMs)));
    }
    pod.probing = false;
    // Its address or restarts changed while probing: probe the pod as it is now.
    if (!pod.probed && options.tracked()) probePod(pod, options);
  })();
}

/** Replica counts and the Ready condition of an app whose serving revision is serving (undefined: none), as App.status should say. */
export function replicaStatusOf(serving: string | undefined, desired: number, pods: Iterable<TrackedPod>): ReplicaStatus {
  let ready = 0;
  const views: PodView[] = [];
  for (const pod of pods) {
    if (pod.view.revision !== serving) continue;
    if (podAnswers(pod)) ready++;
    if (!pod.view.terminating) views.push(pod.view);
  }
  if (serving === undefined) return { desiredReplicas: desired, readyReplicas: 0, ready: { type: 'Ready', status: 'False', reason: 'NotDeployed', message: 'no revision is deployed; git push to deploy' } };
  if (ready > 0) return { desiredReplicas: desired, readyReplicas: ready, ready: { type: 'Ready', status: 'True', reason: 'Serving', message: `${ready} pod${ready === 1 ? '' : 's'} of ${serving} ready` } };
  if (desired === 0) return { desiredReplicas: 0, readyReplicas: 0, ready: { type: 'Ready', status: 'True', reason: 'ScaledToZero', message: `${serving} is at zero pods; the next request wakes it` } };
  // A crash loop or an image that cannot be pulled, as the kubelet reports it, as the local runtime says it.
  const failure = rolloutFailure(views);
  const condition =
    failure === undefined
      ? { type: 'Ready', status: 'Unknown' as const, reason: 'Starting', message: `waiting for pods of ${serving}` }
      : { type: 'Ready', status: 'False' as const, reason: 'CrashLoopBackOff', message: failure };
  return { desiredReplicas: desired, readyReplicas: 0, ready: condition };
}
