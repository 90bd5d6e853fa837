/**
 * One Deployment per Revision (Knative's model): a rollout is a new Deployment scaling up
 * while the old one drains, and a rollback is an old one scaling up again. Pure: from the
 * App and the Revision to the object sent to the apiserver.
 */
import type { V1Deployment, V1Pod, V1Secret } from '@kubernetes/client-node';
import { detectedAppUser } from '../../builder/index.js';
import { type App, apiVersion, containerResources, parseDuration, type Revision } from '../../crds/index.js';

export const appLabel = 'dormant.dev/app';
export const revisionLabel = 'dormant.dev/revision';
/** The port a container listens on when spec.run.port is not set; it also gets it in $PORT. */
export const defaultContainerPort = 8080;
/**
 * How long a pod keeps serving after it is told to stop, before SIGTERM: the activator sees
 * the pod's deletion on its watch within milliseconds and routes nothing new to it, and
 * what is in flight finishes meanwhile.
 */
export const preStopSeconds = 2;

/**
 * The preStop of a pod whose image has a shell (auto-detected apps run on node:20-slim):
 * the pause above, then until no connection to the app's port is left open (the
 * activators close theirs to a stopping pod once its last request is answered), for at
 * most drainSeconds; only then SIGTERM. Requests longer than the pause finish. A
 * Dockerfile image may have no shell, so it gets the plain pause.
 */
export function drainScript(port: number, drainSeconds: number): string {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return [
    `sleep ${preStopSeconds}`,
    `end=$(( $(date +%s) + ${drainSeconds} ))`,
    // /proc/net/tcp: local address:port, remote address:port, state (01: established).
    `while grep -qs ":${hexPort} [0-9A-F]*:[0-9A-F]* 01 " /proc/net/tcp /proc/net/tcp6 && [ "$(date +%s)" -lt "$end" ]; do sleep 0.2; done`,
  ].join('\n');
}

export function containerPort(revision: Revision): number {
  return revision.spec.run.port ?? defaultContainerPort;
}

/**
 * The revision's environment as a Secret of the same name, which its pods read (envFrom),
 * owned by the App (deleted with it); undefined when it has none. PORT is the container's own.
 */
export function envSecretFor(app: App, revision: Revision): V1Secret | undefined {
  const stringData = Object.fromEntries(Object.entries(revision.spec.run.env ?? {}).filter(([name]) => name !== 'PORT'));
  if (Object.keys(stringData).length === 0) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: revision.metadata.name,
      namespace: app.metadata.namespace ?? 'default',
      labels: { [appLabel]: app.metadata.name, [revisionLabel]: revision.metadata.name },
      ownerReferences: [{ apiVersion, kind: 'App', name: app.metadata.name, uid: app.metadata.uid ?? '' }],
    },
    type: 'Opaque',
    stringData,
  };
}

export function deploymentFor(app: App, revision: Revision, replicas: number): V1Deployment {
  const image = revision.status?.image;
  if (image === undefined) throw new Error(`revision ${revision.metadata.name} has no image`);
  const port = containerPort(revision);
  const labels = { [appLabel]: app.metadata.name, [revisionLabel]: revision.metadata.name };
  const run = revision.spec.run;
  const drainSeconds = Math.ceil((parseDuration(run.drainTimeout) ?? 30_000) / 1000);
  // PORT only: the rest of the config (secrets among it) is in the revision's Secret, not in the Deployment for anyone who reads Deployments.
  const env = [{ name: 'PORT', value: String(port) }];
  const fromSecret = envSecretFor(app, revision) === undefined ? {} : { envFrom: [{ secretRef: { name: revision.metadata.name } }] };
  // As the App says, in Kubernetes' own terms (a cluster's LimitRange gives the defaults, not Dormant).
  const resources = containerResources(run.resources);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: revision.metadata.name,
      namespace: app.metadata.namespace ?? 'default',
      labels,
      // Deleting the App deletes its Deployments (the garbage collector follows this).
      ownerReferences: [{ apiVersion, kind: 'App', name: app.metadata.name, uid: app.metadata.uid ?? '', controller: true }],
    },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      // Pods of one revision are all alike; a new revision is a new Deployment, never a rolling update.
      strategy: { type: 'Recreate' },
      revisionHistoryLimit: 1,
      progressDeadlineSeconds: Math.max(60, Math.ceil((parseDuration(run.startTimeout) ?? 60_000) / 1000)),
      template: {
        metadata: { labels },
        spec: {
          // Service links add a variable per Service to every pod and slow each start; Dormant's apps do not use them.
          enableServiceLinks: false,
          // Nor do they call the apiserver: no token volume to mount.
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: preStopSeconds + drainSeconds,
          // The pause process becomes PID 1 and the app an ordinary process, which SIGTERM
          // stops by default: as PID 1, a Node app that sets no handler ignores SIGTERM and
          // holds every scale-down for the whole grace period (podman's --init, for pods).
          shareProcessNamespace: true,
          // The kernel calls a container may make: the runtime's default profile, as for Dormant's own pods.
          // A detected app runs as its image's user (owner of /app), never root; a Dockerfile image as its USER says.
          securityContext: {
            seccompProfile: { type: 'RuntimeDefault' },
            ...(revision.spec.strategy === 'dockerfile' ? {} : { runAsNonRoot: true, runAsUser: detectedAppUser.uid, runAsGroup: detectedAppUser.gid }),
          },
          containers: [
            {
              name: 'app',
              image,
              imagePullPolicy: 'IfNotPresent',
              env,
              ...fromSecret,
              ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
              // The kubelet's view, for kubectl and Services; the runtime probes new pods itself and routes sooner.
              readinessProbe: {
                ...(run.readinessPath === undefined ? { tcpSocket: { port } } : { httpGet: { path: run.readinessPath, port } }),
                periodSeconds: 1,
                failureThreshold: 3,
                successThreshold: 1,
                timeoutSeconds: 1,
              },
              lifecycle: {
                preStop: revision.spec.strategy === 'auto' ? { exec: { command: ['/bin/sh', '-c', drainScript(port, drainSeconds)] } } : { sleep: { seconds: preStopSeconds } },
              },
              ...(Object.keys(resources).length > 0 ? { resources } : {}),
              // No setuid gain; a detected app (Node on node:20-slim, root in its container) needs no capability. A Dockerfile
              // image may (a server that binds port 80, then drops to its user): it keeps the runtime's default set.
              securityContext: { allowPrivilegeEscalation: false, ...(revision.spec.strategy === 'dockerfile' ? {} : { capabilities: { drop: ['ALL'] } }) },
            },
          ],
        },
      },
    },
  };
}

export interface PodView {
  readonly name: string;
  readonly revision: string;
  readonly ip: string | undefined;
  /** The kubelet reports the pod Ready. */
  readonly ready: boolean;
  readonly terminating: boolean;
  /** Why the container is not running, when the kubelet says (CrashLoopBackOff, ErrImagePull...). */
  readonly waitingReason: string | undefined;
  readonly waitingMessage: string | undefined;
  readonly restarts: number;
  readonly lastExitCode: number | undefined;
  /** The kubelet's word for the last exit (Error, OOMKilled, Completed). */
  readonly lastExitReason?: string | undefined;
  /** Its container runs (not waiting, not exited). */
  readonly running?: boolean;
}

export function viewOfPod(pod: V1Pod): PodView {
  const container = pod.status?.containerStatuses?.[0];
  const waiting = container?.state?.waiting;
  return {
    name: pod.metadata?.name ?? '',
    revision: pod.metadata?.labels?.[revisionLabel] ?? '',
    ip: pod.status?.podIP || undefined,
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: pod.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
    waitingReason: waiting?.reason,
    waitingMessage: waiting?.message,
    restarts: container?.restartCount ?? 0,
    lastExitCode: container?.lastState?.terminated?.exitCode ?? container?.state?.terminated?.exitCode,
    lastExitReason: container?.lastState?.terminated?.reason ?? container?.state?.terminated?.reason,
    running: container?.state?.running !== undefined && container.state.running !== null,
  };
}

/** Reasons a pod will not become ready without a new revision: the rollout fails at once. */
const hopeless = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'CrashLoopBackOff', 'RunContainerError']);

/** Why a rollout of this revision cannot succeed, judging by its pods; undefined while there is hope. */
export function rolloutFailure(pods: readonly PodView[]): string | undefined {
  for (const pod of pods) {
    // The kubelet has not yet read the revision's Secret (its cache syncs with a timeout, and it retries): that passes.
    const stillSyncing = pod.waitingReason === 'CreateContainerConfigError' && /failed to sync (secret|configmap) cache/i.test(pod.waitingMessage ?? '');
    if (pod.waitingReason !== undefined && hopeless.has(pod.waitingReason) && !stillSyncing) {
      const detail = pod.waitingMessage ? `: ${pod.waitingMessage}` : '';
      const exit = pod.lastExitCode === undefined ? '' : ` (last exit code ${pod.lastExitCode})`;
      return `pod ${pod.name} is ${pod.waitingReason}${exit}${detail}`;
    }
    if (pod.restarts > 0 && pod.lastExitCode !== undefined) return `pod ${pod.name} exited with code ${pod.lastExitCode} and was restarted`;
  }
  return undefined;
}
