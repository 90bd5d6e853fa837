/**
 * The Kubernetes runtime: each Revision is a Deployment (deployment-spec.ts), scaling is a
 * write to its scale subresource, and endpoints come from a watch of the app's pods
 * (address = pod IP and port). Kubernetes schedules, starts, restarts and garbage-collects;
 * Dormant adds only what Kubernetes does not do: a new pod is probed from here every few
 * milliseconds from the moment it has an address, so the activator routes to it when the
 * app first answers rather than at the kubelet's next readiness report.
 */
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod, Watch } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Histogram, type Registry } from 'prom-client';
import { type App, defaultNamespace, parseDuration, type Revision } from '../../crds/index.js';
import { isDormantError } from '../../errors/index.js';
import { EndpointsHub, probeDelayMs, ReplicaGauge, type ReplicaStatus, replicaAnswers, StatusWriter, servedApps } from '../core/index.js';
import { runtimeErrors } from '../errors.js';
import type { ResourceStore } from '../resource-store.js';
import { updateWithRetry } from '../update-with-retry.js';
import type { Endpoint, LogLine, LogOptions, RolloutOptions, Runtime } from '../runtime.js';
import { appLabel, containerPort, defaultContainerPort, deploymentFor, type PodView, rolloutFailure, viewOfPod } from './deployment-spec.js';
import { listWatch } from './list-watch.js';
import { readPodLogs } from './pod-logs.js';
import { apiClient } from './api-client.js';

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
   * Whether this process writes App replica status now. Components apart run a runtime each;
   * one of them (the acting autoscaler) writes, so the others need no write access to Apps.
   * Always, by default.
   */
  readonly writesStatus?: () => boolean;
  /** How long start() tries to list the pods before it fails (60 s). */
  readonly firstListTimeoutMs?: number;
}

interface PodState {
  view: PodView;
  /** Answered the runtime's own probe since it last changed (address, restarts); bridges the time until the kubelet's first Ready. */
  probed: boolean;
  probing: boolean;
  /** The kubelet has reported it Ready at least once: from then on its word decides. */
  everReady: boolean;
  readonly seenAtMs: number;
}

/** A rollout in progress: its Deployment gets the scale while it runs. */
interface Rolling {
  readonly revision: Revision;
  readonly generation: number;
  /** At zero: one pod proves the revision starts, then it returns to zero. */
  readonly verifying: boolean;
}

interface AppState {
  readonly name: string;
  app: App | undefined;
  /** The revision that serves; undefined before the first rollout. */
  revision: Revision | undefined;
  desired: number;
  /** Revisions whose pods may take requests: the serving one, and during a rollout the new one. */
  serving: Set<string>;
  readonly pods: Map<string, PodState>;
  /** Woken on every change of the app's pods, by rollouts waiting for readiness. */
  readonly waiters: Set<() => void>;
  rolloutGeneration: number;
  rolling: Rolling | undefined;
  /** This process rolls the app out (gitd runs here): its own view of the serving revision leads. */
  rollsOutHere: boolean;
  /** Scale last acknowledged by the apiserver, per Deployment. */
  readonly applied: Map<string, number>;
  /** One scale write at a time per app; a change meanwhile sets dirty and is sent after it. */
  scaleWriting: Promise<void> | undefined;
  scaleDirty: boolean;
  scaleRetry: NodeJS.Timeout | undefined;
}

const isConflict = (error: unknown) => (error as { code?: number }).code === 409;
const isNotFound = (error: unknown) => (error as { code?: number }).code === 404;

export class KubeRuntime implements Runtime {
  readonly #apps: AppsV1Api;
  readonly #core: CoreV1Api;
  readonly #config: KubeConfig;
  readonly #store: ResourceStore;
  readonly #log: Logger;
  readonly #namespace: string;
  readonly #writesStatus: () => boolean;
  readonly #endpoints = new EndpointsHub();
  readonly #status: StatusWriter;
  readonly #firstListTimeoutMs: number;
  readonly #state = new Map<string, AppState>();
  readonly #ports = new Map<string, number>();
  readonly #stop = new AbortController();
  readonly #metrics;
  #closed = false;

  constructor(options: KubeRuntimeOptions) {
    this.#config = options.config;
    this.#apps = apiClient(options.config, AppsV1Api);
    this.#core = apiClient(options.config, CoreV1Api);
    this.#store = options.store;
    this.#log = options.log.child({ component: 'runtime' });
    this.#namespace = options.namespace ?? defaultNamespace;
    this.#writesStatus = options.writesStatus ?? (() => true);
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

  /** Picks up apps already deployed (their serving revision and scale), then follows their pods and deletions. */
  async start(): Promise<void> {
    for (const { app, revision } of await servedApps(this.#store, this.#namespace)) {
      const state = this.#stateOf(app.metadata.name);
      state.app = app;
      if (revision?.status?.image === undefined) continue;
      state.revision = revision;
      state.serving = new Set([revision.metadata.name]);
      this.#ports.set(revision.metadata.name, containerPort(revision));
      const deployment = await this.#apps.readNamespacedDeployment({ name: revision.metadata.name, namespace: this.#namespace }).catch(() => undefined);
      state.desired = deployment?.spec?.replicas ?? 0;
    }
    // Until the first list: refused for good (401, 403) or failing for a minute, start fails with the reason instead of waiting on.
    const firstListDeadline = performance.now() + this.#firstListTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      const refuse = (error: unknown) => {
        const status = (error as { code?: unknown }).code;
        const reason = status === 401 || status === 403 ? `the apiserver answered ${status}` : `no answer for ${this.#firstListTimeoutMs / 1000} s (${(error as Error).message})`;
        reject(runtimeErrors.podsForbidden({ namespace: this.#namespace, reason }, { cause: error }));
      };
      let synced = false;
      void listWatch<V1Pod & { metadata: { name: string } }>({
        watcher: new Watch(this.#config),
        path: `/api/v1/namespaces/${this.#namespace}/pods`,
        labelSelector: appLabel,
        list: async () => {
          const list = await this.#core.listNamespacedPod({ namespace: this.#namespace, labelSelector: appLabel });
          return { items: list.items as (V1Pod & { metadata: { name: string } })[], resourceVersion: list.metadata?.resourceVersion };
        },
        onEvent: ({ type, object }) => this.#podEvent(type, object),
        onSynced: () => {
          synced = true;
          resolve();
        },
        onFailure: (what, error) => {
          const status = (error as { code?: unknown }).code;
          if (!synced && (status === 401 || status === 403 || performance.now() > firstListDeadline)) refuse(error);
          else this.#log.warn({ err: error }, `pod ${what} failed; retrying`);
        },
        signal: this.#stop.signal,
      });
    });
    void this.#followDeletions();
  }

  async #followDeletions(): Promise<void> {
    try {
      for await (const event of this.#store.watch('App', { namespace: this.#namespace, signal: this.#stop.signal })) {
        const state = this.#state.get(event.object.metadata.name);
        if (!state) continue;
        if (event.type === 'DELETED') {
          // The garbage collector removes the Deployments the App owns.
          this.#log.info({ app: state.name }, 'app deleted: Kubernetes removes its Deployments');
          state.rolloutGeneration++;
          state.rolling = undefined;
          state.applied.clear();
          state.revision = undefined;
          state.app = undefined;
          state.desired = 0;
          state.serving = new Set();
          this.#changed(state);
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
    state.serving = new Set([name]);
    this.#ports.set(name, containerPort(revision));
    const deployment = await this.#apps.readNamespacedDeployment({ name, namespace: this.#namespace }).catch(() => undefined);
    if (deployment?.spec?.replicas !== undefined) {
      state.applied.set(name, deployment.spec.replicas);
      // The process that scales (the acting autoscaler) keeps the scale it decided and gives it to the new revision; the others take the Deployment's word.
      if (!this.#writesStatus()) state.desired = deployment.spec.replicas;
    }
    this.#log.info({ app: state.name, revision: name }, 'serving a revision rolled out by another process');
    if (this.#writesStatus()) void this.#applyScale(state);
    this.#changed(state);
    this.#status.schedule(state.name);
    // The writer (the acting autoscaler) also stops what a wake-up may have started on the old revision during the rollout.
    if (this.#writesStatus()) await this.#scaleDownOthers(state, name, generation).catch((error: unknown) => this.#log.warn({ app: state.name, err: error }, 'cannot scale down the earlier revisions'));
  }

  #stateOf(name: string): AppState {
    let state = this.#state.get(name);
    if (!state) {
      state = {
        name,
        app: undefined,
        revision: undefined,
        desired: 0,
        serving: new Set(),
        pods: new Map(),
        waiters: new Set(),
        rolloutGeneration: 0,
        rolling: undefined,
        rollsOutHere: false,
        applied: new Map(),
        scaleWriting: undefined,
        scaleDirty: false,
        scaleRetry: undefined,
      };
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
      const view = viewOfPod(pod);
      const known = state.pods.get(name);
      if (known) {
        // A restart or a new address voids what the runtime's probe saw; the kubelet's Ready, once seen, decides from then on.
        if (view.ip !== known.view.ip || view.restarts !== known.view.restarts || (known.view.ready && !view.ready)) known.probed = false;
        known.everReady ||= view.ready;
        known.view = view;
      } else {
        state.pods.set(name, { view, probed: false, probing: false, everReady: view.ready, seenAtMs: performance.now() });
      }
      this.#probe(state, name);
    }
    this.#changed(state);
  }

  /** Connects to a new pod's port (or GETs its readinessPath) every few ms until its app answers. */
  #probe(state: AppState, podName: string): void {
    const pod = state.pods.get(podName);
    if (!pod || pod.probed || pod.probing || pod.everReady || pod.view.ip === undefined || pod.view.terminating || pod.view.ready) return;
    pod.probing = true;
    const address = pod.view.ip;
    const restarts = pod.view.restarts;
    const path = state.app?.spec.run.readinessPath;
    void (async () => {
      const port = await this.#portOf(pod.view.revision);
      const deadline = performance.now() + 120_000;
      const unchanged = () => state.pods.get(podName) === pod && pod.view.ip === address && pod.view.restarts === restarts && !pod.view.terminating && !pod.view.ready;
      while (!this.#closed && unchanged() && performance.now() < deadline) {
        if ((await replicaAnswers(address, port, path)) && unchanged()) {
          pod.probed = true;
          this.#metrics.routable.observe({ app: state.name }, (performance.now() - pod.seenAtMs) / 1000);
          this.#changed(state);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, probeDelayMs(performance.now() - pod.seenAtMs)));
      }
      pod.probing = false;
      // Its address or restarts changed while probing: probe the pod as it is now.
      if (!pod.probed && state.pods.get(podName) === pod) this.#probe(state, podName);
    })();
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

  /** The app in the pod answers: the kubelet says Ready, or, before the kubelet's first Ready, the runtime's own probe got an answer. */
  #answering(pod: PodState): boolean {
    return !pod.view.terminating && pod.view.ip !== undefined && (pod.view.ready || (pod.probed && !pod.everReady));
  }

  #routable(state: AppState, pod: PodState): boolean {
    return this.#answering(pod) && state.serving.has(pod.view.revision);
  }

  #snapshot(state: AppState): readonly Endpoint[] {
    const endpoints: Endpoint[] = [];
    for (const [name, pod] of state.pods) {
      if (pod.view.ip === undefined) continue;
      const draining = pod.view.terminating || !state.serving.has(pod.view.revision);
      const port = this.#ports.get(pod.view.revision) ?? defaultContainerPort;
      endpoints.push({ id: name, address: `${pod.view.ip}:${port}`, ready: this.#routable(state, pod), draining });
    }
    return endpoints;
  }

  #changed(state: AppState): void {
    const snapshot = this.#snapshot(state);
    this.#endpoints.publish(state.name, snapshot);
    for (const wake of [...state.waiters]) wake();
    const ready = snapshot.filter((e) => e.ready).length;
    this.#metrics.pods.set(state.name, { ready, starting: snapshot.filter((e) => !e.ready && !e.draining).length, draining: snapshot.filter((e) => e.draining).length });
    this.#status.schedule(state.name);
  }

  #checkImage(revision: Revision): void {
    if (revision.status?.image === undefined) throw runtimeErrors.noImage({ revision: revision.metadata.name });
  }

  /**
   * Creates the revision's Deployment, or takes over the one that exists when it is this
   * App's and runs this image. One left by an earlier App of the same name (revision names
   * start again at 00001 once an App's Revisions are gone) is replaced, not reused.
   */
  async #ensureDeployment(app: App, revision: Revision, replicas: number): Promise<void> {
    const body = deploymentFor(app, revision, replicas);
    const name = revision.metadata.name;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#apps.createNamespacedDeployment({ namespace: this.#namespace, body });
        return;
      } catch (error) {
        if (!isConflict(error) || attempt >= 1) throw error;
      }
      const existing = await this.#apps.readNamespacedDeployment({ name, namespace: this.#namespace });
      const ours = existing.metadata?.ownerReferences?.some((o) => o.kind === 'App' && o.uid === app.metadata.uid) ?? false;
      const sameImage = existing.spec?.template.spec?.containers[0]?.image === revision.status?.image;
      if (ours && sameImage) {
        await this.#scaleDeployment(name, replicas);
        return;
      }
      this.#log.warn({ app: app.metadata.name, deployment: name }, 'replacing a Deployment of the same name left by an earlier app');
      await this.#apps.deleteNamespacedDeployment({ name, namespace: this.#namespace, body: { propagationPolicy: 'Background', preconditions: { uid: existing.metadata?.uid ?? '' } } }).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      const gone = performance.now() + 30_000;
      while (performance.now() < gone) {
        const still = await this.#apps.readNamespacedDeployment({ name, namespace: this.#namespace }).catch(() => undefined);
        if (!still) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async #scaleDeployment(name: string, replicas: number): Promise<void> {
    await this.#apps.replaceNamespacedDeploymentScale({
      name,
      namespace: this.#namespace,
      body: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name, namespace: this.#namespace }, spec: { replicas } },
    });
  }

  /** Scales every Deployment of the app except keep to zero (they stay for a rollback), unless a newer rollout has begun. */
  async #scaleDownOthers(state: AppState, keep: string, generation: number): Promise<void> {
    const list = await this.#apps.listNamespacedDeployment({ namespace: this.#namespace, labelSelector: `${appLabel}=${state.name}` });
    for (const deployment of list.items) {
      const name = deployment.metadata?.name;
      if (state.rolloutGeneration !== generation) return;
      if (name === undefined || name === keep || name === state.rolling?.revision.metadata.name || (deployment.spec?.replicas ?? 0) === 0) continue;
      await this.#scaleDeployment(name, 0).then(
        () => state.applied.set(name, 0),
        (error: unknown) => {
          if (!isNotFound(error)) throw error;
        },
      );
    }
  }

  /** The Deployment that takes the app's scale now, and the scale it should have. */
  #scaleTarget(state: AppState): { deployment: string; replicas: number } | undefined {
    if (state.rolling) return { deployment: state.rolling.revision.metadata.name, replicas: Math.max(state.desired, state.rolling.verifying ? 1 : 0) };
    if (state.revision) return { deployment: state.revision.metadata.name, replicas: state.desired };
    return undefined;
  }

  /**
   * Brings the app's Deployment to the scale it should have, one write at a time per app;
   * what is wanted is read when the write is sent, so a change made meanwhile is never lost,
   * and a failed write is tried again (the apiserver may be away) until it lands.
   */
  #applyScale(state: AppState): Promise<void> {
    state.scaleDirty = true;
    if (state.scaleWriting) return state.scaleWriting;
    const run = async () => {
      // Yield first: the finally below must run after state.scaleWriting is set, not before.
      await null;
      try {
        while (state.scaleDirty && !this.#closed) {
          state.scaleDirty = false;
          const target = this.#scaleTarget(state);
          if (!target || state.applied.get(target.deployment) === target.replicas) continue;
          await this.#scaleDeployment(target.deployment, target.replicas);
          state.applied.set(target.deployment, target.replicas);
        }
      } catch (error) {
        if (!isNotFound(error) && !this.#closed) {
          this.#log.warn({ app: state.name, err: error }, 'scaling failed; trying again in 1 s');
          clearTimeout(state.scaleRetry);
          state.scaleRetry = setTimeout(() => void this.#applyScale(state).catch(() => undefined), 1000);
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
    const generation = ++state.rolloutGeneration;
    state.rollsOutHere = true;
    const current = () => state.rolloutGeneration === generation;
    const previous = state.revision;
    const name = revision.metadata.name;
    this.#ports.set(name, containerPort(revision));
    // Another process scales the app (components apart: the acting autoscaler): start from the scale it set, not from what this one last saw.
    if (!this.#writesStatus() && previous !== undefined) await this.currentScale(state.name).catch(() => undefined);
    if (!current()) throw runtimeErrors.rolloutFailed({ app: state.name, revision: name, reason: 'a newer rollout replaced it', lastLines: [], previous: undefined });
    const atZero = state.desired === 0 && !options.verifyAtZero;
    state.rolling = { revision, generation, verifying: options.verifyAtZero === true };
    const created = this.#scaleTarget(state)?.replicas ?? 0;
    await this.#ensureDeployment(app, revision, atZero ? 0 : created);
    state.applied.set(name, atZero ? 0 : created);
    const replaced = () => runtimeErrors.rolloutFailed({ app: state.name, revision: name, reason: 'a newer rollout replaced it', lastLines: [], previous: undefined });
    if (!current()) throw replaced();
    if (atZero) {
      await this.#serve(state, revision, generation);
      this.#log.info({ app: state.name, revision: name }, 'revision recorded; it starts on the next wake-up');
      return;
    }
    await this.#applyScale(state);
    state.serving = new Set([...(previous ? [previous.metadata.name] : []), name]);
    this.#log.info({ app: state.name, revision: name, replicas: created }, 'rolling out');
    const startTimeoutMs = parseDuration(revision.spec.run.startTimeout) ?? 60_000;
    try {
      await this.#waitReady(state, name, startTimeoutMs, generation);
    } catch (error) {
      const failing = [...state.pods.values()].find((p) => p.view.revision === name);
      const lastLines = failing ? await this.#tail(failing.view.name, 10) : [];
      if (current()) {
        state.rolling = undefined;
        state.serving = new Set(previous ? [previous.metadata.name] : []);
        this.#changed(state);
        await this.#scaleDeployment(name, 0).then(
          () => state.applied.set(name, 0),
          () => undefined,
        );
      }
      const reason = isDormantError(error) ? error.message : (error as Error).message;
      throw runtimeErrors.rolloutFailed({ app: state.name, revision: name, reason, lastLines, previous: previous?.metadata.name });
    }
    if (!current()) throw replaced();
    await this.#serve(state, revision, generation);
    this.#log.info({ app: state.name, revision: name }, 'rollout complete');
  }

  /**
   * The revision serves from now on: its pods take requests, its Deployment the app's scale
   * (at zero after a check, that returns it to zero), and the others go to zero.
   */
  async #serve(state: AppState, revision: Revision, generation: number): Promise<void> {
    state.rolling = undefined;
    state.revision = revision;
    state.serving = new Set([revision.metadata.name]);
    this.#changed(state);
    await this.#applyScale(state);
    // Once its Deployment has its scale (what a process that adopts it reads), and before the old pods stop: activators in other processes route by the App's readyRevision.
    await this.#publishServing(state, revision.metadata.name);
    await this.#scaleDownOthers(state, revision.metadata.name, generation);
  }

  /** status.readyRevision names what this process now serves, so that the other processes (components apart) follow at once. */
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

  /** Until target pods of the revision answer, one fails for good, time runs out, or a newer rollout starts. */
  async #waitReady(state: AppState, revision: string, timeoutMs: number, generation: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (state.rolloutGeneration !== generation) throw new Error('a newer rollout replaced it');
      const pods = [...state.pods.values()].filter((p) => p.view.revision === revision && !p.view.terminating);
      const target = Math.max(1, this.#scaleTarget(state)?.replicas ?? 1);
      if (pods.filter((p) => this.#answering(p)).length >= target) return;
      const failure = rolloutFailure(pods.map((p) => p.view));
      if (failure !== undefined) throw new Error(failure);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no pod of ${revision} answered on its port within ${Math.round(timeoutMs / 1000)}s; the app must listen on the port in $PORT`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          state.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 1000));
        state.waiters.add(wake);
      });
    }
  }

  async #tail(pod: string, lines: number): Promise<string[]> {
    try {
      const text = await this.#core.readNamespacedPodLog({ name: pod, namespace: this.#namespace, tailLines: lines });
      return String(text).split('\n').filter((l) => l.length > 0);
    } catch {
      return [];
    }
  }

  async setScale(app: string, replicas: number): Promise<void> {
    if (this.#closed) throw runtimeErrors.closed({ app });
    const state = this.#stateOf(app);
    const wanted = Math.max(0, Math.floor(replicas));
    if (wanted > 0 && !state.revision && !state.rolling) throw runtimeErrors.noRevision({ app });
    if (state.desired !== wanted) this.#log.info({ app, from: state.desired, to: wanted }, 'scaling');
    state.desired = wanted;
    this.#status.schedule(app);
    await this.#applyScale(state);
  }

  /** The serving Deployment's scale as the apiserver has it (an autoscaler taking over reads it). */
  async currentScale(app: string): Promise<number> {
    const state = this.#stateOf(app);
    const name = state.revision?.metadata.name;
    if (name === undefined) return 0;
    const deployment = await this.#apps.readNamespacedDeployment({ name, namespace: this.#namespace });
    const replicas = deployment.spec?.replicas ?? 0;
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
    state.rolloutGeneration++;
    state.rolling = undefined;
    state.applied.clear();
    state.revision = undefined;
    state.desired = 0;
    state.serving = new Set();
    this.#changed(state);
    await this.#apps.deleteCollectionNamespacedDeployment({ namespace: this.#namespace, labelSelector: `${appLabel}=${app}` }).catch((error: unknown) => {
      this.#log.warn({ app, err: error }, 'could not delete the Deployments of a retired app');
    });
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

  /** A crash loop or an image that cannot be pulled, as the kubelet reports it for the serving revision's pods, as the local runtime says it. */
  #failingCondition(state: AppState, serving: string | undefined): ReplicaStatus['ready'] {
    const pods = [];
    for (const pod of state.pods.values()) if (pod.view.revision === serving && !pod.view.terminating) pods.push(pod.view);
    const failure = rolloutFailure(pods);
    return failure === undefined ? undefined : { type: 'Ready', status: 'False', reason: 'CrashLoopBackOff', message: failure };
  }

  /** Replica counts and the Ready condition, as App.status should say now. */
  #replicaStatus(state: AppState): ReplicaStatus {
    const serving = state.revision?.metadata.name;
    let ready = 0;
    for (const pod of state.pods.values()) if (pod.view.revision === serving && this.#routable(state, pod)) ready++;
    const condition =
      state.revision === undefined
        ? { type: 'Ready', status: 'False' as const, reason: 'NotDeployed', message: 'no revision is deployed; git push to deploy' }
        : ready > 0
          ? { type: 'Ready', status: 'True' as const, reason: 'Serving', message: `${ready} pod${ready === 1 ? '' : 's'} of ${serving} ready` }
          : state.desired === 0
            ? { type: 'Ready', status: 'True' as const, reason: 'ScaledToZero', message: `${serving} is at zero pods; the next request wakes it` }
            : this.#failingCondition(state, serving) ?? { type: 'Ready', status: 'Unknown' as const, reason: 'Starting', message: `waiting for pods of ${serving}` };
    return { desiredReplicas: state.desired, readyReplicas: ready, ready: condition };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#stop.abort();
    this.#status.close();
    this.#endpoints.close();
    for (const state of this.#state.values()) {
      clearTimeout(state.scaleRetry);
      for (const wake of [...state.waiters]) wake();
    }
  }
}
