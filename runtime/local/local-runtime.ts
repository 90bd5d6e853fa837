import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import { type App, type Condition, containerResources, localImageOf, parseDuration, type Revision } from '../../crds/index.js';
import { treeBindingProblem } from '../../lifetime/index.js';
import { type HostSandbox, replicaDefaults, replicaLimits, type SandboxSpec, sandboxCommand, sandboxEnvInput, sandboxFstab, sandboxRootEnv } from '../../sandbox/index.js';
import { defaultRuntimesFolder, detectedAppUser, type ImageTree, ImageTrees, imageCommand, NodeRuntimes, nodeRuntimeFolder, stackAppFolder } from '../../builder/index.js';
import {
  type DesiredApp,
  defaultRestartBackoff,
  EndpointsHub,
  nextFailureCount,
  type PlannedReplica,
  type ReplicaPhase,
  type RestartBackoff,
  type RuntimeAction,
  ReplicaGauge,
  ReconcileLoop,
  restartDelayMs,
  StatusWriter,
  servedApps,
} from '../core/index.js';
import { runtimeErrors } from '../errors.js';
import type { ResourceStore } from '../resource-store.js';
import type { Endpoint, LogLine, LogOptions, RolloutOptions, Runtime } from '../runtime.js';
import { containerCommand, containerEnv, podmanEnv, reapContainers } from './containers.js';
import { listeningPorts, strayPorts } from './listeners.js';
import { LogBook, readAppLogs } from './log-book.js';
import { reapOrphans, supervisorId, supervisorVariable } from './orphans.js';
import { freePort, ReplicaProcess, reservePort } from './replica-process.js';
import { type WarmSandbox, WarmSandboxes } from './warm-sandboxes.js';

export interface LocalRuntimeOptions {
  readonly stateDir: string;
  readonly store: ResourceStore;
  readonly log: Logger;
  readonly registry?: Registry;
  readonly restartBackoff?: RestartBackoff;
  /** SIGTERM to SIGKILL. */
  readonly terminationGraceMs?: number;
  /** Host variables passed on to replicas (the rest of Dormant's environment is not). */
  readonly passEnv?: readonly string[];
  /** Debounce of App status writes. */
  readonly statusDelayMs?: number;
  /** Monotonic milliseconds, for back-off deadlines (performance.now by default). */
  readonly clock?: () => number;
  /** Where replicas of built releases run: each in a sandbox as its app's own uid (sandbox/). Without it they run as Dormant's user. */
  readonly sandbox?: HostSandbox;
  /** How many warm sandboxes (runtime/local/warm-sandboxes.ts) may wait at once, one per app at most; 0: none. */
  readonly warmSandboxes?: number;
  /** Node releases apps ask for (Revision spec.runtime.node); shared with gitd, which fetches them at the build. Default: its own. */
  readonly nodeRuntimes?: NodeRuntimes;
  /** Where Dockerfile apps' images are unpacked for the sandbox; shared with gitd, whose hooks run over them. Default: its own. */
  readonly imageTrees?: ImageTrees;
}

interface Replica {
  readonly id: string;
  readonly revision: Revision;
  readonly sequence: number;
  phase: ReplicaPhase;
  process: ReplicaProcess | undefined;
  port: number;
  startedAtMs: number;
  readyAtMs: number | undefined;
  /** Set while draining: call to let the stop go ahead. */
  release: (() => void) | undefined;
  /** In back-off after a crash: when a new replica may take its place. */
  restartAtMs: number | undefined;
  /** Why it failed, for a rollout it fails. */
  failure: string | undefined;
}

interface Rollout {
  readonly revision: string;
  /** The first replica sequence started for it: crashes of earlier ones do not fail it. */
  readonly firstSequence: number;
  readonly previous: Revision | undefined;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

import type { ReplicaReport } from '../runtime.js';
export type { ReplicaReport };

/**
 * The App's config a replica gets under its Revision's: none for a release that records
 * what made it (its config is whole, as on Kubernetes; a change staged with --no-restart
 * waits for the next release), all of it for a Revision made before releases did (a
 * config set with dormant apply reached those at their next start).
 */
const appEnvUnder = (state: AppState, revision: Revision): Readonly<Record<string, string>> => (revision.spec.change === undefined ? (state.app?.spec.run.env ?? {}) : {});

interface AppState {
  readonly name: string;
  app: App | undefined;
  revision: Revision | undefined;
  desired: number;
  readonly replicas: Map<string, Replica>;
  consecutiveFailures: number;
  rollout: Rollout | undefined;
  /** The revision that served before the current one: what a failed postDeploy hook or an interrupted push goes back to, so its image tree is kept. */
  previousRevision: Revision | undefined;
  condition: Omit<Condition, 'lastTransitionTime'> | undefined;
  readonly loop: ReconcileLoop;
}

// Not NODE_EXTRA_CA_CERTS: Node parses that bundle at boot, which was measured to add
// about 35 ms to every cold start here. An app that needs it sets it in spec.run.env.
const defaultPassEnv = ['PATH', 'LANG', 'LC_ALL', 'TZ'];
const lastLinesInStatus = 10;
/** How many of a failed release's last lines the push that rolled it out shows. */
const lastLinesOnFailure = 20;

/** A /proc/net table, or nothing where the kernel has none (no IPv6). */
const readProcTable = (path: string): Promise<string> => readFile(path, 'utf8').catch(() => '');

/**
 * Why a revision must not run here, or undefined: it belongs to another app, names an image
 * git push did not build, or a release folder outside <stateDir>/releases/<app>/ (after
 * symbolic links are followed). The store refuses such Revisions; this holds for any that
 * got past it (a hand-edited state file, an older Dormant).
 */
export function foreignRevision(stateDir: string, app: string, revision: Revision): string | undefined {
  const { spec, metadata } = revision;
  if (spec.app !== app) return `it belongs to app ${spec.app}`;
  if (spec.image !== undefined && spec.image !== localImageOf(app, metadata.name)) return `its image ${spec.image} was not built by git push`;
  if (spec.releaseDir === undefined) return undefined;
  const releases = join(stateDir, 'releases', app);
  const real = (path: string): string => {
    try {
      return realpathSync(path);
    } catch {
      return resolve(path); // not there (yet): judged by its text; a missing release is refused later
    }
  };
  const inside = relative(real(releases), real(spec.releaseDir));
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return `its release folder ${spec.releaseDir} is outside ${releases}`;
  return undefined;
}

/** The memory limit a replica of the revision gets, as the App says it (sandbox/limits.ts decides the same). */
const memoryLimitOf = (revision: Revision): string => {
  const { requests, limits } = containerResources(revision.spec.run.resources);
  return limits?.memory ?? requests?.memory ?? replicaDefaults.memory;
};

/**
 * The embedded default runtime: each replica is a supervised process group on this
 * machine. Implements the same Runtime contract as the Kubernetes backend.
 */
export class LocalRuntime implements Runtime {
  readonly #stateDir: string;
  readonly #store: ResourceStore;
  readonly #log: Logger;
  readonly #logs: LogBook;
  readonly #backoff: RestartBackoff;
  readonly #graceMs: number;
  readonly #passEnv: readonly string[];
  readonly #supervisor: string;
  readonly #clock: () => number;
  readonly #sandbox: HostSandbox | undefined;
  readonly #warm: WarmSandboxes;
  readonly #warmCapacity: number;
  /** Dockerfile apps' images unpacked for the sandbox (builder/image-trees.ts). */
  readonly #trees: ImageTrees;
  readonly #nodeRuntimes: NodeRuntimes;
  /** Stacks found missing, said once each. */
  readonly #stacklessWarned = new Set<string>();
  /** Apps whose warm sandbox is being made. */
  readonly #parking = new Set<string>();
  readonly #apps = new Map<string, AppState>();
  readonly #endpoints: EndpointsHub;
  readonly #status: StatusWriter;
  readonly #metrics;
  #sequence = 0;
  #closed = false;
  /** A container replica was started in this run: on close, any container podman left (one stopped mid-start) is removed. */
  #ranContainers = false;
  readonly #stop = new AbortController();

  constructor(options: LocalRuntimeOptions) {
    this.#stateDir = options.stateDir;
    this.#store = options.store;
    this.#log = options.log.child({ component: 'runtime' });
    this.#logs = new LogBook({ logsDir: join(options.stateDir, 'logs') });
    this.#backoff = options.restartBackoff ?? defaultRestartBackoff;
    this.#graceMs = options.terminationGraceMs ?? 10_000;
    this.#passEnv = options.passEnv ?? defaultPassEnv;
    this.#supervisor = supervisorId(options.stateDir);
    this.#clock = options.clock ?? (() => performance.now());
    this.#sandbox = options.sandbox;
    this.#warmCapacity = options.warmSandboxes ?? 64;
    this.#warm = new WarmSandboxes(this.#warmCapacity);
    this.#trees = options.imageTrees ?? new ImageTrees(options.stateDir);
    this.#nodeRuntimes = options.nodeRuntimes ?? new NodeRuntimes(defaultRuntimesFolder());
    // Nobody routes to the app any more, so nothing is in flight on its draining replicas.
    this.#endpoints = new EndpointsHub((app) => {
      for (const replica of this.#apps.get(app)?.replicas.values() ?? []) replica.release?.();
    });
    this.#status = new StatusWriter({
      store: options.store,
      log: this.#log,
      delayMs: options.statusDelayMs ?? 25,
      current: (app) => {
        const state = this.#apps.get(app);
        if (!state) return undefined;
        let ready = 0;
        for (const replica of state.replicas.values()) if (replica.phase === 'ready') ready++;
        const revision = state.revision?.metadata.name;
        // "Serving" would be stale at zero; a failure stays until something replaces it.
        const asleep = revision !== undefined && state.desired === 0 && ready === 0 && (state.condition === undefined || state.condition.reason === 'Serving');
        const condition = asleep ? { type: 'Ready', status: 'True' as const, reason: 'ScaledToZero', message: `${revision} is at zero replicas; the next request wakes it` } : state.condition;
        return { desiredReplicas: state.desired, readyReplicas: ready, ready: condition };
      },
    });
    const registers = options.registry ? [options.registry] : [];
    this.#metrics = {
      replicas: new ReplicaGauge(options.registry),
      restarts: new Counter({ name: 'dormant_replica_restarts_total', help: 'Replicas that exited without being asked to', labelNames: ['app'], registers }),
      boot: new Histogram({
        name: 'dormant_replica_boot_seconds',
        help: 'From spawn to the first successful readiness probe',
        labelNames: ['app'],
        buckets: [0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60],
        registers,
      }),
    };
  }

  /**
   * Kills replicas an earlier run left behind (after a crash of Dormant) and brings every
   * deployed app back with its revision, at zero replicas until something scales it.
   */
  async start(): Promise<void> {
    await this.#logs.open();
    const unbound = treeBindingProblem();
    if (unbound) this.#log.warn({ reason: unbound }, 'replicas die with Dormant, but what they fork only when Dormant starts again');
    const reaped = await reapOrphans(this.#supervisor);
    if (reaped.length > 0) this.#log.warn({ pids: reaped }, 'killed replicas left behind by an earlier run');
    const containers = await reapContainers(this.#supervisor);
    if (containers.length > 0) this.#log.warn({ containers }, 'removed containers left behind by an earlier run');
    await rm(join(this.#stateDir, 'replicas'), { recursive: true, force: true });
    // Root's only, and what an unpack cut short by a crash left goes.
    if (this.#sandbox?.bwrap) this.#trees.prepare();
    for (const served of await servedApps(this.#store)) {
      const app = served.app;
      let revision = served.revision;
      const foreign = revision && foreignRevision(this.#stateDir, app.metadata.name, revision);
      if (revision && foreign) {
        this.#log.error({ app: app.metadata.name, revision: revision.metadata.name, reason: foreign }, 'not running a revision that points outside its release');
        revision = undefined;
      }
      const state = this.#state(app.metadata.name);
      state.app = app;
      state.revision = revision;
      this.#status.schedule(state.name);
    }
    void this.#followDeletions();
  }

  /** Follows App deletions: a deleted app's replicas stop and its revision is forgotten. */
  async #followDeletions(): Promise<void> {
    try {
      for await (const event of this.#store.watch('App', { signal: this.#stop.signal })) {
        if (event.type !== 'DELETED') continue;
        const state = this.#apps.get(event.object.metadata.name);
        if (!state) continue;
        this.#log.info({ app: state.name }, 'app deleted: stopping its replicas');
        this.#forget(state, 'the app was deleted');
        void this.#trees.removeApp(state.name).catch((error: unknown) => this.#log.warn({ app: state.name, err: error }, 'cannot remove its image trees'));
        state.app = undefined;
        this.#status.forget(state.name);
      }
    } catch (error) {
      this.#log.error({ err: error }, 'app watch ended');
    }
  }

  #state(name: string): AppState {
    let state = this.#apps.get(name);
    if (!state) {
      // The loop's callbacks run only after the state below exists.
      const loop = new ReconcileLoop(
        {
          observe: () => this.#observe(created),
          perform: (action) => this.#perform(created, action),
          settle: () => this.#changed(created),
        },
        this.#clock,
      );
      const created: AppState = {
        name,
        app: undefined,
        revision: undefined,
        desired: 0,
        replicas: new Map(),
        consecutiveFailures: 0,
        rollout: undefined,
        previousRevision: undefined,
        condition: undefined,
        loop,
      };
      state = created;
      this.#apps.set(name, state);
    }
    return state;
  }

  #checkRevision(app: string, revision: Revision): void {
    const foreign = foreignRevision(this.#stateDir, app, revision);
    if (foreign) throw runtimeErrors.foreignRevision({ revision: revision.metadata.name, app, reason: foreign });
    if (revision.spec.image) return;
    if (!revision.spec.run.command || revision.spec.run.command.length === 0) {
      throw runtimeErrors.noCommand({ revision: revision.metadata.name });
    }
    const releaseDir = revision.spec.releaseDir ?? '';
    if (!releaseDir || !existsSync(releaseDir)) throw runtimeErrors.noRelease({ revision: revision.metadata.name, releaseDir });
  }

  async rollout(app: App, revision: Revision, options: RolloutOptions = {}): Promise<void> {
    if (this.#closed) throw runtimeErrors.closed({ app: app.metadata.name });
    this.#checkRevision(app.metadata.name, revision);
    const state = this.#state(app.metadata.name);
    state.app = app;
    // If a rollout is still unproven, the revision to fall back to is the one before it.
    const previous = state.rollout?.previous ?? state.revision;
    if (previous && previous.metadata.name !== revision.metadata.name) state.previousRevision = previous;
    state.revision = revision;
    state.consecutiveFailures = 0;
    state.rollout?.reject(runtimeErrors.rolloutFailed({ app: state.name, revision: state.rollout.revision, reason: 'a newer rollout replaced it', lastLines: [], previous: undefined }));
    state.rollout = undefined;
    if (state.desired === 0 && !options.verifyAtZero) {
      this.#log.info({ app: state.name, revision: revision.metadata.name }, 'revision recorded; it starts on the next wake-up');
      this.#reconcile(state);
      return;
    }
    const done = new Promise<void>((resolve, reject) => {
      state.rollout = { revision: revision.metadata.name, firstSequence: this.#sequence, previous, resolve, reject };
    });
    this.#log.info({ app: state.name, revision: revision.metadata.name, replicas: state.desired }, 'rolling out');
    this.record(state.name, `Rolling out ${revision.metadata.name} (${state.desired === 0 ? 'one replica as a check, at zero' : `${state.desired} replica${state.desired === 1 ? '' : 's'}`})`);
    this.#reconcile(state);
    await done;
  }

  /** Stops the app's replicas and forgets its revision: nothing serves it until the next rollout. */
  async retire(app: string): Promise<void> {
    const state = this.#apps.get(app);
    if (!state) return;
    this.#log.info({ app }, 'retiring: no revision serves the app');
    this.#forget(state, 'the app was retired');
  }

  #forget(state: AppState, reason: string): void {
    this.#warm.drop(state.name);
    state.rollout?.reject(runtimeErrors.rolloutFailed({ app: state.name, revision: state.rollout.revision, reason, lastLines: [], previous: undefined }));
    state.rollout = undefined;
    state.desired = 0;
    state.revision = undefined;
    this.#reconcile(state);
  }

  async setScale(app: string, replicas: number, reason?: string): Promise<void> {
    if (this.#closed) throw runtimeErrors.closed({ app });
    const state = this.#state(app);
    if (replicas > 0 && !state.revision) throw runtimeErrors.noRevision({ app });
    const from = state.desired;
    const to = Math.max(0, Math.floor(replicas));
    const said = () => {
      this.#log.info({ app, from, to }, 'scaling');
      this.record(app, `Scaling from ${from} to ${to} replica${to === 1 ? '' : 's'}${reason ? `: ${reason}` : ''}`);
    };
    // Said before the replicas that stop say so; on a wake-up, after they start (a request waits on this path).
    if (to < from) said();
    state.desired = to;
    this.#reconcile(state);
    if (to > from) said();
  }

  /** An event of the platform's among the app's log lines (`dormant logs --source platform`). */
  record(app: string, text: string): void {
    this.#logs.append(app, { time: new Date().toISOString(), replica: 'dormant', stream: 'platform', text });
  }

  endpoints(app: string, signal?: AbortSignal): AsyncIterable<readonly Endpoint[]> {
    return this.#endpoints.subscribe(app, this.#snapshot(this.#state(app)), signal);
  }

  /** Whether the app has a revision to start (the activator answers at once when not). */
  deployed(app: string): boolean {
    return this.#apps.get(app)?.revision !== undefined;
  }

  drained(app: string, endpointId: string): void {
    this.#apps.get(app)?.replicas.get(endpointId)?.release?.();
  }

  logs(app: string, options: LogOptions = {}): AsyncIterable<LogLine> {
    return readAppLogs(this.#stateDir, app, options);
  }

  /** What the runtime thinks of an app now (for `dormant ps`, tests and status): its replicas, when each started and became ready, and, sandboxed, what each uses. */
  describe(app: string): { desired: number; revision: string | undefined; replicas: ReplicaReport[] } {
    const state = this.#apps.get(app);
    const cgroups = this.#sandbox?.cgroups;
    const now = performance.now();
    return {
      desired: state?.desired ?? 0,
      revision: state?.revision?.metadata.name,
      replicas: [...(state?.replicas.values() ?? [])].map((r) => ({
        id: r.id,
        revision: r.revision.metadata.name,
        phase: r.phase,
        pid: r.process?.pid,
        uptimeMs: Math.max(0, now - r.startedAtMs),
        ...(r.readyAtMs === undefined ? {} : { readyForMs: Math.max(0, now - r.readyAtMs) }),
        ...(r.process && cgroups ? cgroups.usage(r.id) : {}),
      })),
    };
  }

  #snapshot(state: AppState): readonly Endpoint[] {
    const endpoints: Endpoint[] = [];
    for (const replica of state.replicas.values()) {
      if (!replica.process || replica.phase === 'backoff') continue;
      endpoints.push({ id: replica.id, address: `127.0.0.1:${replica.port}`, ready: replica.phase === 'ready', draining: replica.phase === 'draining' });
    }
    return endpoints;
  }

  /** Publishes endpoints, records metrics and schedules a status write after any change. */
  #changed(state: AppState): void {
    this.#endpoints.publish(state.name, this.#snapshot(state));
    const counts: Record<ReplicaPhase, number> = { starting: 0, ready: 0, backoff: 0, draining: 0 };
    for (const replica of state.replicas.values()) counts[replica.phase]++;
    this.#metrics.replicas.set(state.name, counts);
    this.#status.schedule(state.name);
  }

  /** Asks the reconciler what to do about the app now and does it. */
  #reconcile(state: AppState): void {
    if (!this.#closed) state.loop.run();
  }

  /** What the reconciler is given: the app's revision, scale and rollout, and its replicas. */
  #observe(state: AppState): { desired: DesiredApp; replicas: PlannedReplica[] } {
    const replicas: PlannedReplica[] = [];
    for (const r of state.replicas.values()) {
      replicas.push({ id: r.id, revision: r.revision.metadata.name, phase: r.phase, sequence: r.sequence, ...(r.restartAtMs === undefined ? {} : { restartAtMs: r.restartAtMs }) });
    }
    const rollout = state.rollout && { revision: state.rollout.revision, firstSequence: state.rollout.firstSequence };
    return { desired: { revision: state.revision?.metadata.name, scale: state.desired, rollout }, replicas };
  }

  /** Performs one action; true when the app must be reconciled again after it. */
  #perform(state: AppState, action: RuntimeAction): boolean {
    switch (action.type) {
      case 'StartReplica': {
        const revision = state.revision;
        if (revision?.metadata.name === action.revision) void this.#launch(state, revision);
        return false;
      }
      case 'DrainReplica': {
        const replica = state.replicas.get(action.id);
        if (replica) void this.#drain(state, replica);
        return false;
      }
      case 'ForgetReplica':
        state.replicas.delete(action.id);
        void rm(join(this.#stateDir, 'replicas', action.id), { recursive: true, force: true });
        return false;
      case 'CompleteRollout': {
        const rollout = state.rollout;
        state.rollout = undefined;
        this.#log.info({ app: state.name, revision: action.revision }, 'rollout complete');
        rollout?.resolve();
        return true;
      }
      case 'FailRollout': {
        const rollout = state.rollout;
        if (!rollout) return false;
        // Local replicas time out on their own (a replica that does not answer in time fails), so a rollout here has no deadline and always names one.
        const replica = action.replica === undefined ? undefined : state.replicas.get(action.replica);
        // Its own last lines, however many its app's other replicas printed meanwhile.
        const lastLines = this.#logs.recent(state.name, 10 * lastLinesOnFailure).filter((l) => l.replica === action.replica).slice(-lastLinesOnFailure).map((l) => l.text);
        state.rollout = undefined;
        state.revision = rollout.previous;
        rollout.reject(runtimeErrors.rolloutFailed({ app: state.name, revision: rollout.revision, reason: replica?.failure ?? `replica ${action.replica ?? '(none)'} failed`, lastLines, previous: rollout.previous?.metadata.name }));
        this.#log.warn({ app: state.name, revision: rollout.revision }, 'rollout failed; the previous revision stays');
        return true;
      }
    }
  }

  #env(state: AppState, revision: Revision, id: string, home: string, port: number): Record<string, string> {
    const env: Record<string, string> = {};
    for (const name of this.#passEnv) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    Object.assign(env, appEnvUnder(state, revision), revision.spec.run.env);
    return {
      ...env,
      HOME: home,
      TMPDIR: home,
      PORT: String(port),
      DORMANT_APP: state.name,
      DORMANT_REVISION: revision.metadata.name,
      DORMANT_REPLICA: id,
      [supervisorVariable]: this.#supervisor,
    };
  }

  async #launch(state: AppState, revision: Revision): Promise<void> {
    // A warm sandbox of this revision and config, made ahead: only the app is left to start.
    const warm = this.#runsInSandbox(revision) ? this.#warm.take(state.name, state.app, revision) : undefined;
    const id = warm?.id ?? `${revision.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const replica: Replica = {
      id,
      revision,
      sequence: this.#sequence++,
      phase: 'starting',
      process: undefined,
      port: 0,
      startedAtMs: performance.now(),
      readyAtMs: undefined,
      release: undefined,
      restartAtMs: undefined,
      failure: undefined,
    };
    // Registered before any await, so the next plan counts it.
    state.replicas.set(id, replica);
    const startTimeoutMs = parseDuration(revision.spec.run.startTimeout) ?? 60_000;
    let child: ReplicaProcess;
    if (warm) {
      child = warm.process;
      // Its port was held for it since it was made, and its environment names it: freed now, for the app to bind.
      replica.port = warm.port;
      warm.releasePort();
      child.open();
      replica.startedAtMs = performance.now();
      void child.exited.then((exit) => this.#exited(state, replica, exit));
    } else {
      const spawned = await this.#spawn(state, revision, replica);
      if (spawned === 'not-started') {
        // It could not be prepared, or was drained or shut down meanwhile.
        state.replicas.delete(id);
        this.#changed(state);
        return;
      }
      child = spawned;
      void child.exited.then((exit) => this.#exited(state, replica, exit));
    }
    // The cold start's phases: the sandbox and process made (none for a warm one, made ahead), then the app's own start until it answers.
    const preparedMs = performance.now() - replica.startedAtMs;
    replica.process = child;
    this.#log.debug({ app: state.name, replica: id, pid: child.pid, port: replica.port, warm: warm !== undefined }, 'replica started');
    this.#changed(state);

    // An app that ignores $PORT listens as its own user elsewhere (a replica in the sandbox runs as its app's uid; a container has a network of its own).
    const appUid = this.#runsInSandbox(revision) ? this.#sandbox?.ids.idOf(state.name) : undefined;
    // Only while nothing listens on its own port: an app that listens there and on another (metrics, a debugger) is not one that ignores $PORT.
    const listensElsewhere =
      appUid === undefined
        ? undefined
        : async () => {
            const listened = (await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map(readProcTable))).flatMap((table) => listeningPorts(table, appUid));
            return listened.includes(replica.port) ? undefined : strayPorts(listened, new Set([...state.replicas.values()].map((other) => other.port)))[0];
          };
    const readiness = await child.waitReady(state.app?.spec.run.readinessPath, startTimeoutMs, listensElsewhere);
    if (typeof readiness === 'object' && replica.phase === 'starting') {
      const reason =
        revision.spec.image === undefined
          ? `replica ${id} listens on port ${readiness.elsewhere}, not on the port in $PORT (${replica.port}): make the app listen on the PORT environment variable (Dormant runs replicas side by side, each on its own port)`
          : `replica ${id} listens on port ${readiness.elsewhere}, not on the port in $PORT (${replica.port}): make the app listen on the PORT environment variable, or set spec.run.port: ${readiness.elsewhere} in the App to run its image as a container with a network of its own`;
      this.#log.warn({ app: state.name, replica: id, port: readiness.elsewhere }, reason);
      this.record(state.name, `Readiness failed: ${reason}`);
      replica.failure = reason;
      this.#setFailed(state, replica, 'ListensElsewhere', reason);
      child.kill();
      return;
    }
    if (readiness === 'ready' && replica.phase === 'starting') {
      replica.phase = 'ready';
      replica.readyAtMs = performance.now();
      const bootSeconds = (replica.readyAtMs - replica.startedAtMs) / 1000;
      this.#metrics.boot.observe({ app: state.name }, bootSeconds);
      this.#log.info({ app: state.name, replica: id, bootMs: Math.round(bootSeconds * 1000) }, 'replica ready');
      const readyMs = Math.round(replica.readyAtMs - replica.startedAtMs);
      // Said before the reconcile, which may stop the replicas this one replaces (and say so).
      this.record(state.name, `Replica ${id} of ${revision.metadata.name} ready in ${readyMs} ms (${warm ? 'a warm sandbox: the app started' : `sandbox and process ${Math.round(preparedMs)} ms, then the app started`} and answered in ${Math.round(readyMs - (warm ? 0 : preparedMs))} ms)`);
      state.condition = { type: 'Ready', status: 'True', reason: 'Serving', message: `replica ${id} is ready` };
      this.#reconcile(state);
      // The next wake-up of this revision finds its sandbox made.
      void this.#parkWarm(state, revision);
    } else if (readiness === 'timeout' && replica.phase === 'starting') {
      const path = state.app?.spec.run.readinessPath;
      const reason = path
        ? `replica ${id} did not become ready within ${revision.spec.run.startTimeout}: ${path} on its port ${replica.port} never answered below 500`
        : `replica ${id} did not become ready within ${revision.spec.run.startTimeout}: nothing listened on its port ${replica.port}; the app must listen on the port in $PORT`;
      this.#log.warn({ app: state.name, replica: id }, reason);
      this.record(state.name, `Readiness failed: ${reason}`);
      replica.failure = reason;
      this.#setFailed(state, replica, 'StartTimeout', reason);
      child.kill();
    }
  }

  /** A replica's process, started (its port, home and sandbox made first), or why not: it could not be prepared, or was drained or shut down meanwhile. */
  async #spawn(state: AppState, revision: Revision, replica: Replica, options: { gated?: { port: number } } = {}): Promise<ReplicaProcess | 'not-started'> {
    const { id } = replica;
    const image = revision.spec.image;
    // A Dockerfile app's image runs in the sandbox over its unpacked tree where bubblewrap works; else as a podman container.
    const sandbox = this.#runsInSandbox(revision) ? this.#sandbox : undefined;
    const home = this.#replicaHome(id, sandbox !== undefined);
    let tree: ImageTree | undefined;
    try {
      // A warm sandbox's port is held for it until it is taken.
      replica.port = options.gated ? options.gated.port : await freePort();
      // Synchronous on purpose: on the wake-up path, a queue of status fsyncs in libuv's
      // thread pool would otherwise delay the start by tens of ms (measured).
      mkdirSync(home, { recursive: true });
    } catch (error) {
      this.#log.error({ app: state.name, err: error }, 'cannot prepare a replica');
      return 'not-started';
    }
    if (image && sandbox) {
      try {
        // Unpacked once per app and image (seconds, at its first start: the deploy's), then at once.
        tree = await this.#trees.ensure(state.name, image, { uid: sandbox.ids.idOf(state.name), gid: sandbox.ids.idOf(state.name) });
      } catch (error) {
        this.#log.error({ app: state.name, err: error }, 'cannot unpack the image to run it');
        return options.gated ? 'not-started' : this.#failedReplica(state, id, home, replica.port, error);
      }
    }
    // A detected app over its stack (as its cluster image is), where the stack can be had; else over the host's root.
    let onStack = false;
    if (!image && sandbox?.bwrap && revision.spec.stack !== undefined) {
      try {
        tree = await this.#trees.ensureStack(revision.spec.stack);
        onStack = true;
      } catch (error) {
        if (!this.#stacklessWarned.has(revision.spec.stack)) this.#log.warn({ app: state.name, stack: revision.spec.stack, err: error }, "the stack image cannot be had here: detected apps run over the host's root");
        this.#stacklessWarned.add(revision.spec.stack);
      }
    }
    // The Node release the app asked for, when not the stack's: at /opt/node over the stack (fetched at its build; again only on a machine that lacks it).
    let node: { version: string; folder: string } | undefined;
    const wantedNode = revision.spec.runtime?.node;
    if (wantedNode !== undefined) {
      try {
        if (sandbox && !onStack) throw new Error(`Node ${wantedNode} runs only over the stack, which cannot be had here`);
        node = { version: wantedNode, folder: await this.#nodeRuntimes.ensure(wantedNode) };
      } catch (error) {
        this.#log.error({ app: state.name, err: error }, 'cannot have the Node release the app asked for');
        return options.gated ? 'not-started' : this.#failedReplica(state, id, home, replica.port, error);
      }
    }
    if (replica.phase !== 'starting' || this.#closed) return 'not-started';
    const env = tree ? this.#imageEnv(state, revision, tree, id, replica.port, onStack, node) : this.#env(state, revision, id, home, replica.port);
    if (node && !tree) Object.assign(env, { NODE_VERSION: node.version, PATH: `${join(node.folder, 'bin')}:${env.PATH ?? '/usr/bin:/bin'}` });
    const container =
      image && !sandbox
        ? {
            name: id,
            image,
            supervisor: this.#supervisor,
            app: state.name,
            hostPort: replica.port,
            fixedPort: revision.spec.run.port,
            env: { ...appEnvUnder(state, revision), ...revision.spec.run.env, DORMANT_APP: state.name, DORMANT_REVISION: revision.metadata.name, DORMANT_REPLICA: id },
            limits: replicaLimits(containerResources(revision.spec.run.resources)),
          }
        : undefined;
    if (container) this.#ranContainers = true;
    let command = container ? containerCommand(container) : tree && !onStack ? imageCommand(tree.config) : (revision.spec.run.command ?? []);
    let spec: SandboxSpec | undefined;
    if (sandbox) {
      try {
        spec = this.#sandboxSpec(sandbox, state.name, revision, id, home, command, options.gated !== undefined, tree && { tree, onStack, ...(node ? { nodeFolder: node.folder } : {}) });
        command = this.#sandboxed(spec, id);
      } catch (error) {
        this.#log.error({ app: state.name, err: error }, 'cannot prepare a replica');
        sandbox.cgroups?.remove(id);
        return 'not-started';
      }
    }
    replica.startedAtMs = performance.now();
    const child = new ReplicaProcess({
      id,
      cwd: image ? home : (revision.spec.releaseDir ?? home),
      command,
      // Sandboxed, the root part gets a fixed environment and the app its own through fd 3 (a warm one's when it opens).
      env: container ? { ...containerEnv(container), ...podmanEnv(), [supervisorVariable]: this.#supervisor } : sandbox ? { ...sandboxRootEnv } : env,
      ...(container ? { container: id } : {}),
      ...(sandbox ? { bound: true } : {}),
      ...(spec ? { input3: sandboxEnvInput(spec, env) } : {}),
      ...(options.gated ? { gated: true } : {}),
      port: replica.port,
      readinessPath: state.app?.spec.run.readinessPath,
      onLine: (stream, text) => this.#logs.append(state.name, { time: new Date().toISOString(), replica: id, stream, text }),
    });
    return child;
  }

  /**
   * Whether the revision's replicas run in the sandbox: a built release's whenever there is
   * one; a Dockerfile app's image where bubblewrap works, unless it listens on a fixed port
   * (spec.run.port), which needs a network of its own: a podman container then.
   */
  #runsInSandbox(revision: Revision): boolean {
    if (!this.#sandbox) return false;
    if (revision.spec.image === undefined) return true;
    return this.#sandbox.bwrap !== undefined && revision.spec.run.port === undefined;
  }

  /** An image replica drained: the app's trees that neither its revision, one it may fall back to, nor a replica needs go (a tree is a whole image's files). */
  #pruneTrees(state: AppState): void {
    const images = new Set<string>();
    for (const revision of [state.revision, state.rollout?.previous, state.previousRevision, ...[...state.replicas.values()].map((replica) => replica.revision)]) if (revision?.spec.image !== undefined) images.add(revision.spec.image);
    void this.#trees.keepOnly(state.name, images).catch((error: unknown) => this.#log.warn({ app: state.name, err: error }, 'cannot remove unused image trees'));
  }

  /** A replica that fails with the reason as its last line, so the rollout or the Ready condition says it. */
  #failedReplica(state: AppState, id: string, home: string, port: number, error: unknown): ReplicaProcess {
    const reason = error instanceof Error ? error.message : String(error);
    return new ReplicaProcess({
      id,
      cwd: home,
      command: ['/bin/sh', '-c', 'echo "dormant: $1" >&2; exit 1', 'dormant', reason],
      env: { ...sandboxRootEnv },
      port,
      readinessPath: undefined,
      onLine: (stream, text) => this.#logs.append(state.name, { time: new Date().toISOString(), replica: id, stream, text }),
    });
  }

  /**
   * An image replica's environment: the image's ENV and its user's HOME (on a stack, /app,
   * the release, as Heroku's HOME is), then the App's, then Dormant's; nothing of the host's.
   */
  #imageEnv(state: AppState, revision: Revision, tree: ImageTree, id: string, port: number, onStack: boolean, node: { version: string } | undefined): Record<string, string> {
    return {
      ...tree.config.env,
      ...(node ? { NODE_VERSION: node.version, PATH: `${nodeRuntimeFolder}/bin:${tree.config.env.PATH ?? '/usr/local/bin:/usr/bin:/bin'}` } : {}),
      HOME: onStack ? stackAppFolder : tree.user.home,
      ...appEnvUnder(state, revision),
      ...revision.spec.run.env,
      PORT: String(port),
      DORMANT_APP: state.name,
      DORMANT_REVISION: revision.metadata.name,
      DORMANT_REPLICA: id,
    };
  }

  /**
   * Makes the app's warm sandbox for this revision and config, unless it has one: a replica
   * prepared in full but for its app, which waits. Off the wake-up path (after a replica is ready).
   */
  async #parkWarm(state: AppState, revision: Revision): Promise<void> {
    if (!this.#runsInSandbox(revision) || this.#closed || this.#warmCapacity === 0) return;
    if (this.#warm.has(state.name, state.app, revision) || this.#parking.has(state.name)) return;
    this.#parking.add(state.name);
    try {
      await this.#makeWarm(state, revision);
    } finally {
      this.#parking.delete(state.name);
    }
  }

  async #makeWarm(state: AppState, revision: Revision): Promise<void> {
    if (!this.#sandbox) return;
    const madeFor = { app: state.app, revision };
    // A replica record that no app state holds: the reconciler never sees it until it is taken.
    const draft: Replica = {
      id: `${revision.metadata.name}-${randomBytes(3).toString('hex').slice(0, 5)}`,
      revision,
      sequence: -1,
      phase: 'starting',
      process: undefined,
      port: 0,
      startedAtMs: 0,
      readyAtMs: undefined,
      release: undefined,
      restartAtMs: undefined,
      failure: undefined,
    };
    let reserved: Awaited<ReturnType<typeof reservePort>>;
    try {
      reserved = await reservePort();
    } catch (error) {
      this.#log.warn({ app: state.name, err: error }, 'cannot hold a port for a warm sandbox');
      return;
    }
    const child = await this.#spawn(state, revision, draft, { gated: { port: reserved.port } });
    if (child === 'not-started') {
      reserved.release();
      this.#sandbox.cgroups?.remove(draft.id);
      void rm(join(this.#stateDir, 'replicas', draft.id), { recursive: true, force: true });
      return;
    }
    const warm: WarmSandbox = { app: state.name, id: draft.id, process: child, port: reserved.port, releasePort: reserved.release, madeFor, taken: false };
    void child.exited.then(() => {
      // Discarded (stale, replaced, evicted) or failed before it was taken: its port, cgroups and folder go.
      if (warm.taken) return;
      reserved.release();
      this.#warm.forget(warm);
      this.#sandbox?.cgroups?.remove(warm.id);
      void rm(join(this.#stateDir, 'replicas', warm.id), { recursive: true, force: true });
    });
    // Shut down, or another revision or config came, while it was made: not kept.
    if (this.#closed || state.revision?.metadata.name !== revision.metadata.name || state.app !== madeFor.app) child.kill();
    else if (!child.hasExited) this.#warm.park(warm);
  }

  /** A replica's home: beside what the app must not see (its overlay's upper layer, the sandbox's files) when sandboxed. */
  #replicaHome(id: string, sandboxed: boolean): string {
    return sandboxed ? join(this.#stateDir, 'replicas', id, 'home') : join(this.#stateDir, 'replicas', id);
  }

  /**
   * The sandbox a replica runs in, as the app's uid: its release (or its image's WORKDIR)
   * as a writable overlay, its home, nothing of Dormant's state or other apps. Synchronous
   * on purpose, as the rest of the wake-up path's preparation.
   */
  #sandboxSpec(sandbox: HostSandbox, app: string, revision: Revision, id: string, home: string, command: readonly string[], gated: boolean, over: { tree: ImageTree; onStack: boolean; nodeFolder?: string } | undefined): SandboxSpec {
    const uid = sandbox.ids.idOf(app);
    const folder = join(this.#stateDir, 'replicas', id);
    const upper = join(folder, 'app', 'upper');
    const work = join(folder, 'app', 'work');
    mkdirSync(upper, { recursive: true });
    mkdirSync(work);
    chownSync(home, uid, uid);
    chownSync(upper, uid, uid);
    const cgroupProcs = sandbox.cgroups?.create(id, replicaLimits(containerResources(revision.spec.run.resources)));
    const limited = { ...(cgroupProcs ? { cgroupProcs } : {}), ...(gated ? { gated } : {}) };
    if (over?.onStack && sandbox.bwrap) {
      // The release at /app over the stack, as the app's image for clusters has it, run by the stack's user for apps (node, 1000), the app's uid on the host.
      return {
        uid,
        gid: uid,
        appFolder: { release: resolve(revision.spec.releaseDir ?? ''), upper, work, at: stackAppFolder },
        writable: [home],
        hidden: sandbox.hidden,
        cwd: stackAppFolder,
        command,
        tools: sandbox.tools,
        image: { root: over.tree.root, uid: detectedAppUser.uid, gid: detectedAppUser.gid, writableAt: [], readOnlyAt: over.nodeFolder ? [{ from: over.nodeFolder, at: nodeRuntimeFolder }] : [], bwrap: sandbox.bwrap },
        ...limited,
      };
    }
    const tree = over?.tree;
    if (tree && sandbox.bwrap) {
      const workdir = tree.config.workdir;
      return {
        uid,
        gid: uid,
        // The image's root cannot be an overlay's mount point: an app folder only where WORKDIR names one.
        ...(workdir === '/' ? {} : { appFolder: { release: join(tree.root, workdir), upper, work, at: workdir } }),
        writable: [home],
        hidden: sandbox.hidden,
        cwd: workdir,
        command,
        tools: sandbox.tools,
        image: { root: tree.root, uid: tree.user.uid, gid: tree.user.gid, writableAt: tree.writableHome ? [tree.writableHome] : [], bwrap: sandbox.bwrap },
        ...limited,
      };
    }
    const release = resolve(revision.spec.releaseDir ?? '');
    return { uid, gid: uid, appFolder: { release, upper, work, at: release }, writable: [home], hidden: sandbox.hidden, cwd: release, command, tools: sandbox.tools, ...limited };
  }

  /** The sandbox's command line, its fstab written beside the replica's folders. */
  #sandboxed(spec: SandboxSpec, id: string): string[] {
    const fstab = join(this.#stateDir, 'replicas', id, 'sandbox.fstab');
    writeFileSync(fstab, sandboxFstab(spec), { mode: 0o600 });
    return sandboxCommand(spec, fstab);
  }

  /** A replica of the current revision failed: the Ready condition says why, with its last lines. */
  #setFailed(state: AppState, replica: Replica, reason: string, text: string): void {
    const lastLines = this.#logs.recent(state.name, lastLinesInStatus).filter((l) => l.replica === replica.id).map((l) => l.text);
    state.condition = { type: 'Ready', status: 'False', reason, message: `${text}; last log lines:\n${lastLines.join('\n') || '(none)'}` };
  }

  #exited(state: AppState, replica: Replica, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
    const outOfMemory = this.#sandbox?.cgroups?.oomKilled(replica.id) === true;
    this.#sandbox?.cgroups?.remove(replica.id);
    if (replica.phase === 'draining' || this.#closed) {
      replica.release?.();
      state.replicas.delete(replica.id);
      void rm(join(this.#stateDir, 'replicas', replica.id), { recursive: true, force: true });
      if (replica.revision.spec.image !== undefined && !this.#closed) this.#pruneTrees(state);
      this.#changed(state);
      return;
    }
    // Nobody asked it to stop: a crash (or a start timeout we enforced).
    const how = outOfMemory
      ? `was killed by the kernel: it used all of its memory limit (${memoryLimitOf(replica.revision)}; raise spec.run.resources.limits.memory)`
      : exit.signal
        ? `was killed by ${exit.signal}`
        : `exited with code ${exit.code}`;
    const readyForMs = replica.readyAtMs === undefined ? undefined : this.#clock() - replica.readyAtMs;
    state.consecutiveFailures = nextFailureCount(state.consecutiveFailures, readyForMs, this.#backoff);
    const delayMs = restartDelayMs(state.consecutiveFailures, this.#backoff);
    this.#metrics.restarts.inc({ app: state.name });
    // Killed by us for not becoming ready (in time, or on its own port): that failure stands.
    const wasTimeout = (state.condition?.reason === 'StartTimeout' || state.condition?.reason === 'ListensElsewhere') && replica.readyAtMs === undefined && exit.signal === 'SIGKILL';
    if (!wasTimeout) {
      replica.failure = `replica ${replica.id} ${how}`;
      this.#setFailed(state, replica, 'CrashLoopBackOff', `replica ${replica.id} ${how} (failure ${state.consecutiveFailures}, restarting in ${delayMs} ms)`);
    }
    this.#log.warn({ app: state.name, replica: replica.id, code: exit.code, signal: exit.signal, restartInMs: delayMs }, 'replica exited');
    this.record(state.name, `Replica ${replica.id} crashed: it ${how}; restarting in ${delayMs} ms (back-off, failure ${state.consecutiveFailures} in a row)`);
    replica.process = undefined;
    replica.phase = 'backoff';
    replica.restartAtMs = this.#clock() + delayMs;
    this.#reconcile(state);
  }

  async #drain(state: AppState, replica: Replica): Promise<void> {
    if (replica.phase === 'draining') return;
    if (replica.phase === 'backoff') {
      state.replicas.delete(replica.id);
      void rm(join(this.#stateDir, 'replicas', replica.id), { recursive: true, force: true });
      this.#changed(state);
      return;
    }
    const wasReady = replica.phase === 'ready';
    replica.phase = 'draining';
    this.record(state.name, `Stopping replica ${replica.id} of ${replica.revision.metadata.name}${wasReady ? ': draining its requests' : ''}`);
    this.#changed(state);
    if (wasReady && this.#endpoints.watched(state.name)) {
      const drainMs = parseDuration(replica.revision.spec.run.drainTimeout) ?? 30_000;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#log.warn({ app: state.name, replica: replica.id, drainMs }, 'drain timeout: stopping with requests still in flight');
          resolve();
        }, drainMs);
        replica.release = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    replica.release = undefined;
    // A replica still preparing (no process yet) is dropped by #launch when it sees the phase.
    if (replica.process) {
      await replica.process.stop(this.#graceMs);
      this.#log.debug({ app: state.name, replica: replica.id }, 'replica stopped');
    }
  }

  /** Stops every replica (SIGTERM, SIGKILL after the grace period) and ends every watch. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    const stopping: Promise<unknown>[] = [];
    this.#status.close();
    this.#warm.dropAll();
    for (const state of this.#apps.values()) {
      state.loop.stop();
      state.rollout?.reject(runtimeErrors.closed({ app: state.name }));
      for (const replica of state.replicas.values()) {
        replica.release?.();
        if (replica.process) stopping.push(replica.process.stop(this.#graceMs));
      }
    }
    this.#endpoints.close();
    await Promise.all(stopping);
    // SIGTERM to a `podman run` still creating its container leaves it behind (--rm never applies): remove what is left.
    if (this.#ranContainers) await reapContainers(this.#supervisor);
    await this.#logs.close();
    await rm(join(this.#stateDir, 'replicas'), { recursive: true, force: true });
  }
}
