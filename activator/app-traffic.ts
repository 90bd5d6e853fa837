import { Pool } from 'undici';
import type { Endpoint } from '../runtime/index.js';
import { pickTwoChoices } from './balancer.js';
import { ColdStartLog } from './cold-starts.js';
import { ConcurrencyMeter } from './concurrency-meter.js';
import { type Held, HoldQueue } from './hold-queue.js';
import { waitingPage } from './pages.js';

/**
 * Connections to one replica at most. An app's listen backlog is usually Node's 511: opening
 * a connection per request of a 1,000-request burst overflows it, the kernel drops SYNs, and
 * those requests wait 1 s and 3 s for SYN retries (measured: p99 3 s). Beyond this cap
 * requests wait in the pool for a free connection instead, in order.
 */
const maxConnectionsPerReplica = 256;

/** One replica as the activator routes to it. */
export class Upstream {
  readonly id: string;
  readonly address: string;
  #pool: Pool | undefined;
  inFlight = 0;
  ready = false;
  draining = false;
  gone = false;
  /** A connect to it failed: skip it until then (ms), or until the runtime says more. */
  brokenUntilMs = 0;

  constructor(endpoint: Endpoint) {
    this.id = endpoint.id;
    this.address = endpoint.address;
  }

  /** Its connections, opened on first use (again after letGo, should it serve again). */
  get pool(): Pool {
    // containerConcurrency is enforced by acquire(), and can change; the pool only caps connections.
    this.#pool ??= new Pool(`http://${this.address}`, { connections: maxConnectionsPerReplica, pipelining: 1, keepAliveTimeout: 30_000, connectTimeout: 2000 });
    return this.#pool;
  }

  /**
   * Nothing in flight and no more to come: its kept-alive connections are closed, so a
   * replica that waits for its last connection to go before it stops (a pod's preStop on
   * Kubernetes) stops now rather than when they time out.
   */
  async letGo(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close();
  }
}

export interface TrafficPolicy {
  /** Stopped by its owner (dormant stop): answered 503 at once. */
  readonly stopped?: boolean;
  /** A browser that wakes the app gets the waiting page (spec.coldStart.waitingPage). */
  readonly waitingPage?: boolean;
  /** Plain HTTP requests to a host with a certificate are redirected to HTTPS (spec.tls.redirectHttp). */
  readonly redirectHttps?: boolean;
  /** The App's uid: the HTTPS listener presents only certificates added to this very App. */
  readonly appUid?: string | undefined;
  readonly containerConcurrency: number;
  readonly queueDepth: number;
  readonly requestTimeoutMs: number;
}

/** A request waiting in an app's queue. */
export interface Waiter extends Held {
  /** Held because the app had no ready replica (a wake-up), not for a full one. */
  waking: boolean;
  start(upstream: Upstream): void;
  expire(waitedMs: number): void;
  /** Answered at once: the app was stopped while it waited. */
  stopped(): void;
}

export interface AppTrafficHooks {
  /** The runtime is told a draining replica has nothing in flight any more. */
  readonly drained: (app: string, endpointId: string) => void;
}

/** Everything the activator keeps per app: its replicas, its queue, its load. */
export class AppTraffic {
  readonly name: string;
  policy: TrafficPolicy;
  readonly meter: ConcurrencyMeter;
  /** The page a browser that wakes it gets (when its policy says so): made once. */
  readonly waitingPage: string;
  /** How long its requests waited for it to wake, for `dormant apps info`. */
  readonly coldStarts = new ColdStartLog();
  queue: HoldQueue<Waiter>;
  /** Replicas that take new requests: ready, not draining, not broken. */
  routable: Upstream[] = [];
  readonly #upstreams = new Map<string, Upstream>();
  readonly #hooks: AppTrafficHooks;
  /** Ready replicas the runtime reports, routable or not. */
  readyCount = 0;
  lastPokeMs = Number.NEGATIVE_INFINITY;
  /** What the held-requests gauge says for this app: set again only when it changes (1,000 apps at 10 ticks a second). */
  heldInGauge = -1;
  /** Which of its hosts HTTPS serves (a certificate covers them), for the redirect from HTTP; good while the certificates' generation is httpsGeneration. */
  readonly httpsHosts = new Map<string, boolean>();
  httpsGeneration = -1;
  /** In the activator's list of apps the tick has work for (ActiveApps). */
  listed = false;

  constructor(name: string, policy: TrafficPolicy, nowMs: number, hooks: AppTrafficHooks) {
    this.name = name;
    this.policy = policy;
    this.meter = new ConcurrencyMeter(nowMs);
    this.queue = new HoldQueue(policy.queueDepth);
    this.#hooks = hooks;
    this.waitingPage = waitingPage(name);
  }

  setPolicy(policy: TrafficPolicy): void {
    this.policy = policy;
    // Stopped while requests wait: each is told so now, not after its timeout.
    if (policy.stopped) for (let w = this.queue.shift(); w; w = this.queue.shift()) w.stopped();
    if (policy.queueDepth !== this.queue.capacity) {
      const resized = new HoldQueue<Waiter>(policy.queueDepth);
      for (let w = this.queue.shift(); w; w = this.queue.shift()) if (!resized.push(w)) w.expire(0);
      this.queue = resized;
    }
  }

  /** Requests in flight on each replica, by its id. */
  inFlightByReplica(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const upstream of this.#upstreams.values()) counts.set(upstream.id, upstream.inFlight);
    return counts;
  }

  /** A new snapshot of the app's endpoints from the runtime. */
  setEndpoints(endpoints: readonly Endpoint[], nowMs: number): void {
    const seen = new Set<string>();
    let ready = 0;
    for (const endpoint of endpoints) {
      seen.add(endpoint.id);
      let upstream = this.#upstreams.get(endpoint.id);
      if (!upstream) {
        upstream = new Upstream(endpoint);
        this.#upstreams.set(endpoint.id, upstream);
      }
      upstream.ready = endpoint.ready;
      if (endpoint.ready) ready++;
      // The runtime's word, both ways: a pod of a revision that is about to serve shows as draining (not serving) until its revision is the serving one.
      if (endpoint.draining !== upstream.draining) {
        upstream.draining = endpoint.draining;
        if (endpoint.draining && upstream.inFlight === 0) this.#drained(upstream);
      }
    }
    for (const upstream of this.#upstreams.values()) {
      if (seen.has(upstream.id)) continue;
      upstream.gone = true;
      this.#upstreams.delete(upstream.id);
      if (upstream.inFlight === 0) void upstream.letGo();
    }
    this.readyCount = ready;
    this.#refreshRoutable(nowMs);
  }

  #refreshRoutable(nowMs: number): void {
    this.routable = [...this.#upstreams.values()].filter((u) => u.ready && !u.draining && u.brokenUntilMs <= nowMs);
  }

  /** A replica with room for one more request, or undefined. */
  acquire(random: () => number, nowMs: number, avoid?: Upstream): Upstream | undefined {
    let candidates = this.routable;
    if (avoid || candidates.some((u) => u.brokenUntilMs > nowMs)) {
      this.#refreshRoutable(nowMs);
      candidates = avoid ? this.routable.filter((u) => u !== avoid) : this.routable;
    }
    const index = pickTwoChoices(candidates, this.policy.containerConcurrency, random);
    const upstream = index < 0 ? undefined : candidates[index];
    if (upstream) upstream.inFlight++;
    return upstream;
  }

  /** A request on upstream ended; returns whether queued requests may now proceed. */
  release(upstream: Upstream): void {
    upstream.inFlight--;
    if (upstream.inFlight > 0) return;
    if (upstream.gone) void upstream.letGo();
    else if (upstream.draining) this.#drained(upstream);
  }

  #drained(upstream: Upstream): void {
    void upstream.letGo();
    this.#hooks.drained(this.name, upstream.id);
  }

  /** A connect to upstream failed: route around it for a second. */
  markBroken(upstream: Upstream, nowMs: number): void {
    upstream.brokenUntilMs = nowMs + 1000;
    this.#refreshRoutable(nowMs);
  }

  /** Starts queued requests while a replica has room, oldest first. */
  dispatchQueue(random: () => number, nowMs: number): void {
    while (this.queue.active > 0) {
      const upstream = this.acquire(random, nowMs);
      if (!upstream) return;
      const waiter = this.queue.shift();
      if (!waiter) {
        this.release(upstream);
        return;
      }
      waiter.start(upstream);
    }
  }

  /** Answers queued requests that waited longer than requestTimeout. */
  expireQueue(nowMs: number): void {
    for (let head = this.queue.peek(); head && nowMs - head.enqueuedAtMs >= this.policy.requestTimeoutMs; head = this.queue.peek()) {
      this.queue.shift();
      head.expire(nowMs - head.enqueuedAtMs);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#upstreams.values()].map((u) => u.letGo()));
    this.#upstreams.clear();
    this.routable = [];
  }
}
