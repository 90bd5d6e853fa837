import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { type App, type AutoscalePolicy, apiTimestamp, type Condition, defaultNamespace, resolvePolicy, setCondition } from '../crds/index.js';
import { type Endpoint, type ResourceStore, updateWithRetry } from '../runtime/index.js';
import { type DeciderState, decide, initialDeciderState, type Observation, scalingPolicy } from './decide.js';
import { ReportRounds } from './report-rounds.js';

/** What the loop needs of the runtime. */
export interface ScalingRuntime {
  setScale(app: string, replicas: number, reason?: string): Promise<void>;
  endpoints(app: string, signal?: AbortSignal): AsyncIterable<readonly Endpoint[]>;
  /** The scale the app has now, for an autoscaler that takes over from another. */
  currentScale?(app: string): Promise<number>;
}

/** The activator's report, as this side reads it (the two folders share no code). */
export interface LoadReport {
  readonly app: string;
  readonly averageConcurrency: number;
  readonly requests: number;
  readonly windowMs: number;
}

export interface ScalingLoopOptions {
  readonly store: ResourceStore;
  readonly runtime: ScalingRuntime;
  readonly log: Logger;
  readonly registry?: Registry;
  readonly tickMs?: number;
  /** Wall-clock ms; injected so tests and replays control time. */
  readonly clock?: () => number;
  /**
   * Whether this loop acts (decides and scales) now; absent: always. A standby (another
   * autoscaler holds the Lease) keeps collecting load, so it has the history the moment it
   * takes over and no app scales down for want of it.
   */
  readonly acting?: () => boolean;
}

/** The longest stableWindow a policy may have (its validation's bound): rounds older than this cover no app's window. */
const longestStableWindowMs = 3_600_000;

interface AppScaling {
  app: App;
  state: DeciderState;
  /** Per-second load, keyed by second, summed over activators: the seconds some activator reported load in (a round leaves out what had none). */
  readonly seconds: Map<number, { concurrency: number; requests: number }>;
  /** The rounds received before the loop followed this app (ReportRounds.count then): those after cover it. */
  readonly followedAfterRound: number;
  scale: number;
  ready: number;
  poked: boolean;
  reason: string;
  panicking: boolean;
  readonly subscription: AbortController;
  written: string;
  /** The lastRequestTime last written to status, in ms. */
  writtenLastRequestMs: number | undefined;
  /** A status write in flight: the next is made after it, with what is wanted then. */
  writing: boolean;
  /** The policy resolved for this App object and this generation of policies (resolving validates: too dear per tick). */
  resolved: { readonly app: App; readonly policies: number; readonly policy: ReturnType<typeof scalingPolicy> } | undefined;
}

/**
 * Feeds the decider: collects the activators' load per second, decides every tick (and at
 * once on a poke), sets the scale on the runtime, and records the reason in App status.
 */
export class ScalingLoop {
  readonly #options: ScalingLoopOptions;
  readonly #clock: () => number;
  readonly #log: Logger;
  readonly #apps = new Map<string, AppScaling>();
  readonly #policies = new Map<string, AutoscalePolicy>();
  /** When rounds of reports came in: where each app's reports, of zero load included, begin. */
  readonly #rounds = new ReportRounds();
  /** Moves on every policy change: resolved policies of an older generation are resolved again. */
  #policiesGeneration = 0;
  #ticking = false;
  readonly #stop = new AbortController();
  readonly #desiredGauge: Gauge;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: ScalingLoopOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    this.#log = options.log.child({ component: 'autoscaler' });
    this.#desiredGauge = new Gauge({
      name: 'dormant_autoscaler_desired_replicas',
      help: 'Replicas the autoscaler asks for, by app',
      labelNames: ['app'],
      registers: options.registry ? [options.registry] : [],
    });
  }

  async start(): Promise<void> {
    for (const policy of await this.#options.store.list('AutoscalePolicy')) this.#policies.set(policy.metadata.name, policy);
    for (const app of await this.#options.store.list('App')) this.#track(app);
    void this.#follow('App');
    void this.#follow('AutoscalePolicy');
    this.#timer = setInterval(() => void this.tick(), this.#options.tickMs ?? 2000);
    this.#timer.unref();
  }

  async #follow(kind: 'App' | 'AutoscalePolicy'): Promise<void> {
    try {
      for await (const event of this.#options.store.watch(kind, { signal: this.#stop.signal })) {
        const object = event.object;
        if (object.kind === 'AutoscalePolicy') {
          if (event.type === 'DELETED') this.#policies.delete(object.metadata.name);
          else this.#policies.set(object.metadata.name, object);
          this.#policiesGeneration++;
        } else if (event.type === 'DELETED') {
          this.#apps.get(object.metadata.name)?.subscription.abort();
          this.#apps.delete(object.metadata.name);
        } else {
          this.#track(object);
        }
      }
    } catch (error) {
      this.#log.error({ err: error, kind }, 'store watch ended');
    }
  }

  #track(app: App): void {
    const existing = this.#apps.get(app.metadata.name);
    if (existing) {
      existing.app = app;
      return;
    }
    const scaling: AppScaling = {
      app,
      state: initialDeciderState,
      seconds: new Map(),
      followedAfterRound: this.#rounds.count,
      scale: 0,
      ready: 0,
      poked: false,
      reason: '',
      panicking: false,
      subscription: new AbortController(),
      written: '',
      writtenLastRequestMs: undefined,
      writing: false,
      resolved: undefined,
    };
    this.#apps.set(app.metadata.name, scaling);
    void (async () => {
      for await (const endpoints of this.#options.runtime.endpoints(app.metadata.name, scaling.subscription.signal)) {
        scaling.ready = endpoints.filter((e) => e.ready && !e.draining).length;
      }
    })().catch(() => {});
  }

  /** The policy an app runs with: its overrides, its policyRef, the namespace's `default`, Knative's defaults. */
  #policy(scaling: AppScaling) {
    const { app } = scaling;
    const cached = scaling.resolved;
    if (cached && cached.app === app && cached.policies === this.#policiesGeneration) return cached.policy;
    const resolved = scalingPolicy(resolvePolicy(app, this.#policies).spec);
    // Stopped (dormant stop): no replica, whatever the policy says.
    const policy = app.spec.stopped === true ? { ...resolved, minScale: 0, maxScale: 0, activationScale: 0 } : resolved;
    scaling.resolved = { app, policies: this.#policiesGeneration, policy };
    return policy;
  }

  // StatsSink, structurally.
  /**
   * An activator's report of the second: the apps it names had load, every other app had
   * none. Only the named ones cost anything; the round itself is one entry per second.
   */
  round(stats: readonly LoadReport[]): void {
    const now = this.#clock();
    this.#rounds.record(now);
    this.#add(stats, now);
  }

  /** Load of the named apps out of round (a wake-up's): says nothing of the others. */
  report(stats: readonly LoadReport[]): void {
    this.#add(stats, this.#clock());
  }

  #add(stats: readonly LoadReport[], nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    for (const report of stats) {
      const scaling = this.#apps.get(report.app);
      if (!scaling) continue;
      const bucket = scaling.seconds.get(second) ?? { concurrency: 0, requests: 0 };
      // Several activators each report their share: the app's load is the sum.
      bucket.concurrency += report.averageConcurrency;
      bucket.requests += report.requests;
      scaling.seconds.set(second, bucket);
    }
  }

  poke(app: string): void {
    const scaling = this.#apps.get(app);
    if (!scaling || !this.#acting()) return;
    scaling.poked = true;
    // A wake-up does not wait for the next tick.
    if (scaling.scale === 0) void this.#decide(scaling);
  }

  async tick(): Promise<void> {
    // A tick still setting scales (a runtime or apiserver slow to answer): the next one would only queue behind it.
    if (this.#ticking) return;
    this.#ticking = true;
    this.#rounds.forgetBefore(Math.floor((this.#clock() - longestStableWindowMs) / 1000));
    try {
      await Promise.all([...this.#apps.values()].map((scaling) => this.#decide(scaling)));
    } finally {
      this.#ticking = false;
    }
  }

  #acting(): boolean {
    return this.#options.acting?.() ?? true;
  }

  /**
   * Taking over from another autoscaler: each app's scale is read from the runtime, so the
   * first decision starts from what runs, with the load history this loop kept meanwhile.
   */
  async adopt(): Promise<void> {
    for (const [name, scaling] of this.#apps) {
      const current = await this.#options.runtime.currentScale?.(name).catch(() => undefined);
      if (current !== undefined) scaling.scale = current;
    }
    this.#log.info({ apps: this.#apps.size }, 'acting: took over scaling');
  }

  async #decide(scaling: AppScaling): Promise<void> {
    const now = this.#clock();
    const policy = this.#policy(scaling);
    const oldest = Math.floor((now - policy.stableWindowMs) / 1000);
    const observations: Observation[] = [];
    for (const [second, load] of scaling.seconds) {
      if (second < oldest) scaling.seconds.delete(second);
      else observations.push({ atMs: second * 1000, concurrency: load.concurrency, requests: load.requests });
    }
    // A standby only keeps the history.
    if (!this.#acting()) return;
    observations.sort((a, b) => a.atMs - b.atMs);
    const firstReportMs = scaling.state.observingSinceMs === undefined ? this.#firstReportMs(scaling, observations, oldest) : undefined;
    const decision = decide({
      policy,
      observations,
      state: scaling.state,
      readyReplicas: scaling.ready,
      currentScale: scaling.scale,
      poked: scaling.poked,
      nowMs: now,
      ...(firstReportMs === undefined ? {} : { firstReportMs }),
    });
    scaling.poked = false;
    scaling.state = decision.state;
    // Stopped, the bounds decide alone: the load's words would say why it scaled as if it were not.
    scaling.reason = scaling.app.spec.stopped === true ? 'stopped by its owner (dormant stop)' : decision.reason;
    scaling.panicking = decision.panicking;
    if (decision.desiredScale !== scaling.scale) {
      const from = scaling.scale;
      scaling.scale = decision.desiredScale;
      this.#log.info({ app: scaling.app.metadata.name, from, to: decision.desiredScale, reason: scaling.reason }, 'scaling');
      try {
        await this.#options.runtime.setScale(scaling.app.metadata.name, decision.desiredScale, scaling.reason);
      } catch (error) {
        // Nothing deployed yet, or the runtime is stopping: try again next tick.
        scaling.scale = from;
        this.#log.warn({ app: scaling.app.metadata.name, err: error }, 'cannot set scale');
      }
    }
    this.#desiredGauge.set({ app: scaling.app.metadata.name }, scaling.scale);
    // Not awaited: a decision never waits for the store. One write per app at a time.
    if (!scaling.writing) void this.#writeStatus(scaling);
  }

  /**
   * Where an app's reports begin, from oldestSecond on: its oldest observation, or the oldest
   * round that came after the loop followed it, which reported it idle by leaving it out.
   * Only a first decision reads it (the decider keeps where its history began).
   */
  #firstReportMs(scaling: AppScaling, observations: readonly Observation[], oldestSecond: number): number | undefined {
    const covered = this.#rounds.firstAfter(scaling.followedAfterRound, oldestSecond);
    const observed = observations[0]?.atMs;
    if (covered === undefined) return observed;
    return observed === undefined ? covered * 1000 : Math.min(observed, covered * 1000);
  }

  /** The decision's reason as the App's Autoscaled condition; retried on conflicts. */
  async #writeStatus(scaling: AppScaling): Promise<void> {
    const condition: Omit<Condition, 'lastTransitionTime'> = {
      type: 'Autoscaled',
      status: 'True',
      reason: scaling.panicking ? 'Panic' : scaling.scale === 0 ? 'ScaledToZero' : 'Stable',
      message: `${scaling.scale} replica${scaling.scale === 1 ? '' : 's'}: ${scaling.reason}`,
    };
    // The last request time moves with every request: written when it moved 10 s or more.
    const lastRequestMs = scaling.state.lastRequestMs;
    const lastRequestMoved = lastRequestMs !== undefined && (scaling.writtenLastRequestMs === undefined || lastRequestMs - scaling.writtenLastRequestMs >= 10_000);
    // Written when the decision changes (its reason code or the scale), not when the running figures of its message do:
    // those move on every tick, and writing them made N apps write N statuses every tick, forever.
    const key = `${condition.reason} ${scaling.scale}`;
    if (key === scaling.written && !lastRequestMoved) return;
    scaling.writing = true;
    try {
      await updateWithRetry(async () => {
        const app = await this.#options.store.find('App', scaling.app.metadata.name, scaling.app.metadata.namespace ?? defaultNamespace);
        if (!app) return;
        const nowIso = apiTimestamp(this.#clock());
        const conditions = setCondition(app.status?.conditions, condition, nowIso);
        const lastRequestTime = lastRequestMs === undefined ? app.status?.lastRequestTime : apiTimestamp(lastRequestMs);
        // A write that changes nothing is not made: it would wake every watcher of Apps.
        if (conditions !== app.status?.conditions || lastRequestTime !== app.status?.lastRequestTime) {
          await this.#options.store.updateStatus({ ...app, status: { ...app.status, conditions: [...conditions], ...(lastRequestTime ? { lastRequestTime } : {}) } });
        }
        scaling.written = key;
        if (lastRequestMs !== undefined) scaling.writtenLastRequestMs = lastRequestMs;
      }, 5);
    } catch (error) {
      this.#log.warn({ app: scaling.app.metadata.name, err: error }, 'cannot write the Autoscaled condition; trying again on the next tick');
    } finally {
      scaling.writing = false;
    }
  }

  /** What the loop decided last for an app (for tests and `dormant apps`). */
  describe(app: string): { scale: number; reason: string; panicking: boolean } | undefined {
    const scaling = this.#apps.get(app);
    return scaling && { scale: scaling.scale, reason: scaling.reason, panicking: scaling.panicking };
  }

  close(): void {
    this.#stop.abort();
    clearInterval(this.#timer);
    for (const scaling of this.#apps.values()) scaling.subscription.abort();
  }
}
