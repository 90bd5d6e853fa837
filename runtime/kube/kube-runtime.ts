/**
 * The Kubernetes executor: each Revision is a Deployment (deployment-spec.ts) and the
 * shared reconciler (runtime/core) decides, from the app's pods, what should run; its
 * actions become Deployment scales (scale-targets.ts). Kubernetes schedules, starts,
 * restarts and garbage-collects; Dormant adds only what Kubernetes does not do: a new pod is
 * probed from here every few milliseconds from the moment it has an address, so the
 * activator routes to it when the app first answers rather than at the kubelet's next
 * readiness report.
 */
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Deployment, type V1Pod, Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Histogram, type Registry } from 'prom-client';
import { type App, defaultNamespace, parseDuration, type Revision } from '../../crds/index.js';
import {
  type DesiredApp,
  EndpointsHub,
  type PlannedReplica,
  ReconcileLoop,
  ReplicaGauge,
  type ReplicaStatus,
  type RuntimeAction,
  StatusWriter,
  servedApps,
} from '../core/index.js';
import { runtimeErrors } from '../errors.js';
import type { ResourceStore } from '../resource-store.js';
import type { Endpoint, LogLine, LogOptions, OneOffProcess, ReplicaReport, RolloutOptions, Runtime, TerminalSize } from '../runtime.js';
import { updateWithRetry } from '../update-with-retry.js';
import { apiClient } from './api-client.js';
import { appLabel, containerPort, defaultContainerPort, type PodView, rolloutFailure, viewOfPod } from './deployment-spec.js';
import { Deployments, isNotFound } from './deployments.js';
import { follow } from './list-watch.js';
import { runLabel, startOneOffPod, sweepRunPods } from './one-off-pod.js';
import { platformEventReason, readPodLogs } from './pod-logs.js';
import { scaleTargets } from './scale-targets.js';
import { podAnswers, podEvents, podPhase, probePod, replicaStatusOf, type TrackedPod, trackPod } from './tracked-pod.js';

export interface KubeRuntimeOptions {
  readonly config: KubeConfig;
  readonly store: ResourceStore;
  readonly log: Logger;
  readonly registry?: Registry;
  /** Where Apps and their Deployments live. */
  readonly namespace?: string;
  /** Debounce of App status writes. */
  readonly statusDelayMs?: number;
  /**
   * Whether this process writes App replica status and scales the apps now. Components
   * apart run a runtime each; one of them (the acting autoscaler) writes, so the others need
   * no write access to Apps. Always, by default.
   */
  readonly writesStatus?: () => boolean;
  /**
   * This process is the only one that scales Deployments (all components in one process):
   * it may scale every Deployment of an app. Apart, each process scales only what it owns:
   * the one rolling out the revision it rolls out, the acting autoscaler the revisions it
   * has served. True by default.
   */
  readonly scalesAlone?: boolean;
  /** How long start() tries to list the pods before it fails (60 s). */
  readonly firstListTimeoutMs?: number;
  /** Monotonic milliseconds, for rollout deadlines (performance.now by default). */
  readonly clock?: () => number;
}

/** A rollout this process runs: the promise rollout() returns settles when it is proven or fails. */
interface Rollout {
  readonly revision: Revision;
  readonly firstSequence: number;
  readonly deadlineMs: number;
  readonly startTimeoutMs: number;
  /** What serves again if it fails. */
  readonly previous: Revision | undefined;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface AppState {
  readonly name: string;
  app: App | undefined;
  /** The revision pods should run (a rollout's while it runs); undefined when nothing is deployed. */
  revision: Revision | undefined;
  desired: number;
  rollout: Rollout | undefined;
  rolloutGeneration: number;
  /** This process rolls the app out (gitd runs here): its own view of the serving revision leads. */
  rollsOutHere: boolean;
  /**
   * Apart: the Deployments that rollouts here scale. A rollout's is released once it is
   * published (the acting autoscaler takes it over), or, failed or replaced, once it is
   * back at zero.
   */
  readonly owned: Set<string>;
  /** Revisions that have served here: the ones the acting autoscaler, apart, scales. */
  readonly served: Set<string>;
  readonly pods: Map<string, TrackedPod>;
  /** The scale each Deployment should have, as last reconciled; written by #writeScales. */
  targets: ReadonlyMap<string, number>;
  /** Scale last written by this process, per Deployment, until the Deployment says otherwise. */
  readonly applied: Map<string, number>;
  /** One scale write at a time per app; a change meanwhile sets dirty and is sent after it. */
  scaleWriting: Promise<void> | undefined;
  scaleDirty: boolean;
  scaleRetry: NodeJS.Timeout | undefined;
  readonly loop: ReconcileLoop;
}

interface DeploymentState {
  readonly app: string;
  readonly replicas: number;
}


/** The apps' replica pods: not the pods of dormant run, which carry the app's label too. */
const replicaSelector = `${appLabel},!${runLabel}`;

export class KubeRuntime implements Runtime {
  readonly #deploymentApi: Deployments;
  readonly #core: CoreV1Api;
  readonly #config: KubeConfig;
  readonly #store: ResourceStore;
  readonly #log: Logger;
  readonly #namespace: string;
  readonly #writesStatus: () => boolean;
  readonly #scalesAlone: boolean;
  readonly #clock: () => number;
  readonly #endpoints = new EndpointsHub();
  readonly #status: StatusWriter;
  readonly #firstListTimeoutMs: number;
  readonly #state = new Map<string, AppState>();
  /** Every Deployment of every app, as the apiserver has it (name → app, scale). */
  readonly #deployments = new Map<string, DeploymentState>();
  readonly #ports = new Map<string, number>();
  readonly #stop = new AbortController();
  readonly #metrics;
  #sequence = 0;
  /** Both watches have listed: until then nothing is reconciled (an unlisted pod would look missing). */
  #synced = false;
  #closed = false;

  constructor(options: KubeRuntimeOptions) {
    this.#config = options.config;
    this.#core = apiClient(options.config, CoreV1Api);
    this.#store = options.store;
    this.#log = options.log.child({ component: 'runtime' });
    this.#namespace = options.namespace ?? defaultNamespace;
    this.#deploymentApi = new Deployments(apiClient(options.config, AppsV1Api), this.#core, this.#namespace, this.#log);
    this.#writesStatus = options.writesStatus ?? (() => true);
    this.#scalesAlone = options.scalesAlone ?? true;
    this.#clock = options.clock ?? (() => performance.now());
    this.#status = new StatusWriter({
      store: options.store,
      log: this.#log,
      namespace: this.#namespace,
      delayMs: options.statusDelayMs ?? 25,
      enabled: this.#writesStatus,
      current: (app) => {
        const state = this.#state.get(app);
        return state && this.#replicaStatus(state);
      },
    });
    this.#firstListTimeoutMs = options.firstListTimeoutMs ?? 60_000;
    const registers = options.registry ? [options.registry] : [];
    this.#metrics = {
      pods: new ReplicaGauge(options.registry),
      routable: new Histogram({
        name: 'dormant_pod_routable_seconds',
        help: 'From the first sight of a pod to the first answer of its app to the runtime probe',
        labelNames: ['app'],
        buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10, 30],
        registers,
      }),
    };
  }

  /** The app's pods as this runtime tracks them (for dormant ps): id, revision, phase, time since first seen. Memory and CPU need metrics-server: not given. */
  describe(app: string): { replicas: ReplicaReport[] } {
    const state = this.#state.get(app);
    const now = this.#clock();
    return {
      replicas: [...(state?.pods.entries() ?? [])].map(([name, pod]) => ({ id: name, revision: pod.view.revision, phase: podPhase(pod), pid: undefined, uptimeMs: Math.max(0, now - pod.seenAtMs) })),
    };
  }

  /**
   * An event of the platform's about the app (a deploy, a release, a run), as a Kubernetes
   * Event of its App: `kubectl describe app` and `dormant logs --source platform` show it.
   * Written in the background; one that cannot be written is logged, never in the way.
   */
  record(app: string, text: string): void {
    const now = new Date();
    void this.#core
      .createNamespacedEvent({
        namespace: this.#namespace,
        body: {
          metadata: { generateName: `${app}.`, namespace: this.#namespace, labels: { [appLabel]: app } },
          involvedObject: { apiVersion: 'dormant.dev/v1alpha1', kind: 'App', name: app, namespace: this.#namespace },
          reason: platformEventReason,
          message: text.slice(0, 1024),
          type: 'Normal',
          source: { component: 'dormant' },
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      })
      .catch((error: unknown) => this.#log.debug({ app, err: error }, 'a platform event cannot be written'));
  }

  /** Deletes run pods left by an earlier gitd (called by the process that runs gitd, before it takes runs). */
  sweepRunPods(): Promise<void> {
    return sweepRunPods(this.#core, this.#namespace);
  }

  /** A one-off pod of the revision, attached: dormant run. */
  runOneOff(app: App, revision: Revision, argv: readonly string[], terminal?: TerminalSize): Promise<OneOffProcess> {
    return startOneOffPod({ config: this.#config, core: this.#core, app, revision, argv, terminal });
  }

  /** Lists the pods and Deployments, picks up the apps already deployed (their serving revision and scale), then follows pods, Deployments and Apps. */
  async start(): Promise<void> {
    await this.#follow<V1Pod & { metadata: { name: string } }>({
      path: `/api/v1/namespaces/${this.#namespace}/pods`,
      list: async () => {
        const list = await this.#core.listNamespacedPod({ namespace: this.#namespace, labelSelector: replicaSelector });
        return { items: list.items as (V1Pod & { metadata: { name: string } })[], resourceVersion: list.metadata?.resourceVersion };
      },
      labelSelector: replicaSelector,
      onEvent: (type, pod) => this.#podEvent(type, pod),
      refused: (namespace, reason, cause) => runtimeErrors.podsForbidden({ namespace, reason }, { cause }),
    });
    await this.#follow<V1Deployment & { metadata: { name: string } }>({
      path: `/apis/apps/v1/namespaces/${this.#namespace}/deployments`,
      list: () => this.#deploymentApi.list(),
      onEvent: (type, deployment) => this.#deploymentEvent(type, deployment),
      refused: (namespace, reason, cause) => runtimeErrors.deploymentsForbidden({ namespace, reason }, { cause }),
    });
    for (const { app, revision } of await servedApps(this.#store, this.#namespace)) {
      const state = this.#stateOf(app.metadata.name);
      state.app = app;
      if (revision?.status?.image === undefined) continue;
      state.revision = revision;
      state.served.add(revision.metadata.name);
      this.#ports.set(revision.metadata.name, containerPort(revision));
      state.desired = this.#deployments.get(revision.metadata.name)?.replicas ?? 0;
    }
    this.#synced = true;
    for (const state of this.#state.values()) this.#reconcile(state);
    void this.#followApps();
  }

  /** Lists, then watches the apps' objects of one kind until close; resolves once listed, or rejects with why it cannot list. */
  #follow<T extends { metadata: { name: string } }>(options: {
    path: string;
    list: () => Promise<{ items: readonly T[]; resourceVersion: string | undefined }>;
    onEvent: (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T) => void;
    refused: (namespace: string, reason: string, cause: unknown) => Error;
    labelSelector?: string;
  }): Promise<void> {
    return follow<T>({
      watcher: new Watch(this.#config),
      path: options.path,
      labelSelector: options.labelSelector ?? appLabel,
      list: options.list,
      onEvent: ({ type, object }) => options.onEvent(type, object),
      firstListTimeoutMs: this.#firstListTimeoutMs,
      refused: (reason, cause) => options.refused(this.#namespace, reason, cause),
      onRetry: (what, error) => this.#log.warn({ err: error, path: options.path }, `${what} failed; retrying`),
      signal: this.#stop.signal,
    });
  }

  #deploymentEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', deployment: V1Deployment & { metadata: { name: string } }): void {
    const name = deployment.metadata.name;
    const app = deployment.metadata.labels?.[appLabel];
    if (app === undefined) return;
    const state = this.#state.get(app);
    if (type === 'DELETED') {
      this.#deployments.delete(name);
      state?.applied.delete(name);
      return;
    }
    const replicas = deployment.spec?.replicas ?? 0;
    this.#deployments.set(name, { app, replicas });
    // Someone else scaled it (or an earlier write of ours is reported late): the Deployment's word stands.
    if (state && state.applied.get(name) !== replicas) state.applied.delete(name);
  }

  /** Follows the Apps: a deletion forgets the app; a revision that became ready elsewhere is served here too. */
  async #followApps(): Promise<void> {
    try {
      for await (const event of this.#store.watch('App', { namespace: this.#namespace, signal: this.#stop.signal })) {
        const state = this.#state.get(event.object.metadata.name);
        if (!state) continue;
        if (event.type === 'DELETED') {
          // The garbage collector removes the Deployments the App owns.
          this.#log.info({ app: state.name }, 'app deleted: Kubernetes removes its Deployments');
          this.#forget(state, 'the app was deleted');
          state.app = undefined;
        } else {
          state.app = event.object;
          // Another process (gitd, when the components run apart) rolled out a revision: serve it here too.
          const ready = event.object.status?.readyRevision;
          // Not in the process that rolls out: it is ahead of the App's status (written after its rollouts), and adopting that would step back.
          if (ready !== undefined && ready !== state.revision?.metadata.name && !state.rollsOutHere) void this.#adoptRevision(state, ready);
        }
      }
    } catch (error) {
      if (!this.#closed) this.#log.error({ err: error }, 'app watch ended');
    }
  }

  /** Takes up a revision that became ready elsewhere: its pods are the ones to route to, and its Deployment the one to scale. */
  async #adoptRevision(state: AppState, name: string): Promise<void> {
    const generation = state.rolloutGeneration;
    const revision = await this.#store.find('Revision', name, this.#namespace).catch(() => undefined);
    if (revision?.status?.image === undefined || state.rolloutGeneration !== generation || state.rollsOutHere) return;
    state.revision = revision;
    state.served.add(name);
    this.#ports.set(name, containerPort(revision));
    // The process that scales (the acting autoscaler) keeps the scale it decided and gives it to the new revision; the others take the Deployment's word.
    const replicas = this.#deployments.get(name)?.replicas;
    if (!this.#writesStatus() && replicas !== undefined) state.desired = replicas;
    this.#log.info({ app: state.name, revision: name }, 'serving a revision rolled out by another process');
    // The acting autoscaler also stops what a wake-up may have started on the old revision during the rollout.
    this.#reconcile(state);
  }

  #stateOf(name: string): AppState {
    let state = this.#state.get(name);
    if (!state) {
      // The loop's callbacks run only after the state below exists.
      const loop = new ReconcileLoop(
        {
          observe: () => this.#observe(created),
          perform: (action) => this.#perform(created, action),
          settle: (replicas, actions) => this.#settle(created, replicas, actions),
        },
        this.#clock,
      );
      const created: AppState = {
        name,
        app: undefined,
        revision: undefined,
        desired: 0,
        rollout: undefined,
        rolloutGeneration: 0,
        rollsOutHere: false,
        owned: new Set(),
        served: new Set(),
        pods: new Map(),
        targets: new Map(),
        applied: new Map(),
        scaleWriting: undefined,
        scaleDirty: false,
        scaleRetry: undefined,
        loop,
      };
      state = created;
      this.#state.set(name, state);
    }
    return state;
  }

  #podEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: V1Pod): void {
    const app = pod.metadata?.labels?.[appLabel];
    const name = pod.metadata?.name;
    if (app === undefined || name === undefined) return;
    const state = this.#stateOf(app);
    // A pod that has finished (Failed, Succeeded: evicted, or its app exited for good) is gone, whatever address it still shows.
    if (type === 'DELETED' || pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') {
      state.pods.delete(name);
    } else {
      const known = state.pods.get(name);
      const before = known?.view;
      const tracked = trackPod(known, viewOfPod(pod), performance.now(), known ? known.sequence : this.#sequence++);
      state.pods.set(name, tracked);
      this.#sayPod(state, tracked, before);
      probePod(tracked, {
        port: () => this.#portOf(tracked.view.revision),
        path: state.app?.spec.run.readinessPath,
        tracked: () => state.pods.get(name) === tracked,
        closed: () => this.#closed,
        onAnswer: (elapsedMs) => {
          this.#metrics.routable.observe({ app: state.name }, elapsedMs / 1000);
          this.#sayPod(state, tracked, tracked.view);
          this.#reconcile(state);
        },
      });
    }
    this.#reconcile(state);
  }

  /** A pod's first answer, crash or back-off among the app's platform events; said by the one process that writes status (the acting autoscaler when split), not by each. */
  #sayPod(state: AppState, pod: TrackedPod, before: PodView | undefined): void {
    // Pods found at start, or seen while another process speaks, are taken as said: their times would be this process's, not theirs.
    if (this.#writesStatus() && this.#synced) for (const text of podEvents(pod, before, performance.now())) this.record(state.name, text);
    if (podAnswers(pod)) pod.saidReady = true;
  }

  /** Asks the reconciler what the app's pods should be now, and turns its answer into Deployment scales. */
  #reconcile(state: AppState): void {
    if (this.#closed) return;
    // Until both watches have listed, an unlisted pod would look missing: nothing is decided yet.
    if (this.#synced) state.loop.run();
    else this.#changed(state);
  }

  #observe(state: AppState): { desired: DesiredApp; replicas: PlannedReplica[] } {
    const replicas: PlannedReplica[] = [];
    for (const [id, pod] of state.pods) replicas.push({ id, revision: pod.view.revision, phase: podPhase(pod), sequence: pod.sequence });
    const rollout = state.rollout && { revision: state.rollout.revision.metadata.name, firstSequence: state.rollout.firstSequence, deadlineMs: state.rollout.deadlineMs };
    return { desired: { revision: state.revision?.metadata.name, scale: state.desired, rollout }, replicas };
  }

  /** The reconciler's starts and drains, as the scales of the Deployments this process may scale; then written. */
  #settle(state: AppState, replicas: readonly PlannedReplica[], actions: readonly RuntimeAction[]): void {
    // Nothing deployed (retired, deleted): its Deployments are being deleted, not scaled.
    const deployed = state.revision !== undefined || state.rollout !== undefined;
    const targets = new Map<string, number>();
    if (deployed) {
      for (const [deployment, scale] of scaleTargets(replicas, actions, this.#deploymentsOf(state))) if (this.#owns(state, deployment)) targets.set(deployment, scale);
    }
    state.targets = targets;
    const rolling = state.rollout?.revision.metadata.name;
    for (const deployment of state.owned) {
      if (deployment !== rolling && targets.get(deployment) === 0 && this.#scaleOf(state, deployment) === 0) state.owned.delete(deployment);
    }
    if (targets.size > 0) void this.#writeScales(state).catch(() => undefined);
    this.#changed(state);
  }

  /** Performs what Kubernetes does not: ending a rollout. Starts and drains become scales (#reconcile). True when the app must be reconciled again. */
  #perform(state: AppState, action: RuntimeAction): boolean {
    switch (action.type) {
      case 'StartReplica':
      case 'DrainReplica':
      case 'ForgetReplica':
        return false;
      case 'CompleteRollout': {
        const rollout = state.rollout;
        if (!rollout) return false;
        state.rollout = undefined;
        void this.#publish(state, rollout.revision.metadata.name, state.rolloutGeneration).then(() => {
          this.#log.info({ app: state.name, revision: action.revision }, 'rollout complete');
          rollout.resolve();
        }, rollout.reject);
        return true;
      }
      case 'FailRollout': {
        const rollout = state.rollout;
        if (!rollout) return false;
        state.rollout = undefined;
        state.revision = rollout.previous;
        const name = rollout.revision.metadata.name;
        const failing = action.replica === undefined ? [...state.pods.values()].find((p) => p.view.revision === name) : state.pods.get(action.replica);
        const reason =
          action.replica === undefined || failing === undefined
            ? `no pod of ${name} answered on its port within ${Math.round(rollout.startTimeoutMs / 1000)}s; the app must listen on the port in $PORT`
            : (rolloutFailure([failing.view]) ?? `pod ${action.replica} failed`);
        void (async () => {
          const lastLines = failing ? await this.#tail(failing.view.name, 20) : [];
          this.#log.warn({ app: state.name, revision: name }, 'rollout failed; the previous revision stays');
          rollout.reject(runtimeErrors.rolloutFailed({ app: state.name, revision: name, reason, lastLines, previous: rollout.previous?.metadata.name }));
        })();
        return true;
      }
    }
  }

  /** Whether this process may scale the Deployment now (see scalesAlone). */
  #owns(state: AppState, deployment: string): boolean {
    if (this.#scalesAlone) return true;
    if (state.owned.has(deployment)) return true;
    return this.#writesStatus() && state.served.has(deployment);
  }

  /** The scale a Deployment has, as far as this process knows: what it last wrote, or what the apiserver said. */
  #scaleOf(state: AppState, deployment: string): number | undefined {
    return state.applied.get(deployment) ?? this.#deployments.get(deployment)?.replicas;
  }

  *#deploymentsOf(state: AppState): Iterable<string> {
    for (const [name, deployment] of this.#deployments) if (deployment.app === state.name) yield name;
  }

  /** The container port of a revision's pods (known from rollouts; read once otherwise). */
  async #portOf(revision: string): Promise<number> {
    const known = this.#ports.get(revision);
    if (known !== undefined) return known;
    const found = await this.#store.find('Revision', revision, this.#namespace).catch(() => undefined);
    if (!found) return defaultContainerPort; // not remembered: read again next time
    const port = containerPort(found);
    this.#ports.set(revision, port);
    return port;
  }

  /** Pods of these revisions take requests: the one deployed, and during a rollout here the one it replaces. */
  #serves(state: AppState, revision: string): boolean {
    return revision === state.revision?.metadata.name || revision === state.rollout?.previous?.metadata.name;
  }

  #snapshot(state: AppState): readonly Endpoint[] {
    const endpoints: Endpoint[] = [];
    for (const [name, pod] of state.pods) {
      if (pod.view.ip === undefined) continue;
      const serves = this.#serves(state, pod.view.revision);
      const port = this.#ports.get(pod.view.revision) ?? defaultContainerPort;
      endpoints.push({ id: name, address: `${pod.view.ip}:${port}`, ready: serves && podAnswers(pod), draining: pod.view.terminating || !serves });
    }
    return endpoints;
  }

  #changed(state: AppState): void {
    const snapshot = this.#snapshot(state);
    this.#endpoints.publish(state.name, snapshot);
    let ready = 0;
    let starting = 0;
    let draining = 0;
    for (const endpoint of snapshot) {
      if (endpoint.ready) ready++;
      else if (endpoint.draining) draining++;
      else starting++;
    }
    this.#metrics.pods.set(state.name, { ready, starting, draining });
    this.#status.schedule(state.name);
  }

  #checkImage(revision: Revision): void {
    if (revision.status?.image === undefined) throw runtimeErrors.noImage({ revision: revision.metadata.name });
  }

  /**
   * Brings the app's Deployments to the scales last reconciled, one write at a time per app;
   * what is wanted is read when the write is sent, so a change made meanwhile is never lost,
   * and a failed write is tried again (the apiserver may be away) until it lands.
   */
  #writeScales(state: AppState): Promise<void> {
    state.scaleDirty = true;
    if (state.scaleWriting) return state.scaleWriting;
    const run = async () => {
      // Yield first: the finally below must run after state.scaleWriting is set, not before.
      await null;
      try {
        while (state.scaleDirty && !this.#closed) {
          state.scaleDirty = false;
          for (const [deployment, replicas] of state.targets) {
            if (this.#scaleOf(state, deployment) === replicas) continue;
            try {
              await this.#deploymentApi.scale(deployment, replicas);
              state.applied.set(deployment, replicas);
            } catch (error) {
              if (!isNotFound(error)) throw error;
            }
            // Reconciled again meanwhile: start over from the new targets.
            if (state.scaleDirty) break;
          }
        }
      } catch (error) {
        if (!this.#closed) {
          this.#log.warn({ app: state.name, err: error }, 'scaling failed; trying again in 1 s');
          clearTimeout(state.scaleRetry);
          state.scaleRetry = setTimeout(() => void this.#writeScales(state).catch(() => undefined), 1000);
        }
        throw error;
      } finally {
        state.scaleWriting = undefined;
      }
    };
    state.scaleWriting = run();
    return state.scaleWriting;
  }

  async rollout(app: App, revision: Revision, options: RolloutOptions = {}): Promise<void> {
    if (this.#closed) throw runtimeErrors.closed({ app: app.metadata.name });
    this.#checkImage(revision);
    const state = this.#stateOf(app.metadata.name);
    state.app = app;
    state.rollsOutHere = true;
    const generation = ++state.rolloutGeneration;
    const name = revision.metadata.name;
    const replaced = () => runtimeErrors.rolloutFailed({ app: state.name, revision: name, reason: 'a newer rollout replaced it', lastLines: [], previous: undefined });
    // If a rollout is still unproven, the revision to fall back to is the one before it.
    const previous = state.rollout?.previous ?? state.revision;
    state.rollout?.reject(runtimeErrors.rolloutFailed({ app: state.name, revision: state.rollout.revision.metadata.name, reason: 'a newer rollout replaced it', lastLines: [], previous: undefined }));
    state.rollout = undefined;
    this.#ports.set(name, containerPort(revision));
    // Another process scales the app (components apart: the acting autoscaler): start from the scale it set, not from what this one last saw.
    if (!this.#scalesAlone && previous !== undefined) await this.currentScale(state.name).catch(() => undefined);
    if (state.rolloutGeneration !== generation) throw replaced();
    const atZero = state.desired === 0 && !options.verifyAtZero;
    const replicas = atZero ? 0 : Math.max(state.desired, 1);
    // Pods seen from now on are this rollout's own: one of them crashing fails it.
    const firstSequence = this.#sequence;
    state.owned.add(name);
    await this.#deploymentApi.ensure(app, revision, replicas);
    state.applied.set(name, replicas);
    if (state.rolloutGeneration !== generation) throw replaced();
    state.revision = revision;
    if (atZero) {
      this.#reconcile(state);
      await this.#publish(state, name, generation);
      this.#log.info({ app: state.name, revision: name }, 'revision recorded; it starts on the next wake-up');
      return;
    }
    const startTimeoutMs = parseDuration(revision.spec.run.startTimeout) ?? 60_000;
    const done = new Promise<void>((resolve, reject) => {
      state.rollout = { revision, firstSequence, deadlineMs: this.#clock() + startTimeoutMs, startTimeoutMs, previous, resolve, reject };
    });
    this.#log.info({ app: state.name, revision: name, replicas }, 'rolling out');
    this.#reconcile(state);
    await done;
  }

  /**
   * The revision serves from now on: status.readyRevision names it, so that the other
   * processes (components apart) follow at once. Alone, this process scales the earlier
   * revisions' Deployments to zero as the new pods take over (they stay for a rollback);
   * apart, the acting autoscaler does once it follows, so that only one process scales them.
   */
  async #publish(state: AppState, revision: string, generation: number): Promise<void> {
    state.served.add(revision);
    await this.#publishServing(state, revision);
    await this.#settled(state);
    if (state.rolloutGeneration === generation) state.owned.delete(revision);
  }

  /** Records status.readyRevision, which the other processes (components apart) follow. */
  async #publishServing(state: AppState, revision: string): Promise<void> {
    try {
      await updateWithRetry(async () => {
        const app = this.#closed ? undefined : await this.#store.find('App', state.name, this.#namespace);
        if (!app || app.status?.readyRevision === revision) return;
        await this.#store.updateStatus({ ...app, status: { ...app.status, readyRevision: revision } });
      }, 5);
    } catch (error) {
      // The push's own status write after the rollout names it too; others follow then.
      this.#log.warn({ app: state.name, revision, err: error }, 'cannot record the serving revision yet');
    }
  }

  /** Until the scale writes under way for the app have landed or failed. */
  async #settled(state: AppState): Promise<void> {
    while (state.scaleWriting) await state.scaleWriting.catch(() => undefined);
  }

  async #tail(pod: string, lines: number): Promise<string[]> {
    try {
      const text = await this.#core.readNamespacedPodLog({ name: pod, namespace: this.#namespace, tailLines: lines });
      return String(text).split('\n').filter((l) => l.length > 0);
    } catch {
      return [];
    }
  }

  async setScale(app: string, replicas: number, reason?: string): Promise<void> {
    if (this.#closed) throw runtimeErrors.closed({ app });
    const state = this.#stateOf(app);
    const wanted = Math.max(0, Math.floor(replicas));
    if (wanted > 0 && !state.revision && !state.rollout) throw runtimeErrors.noRevision({ app });
    const from = state.desired;
    if (from !== wanted) this.#log.info({ app, from, to: wanted }, 'scaling');
    state.desired = wanted;
    this.#reconcile(state);
    await this.#writeScales(state);
    // After the scale is written: on a wake-up a request waits on it, and the event is one more request to the apiserver.
    if (from !== wanted) this.record(app, `Scaling from ${from} to ${wanted} replica${wanted === 1 ? '' : 's'}${reason ? `: ${reason}` : ''}`);
  }

  /** The serving Deployment's scale as the apiserver has it (an autoscaler taking over reads it). */
  async currentScale(app: string): Promise<number> {
    const state = this.#stateOf(app);
    const name = state.revision?.metadata.name;
    if (name === undefined) return 0;
    const replicas = await this.#deploymentApi.replicas(name);
    if (state.desired !== replicas) {
      state.desired = replicas;
      this.#status.schedule(app);
    }
    state.applied.set(name, replicas);
    return replicas;
  }

  async retire(app: string): Promise<void> {
    const state = this.#state.get(app);
    if (!state) return;
    this.#log.info({ app }, 'retiring: no revision serves the app');
    this.#forget(state, 'the app was retired');
    await this.#deploymentApi.deleteAll(app).catch((error: unknown) => {
      this.#log.warn({ app, err: error }, 'could not delete the Deployments of a retired app');
    });
  }

  /** Nothing serves the app any more; its Deployments are deleted (not scaled) by the caller or the garbage collector. */
  #forget(state: AppState, reason: string): void {
    state.rolloutGeneration++;
    state.rollout?.reject(runtimeErrors.rolloutFailed({ app: state.name, revision: state.rollout.revision.metadata.name, reason, lastLines: [], previous: undefined }));
    state.rollout = undefined;
    state.owned.clear();
    state.applied.clear();
    state.served.clear();
    state.revision = undefined;
    state.desired = 0;
    this.#reconcile(state);
  }

  endpoints(app: string, signal?: AbortSignal): AsyncIterable<readonly Endpoint[]> {
    return this.#endpoints.subscribe(app, this.#snapshot(this.#stateOf(app)), signal);
  }

  deployed(app: string): boolean {
    return this.#state.get(app)?.revision !== undefined;
  }

  /** Nothing to release: a stopping pod keeps serving through its preStop pause, then gets SIGTERM. */
  drained(_app: string, _endpointId: string): void {}

  logs(app: string, options: LogOptions = {}): AsyncIterable<LogLine> {
    return readPodLogs(this.#config, this.#namespace, app, options);
  }

  /** Writes every app's status again: this process has just become its writer, and another may have written since it last did. */
  rewriteStatuses(): void {
    this.#status.rewriteAll(this.#state.keys());
  }

  /** Replica counts and the Ready condition, as App.status should say now. */
  #replicaStatus(state: AppState): ReplicaStatus {
    return replicaStatusOf(state.revision?.metadata.name, state.desired, state.pods.values());
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    this.#status.close();
    this.#endpoints.close();
    for (const state of this.#state.values()) {
      clearTimeout(state.scaleRetry);
      state.loop.stop();
    }
  }
}
