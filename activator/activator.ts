import { once } from 'node:events';
import type { ColdStartSummary } from './cold-starts.js';
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type App, type AutoscalePolicy, claimOrder, namespaceDefaultPolicy, parseDuration, resolvePolicy } from '../crds/index.js';
import { answerThrown } from '../errors/index.js';
import type { ResourceStore } from '../runtime/index.js';
import { ActiveApps, hasWork } from './active-apps.js';
import { AppTraffic, type TrafficPolicy } from './app-traffic.js';
import { Drain } from './drain.js';
import { type ActivatorMetrics, activatorMetrics } from './metrics.js';
import { pokeDue, RequestPath } from './request-path.js';
import { RouteTable } from './route-table.js';
import type { AppStats, ChallengeAnswers, EndpointSource, StatsSink, TlsSource } from './seams.js';
import { clientErrorAnswer } from './socket-answers.js';
import { type RequestRecorder, TraceRecorder } from './trace-recorder.js';
import { Tunnels } from './tunnel.js';

export type { AppStats, ChallengeAnswers, EndpointSource, StatsSink, TlsSource } from './seams.js';
export type { RequestRecorder } from './trace-recorder.js';

export interface ActivatorOptions {
  readonly store: ResourceStore;
  readonly endpoints: EndpointSource;
  readonly stats: StatsSink;
  readonly log: Logger;
  readonly registry?: Registry;
  readonly domain: string;
  readonly port: number;
  /** The port users reach this activator at, for the links of the root page (a NodePort in front of it); the listening port by default. */
  readonly publicPort?: number;
  /** Listen address; loopback by default (`*.localhost` names resolve there). */
  readonly host?: string;
  readonly clock?: () => number;
  readonly random?: () => number;
  readonly maxHeaderSize?: number;
  /** Header lines a request may have (Host included); more get 431. Default 100, as Apache's LimitRequestFields. */
  readonly maxHeaderCount?: number;
  readonly headersTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  /** Pending connections the listening socket queues; default 8192 (capped by net.core.somaxconn). */
  readonly backlog?: number;
  /** An HTTPS listener beside the HTTP one, presenting each host's certificate (SNI) from `tls`. */
  readonly https?: { readonly port: number; readonly publicPort?: number; readonly tls: TlsSource };
  /** ACME HTTP-01 answers, served on the HTTP listener for the apps' hosts. */
  readonly challenges?: ChallengeAnswers;
}

const tickMs = 100;
const statsEveryTicks = 10;
/** Header lines a request may have by default (Apache's LimitRequestFields): well under an app's own cap (Node keeps 1,000). */
export const defaultMaxHeaderCount = 100;

function trafficPolicy(app: App, policies: ReadonlyMap<string, AutoscalePolicy>): TrafficPolicy {
  const { spec } = resolvePolicy(app, policies);
  return {
    stopped: app.spec.stopped === true,
    waitingPage: app.spec.coldStart?.waitingPage === true,
    redirectHttps: app.spec.tls?.redirectHttp === true,
    appUid: app.metadata.uid,
    containerConcurrency: spec.containerConcurrency, queueDepth: spec.queueDepth, requestTimeoutMs: parseDuration(spec.requestTimeout) ?? 60_000 };
}

/**
 * The data plane: routes by Host, balances over ready replicas, holds requests while an
 * app wakes, and reports load. One per machine locally; a Deployment in Kubernetes.
 *
 * This file composes it and keeps per-app state current: it follows the store (Apps and
 * AutoscalePolicies) and each app's endpoints, and runs the tick (hold timeouts, re-pokes,
 * load reports). The parts beside it: request-path.ts (each request, to a replica or the
 * queue), tunnel.ts (upgrades and CONNECT), trace-recorder.ts (`dormant trace`), drain.ts
 * (stopping without dropping a request).
 */
export class Activator {
  readonly #options: ActivatorOptions;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #log: Logger;
  readonly #routes: RouteTable;
  readonly #apps = new Map<string, App>();
  readonly #policies = new Map<string, AutoscalePolicy>();
  readonly #traffic = new Map<string, AppTraffic>();
  /** The apps the tick has work for: the tick visits these, not every app. */
  readonly #active = new ActiveApps();
  readonly #subscriptions = new Map<string, AbortController>();
  readonly #stop = new AbortController();
  readonly #metrics: ActivatorMetrics;
  readonly #traces = new TraceRecorder();
  readonly #drain: Drain;
  readonly #requests: RequestPath;
  readonly #tunnels: Tunnels;
  readonly #maxHeaderCount: number;
  readonly #guard: { readonly server: string; readonly log: Logger };
  #server: Server | undefined;
  #httpsServer: Server | undefined;
  #ticker: NodeJS.Timeout | undefined;
  #ticks = 0;

  constructor(options: ActivatorOptions) {
    this.#options = options;
    this.#clock = options.clock ?? (() => performance.now());
    this.#random = options.random ?? Math.random;
    this.#log = options.log.child({ component: 'activator' });
    this.#guard = { server: 'activator', log: this.#log };
    this.#routes = new RouteTable(options.domain);
    this.#maxHeaderCount = options.maxHeaderCount ?? defaultMaxHeaderCount;
    this.#metrics = activatorMetrics(options.registry);
    const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 5000;
    this.#drain = new Drain(this.#log, keepAliveTimeoutMs);
    const shared = { routes: this.#routes, traffic: this.#traffic, active: this.#active, log: this.#log, clock: this.#clock, random: this.#random, maxHeaderCount: this.#maxHeaderCount };
    this.#requests = new RequestPath({
      ...shared,
      endpoints: options.endpoints,
      stats: options.stats,
      metrics: this.#metrics,
      traces: this.#traces,
      drain: this.#drain,
      linkPort: () => (options.publicPort === undefined ? (this.#server?.address() as { port: number } | null | undefined) ?? null : { port: options.publicPort }),
      ...(options.challenges === undefined ? {} : { challenges: options.challenges }),
      ...(options.https === undefined ? {} : { https: { tls: options.https.tls, port: () => options.https?.publicPort ?? (this.#httpsServer?.address() as { port: number } | null | undefined)?.port } }),
    });
    this.#tunnels = new Tunnels({ ...shared, hold: (tunnel) => this.#requests.hold(tunnel), keepAliveTimeoutMs });
  }

  /** Starts following the store and listening; resolves with the port (HTTP's; httpsPort() says HTTPS's). */
  async start(): Promise<number> {
    await Promise.all([this.#follow('App'), this.#follow('AutoscalePolicy')]);
    const headersTimeoutMs = this.#options.headersTimeoutMs ?? 30_000;
    const serverOptions: ServerOptions = {
      maxHeaderSize: this.#options.maxHeaderSize ?? 16 * 1024,
      headersTimeout: headersTimeoutMs,
      // Node checks the headers timeout on this interval (30 s by default, so a 30 s timeout fired after 30 to 60 s).
      connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(headersTimeoutMs / 4))),
      keepAliveTimeout: this.#options.keepAliveTimeoutMs ?? 5000,
      // Bodies stream through unbuffered, and may be long: no whole-request deadline.
      requestTimeout: 0,
    };
    const server = this.#wire(createServer(serverOptions), serverOptions);
    const https = this.#options.https;
    const host = this.#options.host ?? '127.0.0.1';
    // A burst of new connections must not overflow the accept queue: Node's default of 511
    // drops the rest of the SYNs, which clients retry after 1 s and 3 s (measured: 800 of
    // 1,000 users at once waited 3 s). The kernel caps it at net.core.somaxconn.
    const backlog = this.#options.backlog ?? 8192;
    server.listen({ port: this.#options.port, host, backlog });
    await once(server, 'listening');
    this.#server = server;
    if (https) {
      // The certificate is chosen per handshake by the name the client asks for (SNI), among those of the app holding that host only.
      // A handshake never finished holds its socket no longer than a request head may take.
      const secureServer = createHttpsServer({ ...serverOptions, handshakeTimeout: headersTimeoutMs, SNICallback: (servername, done) => done(null, this.#secureContext(servername)) });
      this.#wire(secureServer, serverOptions);
      secureServer.on('tlsClientError', (error: Error) => this.#log.debug({ err: error }, 'TLS handshake failed'));
      secureServer.listen({ port: https.port, host, backlog });
      try {
        await once(secureServer, 'listening');
      } catch (error) {
        server.close();
        throw error;
      }
      this.#httpsServer = secureServer;
    }
    this.#ticker = setInterval(() => this.#tick(), tickMs);
    this.#ticker.unref();
    const { port } = server.address() as { port: number };
    this.#log.info({ port, ...(this.#httpsServer ? { httpsPort: this.httpsPort() } : {}), domain: this.#options.domain }, 'activator listening');
    return port;
  }

  /** The HTTPS listener's port, or undefined without one. */
  httpsPort(): number | undefined {
    return (this.#httpsServer?.address() as { port: number } | null | undefined)?.port;
  }

  /**
   * The TLS context for a name a client asked for: the certificate of the app that holds the
   * host, added to that very App. None (an unknown host, no certificate): the handshake
   * fails, rather than presenting another app's certificate.
   */
  #secureContext(servername: string): import('node:tls').SecureContext | undefined {
    const host = RouteTable.hostname(servername);
    const app = this.#routes.resolve(host);
    if (app === undefined) return undefined;
    return this.#options.https?.tls.secureContext(app, this.#apps.get(app)?.metadata.uid, host);
  }

  /**
   * The handlers, one per way in: a request (the request path), an upgrade (a tunnel), a
   * CONNECT (refused), and what Node could not parse (answered on the raw socket). The same
   * for the HTTP and the HTTPS listener.
   */
  #wire(server: Server, options: ServerOptions): Server {
    const maxHeaderBytes = options.maxHeaderSize ?? 16 * 1024;
    const headersTimeoutMs = options.headersTimeout ?? 30_000;
    const requests = this.#requests;
    const tunnels = this.#tunnels;
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      // A handler that throws answers this request with an error and a log line; it never ends Dormant.
      try {
        requests.onRequest(req, res);
      } catch (error) {
        answerThrown(error, req, res, this.#guard);
      }
    });
    // The parser keeps one line more than the limit, so that a request over it is seen (and refused), not cut short.
    server.maxHeadersCount = this.#maxHeaderCount + 1;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        tunnels.onUpgrade(req, socket as Socket, head);
      } catch (error) {
        tunnels.failed(error, req, socket);
      }
    });
    server.on('connect', (req: IncomingMessage, socket: Duplex) => {
      try {
        tunnels.onConnect(req, socket);
      } catch (error) {
        tunnels.failed(error, req, socket);
      }
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      // Node's own handler reads the response in progress on the socket from this field too (lib/_http_server.js, socketOnError); there is no public accessor.
      const current = (socket as Duplex & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
      const answer = socket.writable ? clientErrorAnswer(error.code, current?.headersSent === true, { maxHeaderBytes, headersTimeoutMs }) : undefined;
      this.#log.debug({ err: error, answered: answer !== undefined }, 'client error');
      if (answer === undefined) socket.destroy();
      else socket.end(answer);
    });
    return server;
  }

  /** Applies the current objects of a kind now, then follows its watch (whose first events repeat them). */
  async #follow(kind: 'App' | 'AutoscalePolicy'): Promise<void> {
    const apply = (type: string, object: App | AutoscalePolicy) => {
      if (object.kind === 'App') this.#applyApp(type, object);
      else this.#applyPolicy(type, object);
    };
    const current: (App | AutoscalePolicy)[] = kind === 'App' ? await this.#options.store.list('App') : await this.#options.store.list('AutoscalePolicy');
    for (const object of current) apply('ADDED', object);
    void (async () => {
      for await (const event of this.#options.store.watch(kind, { signal: this.#stop.signal })) apply(event.type, event.object);
    })().catch((error: unknown) => this.#log.error({ err: error, kind }, 'store watch ended'));
  }

  #applyPolicy(type: string, policy: AutoscalePolicy): void {
    if (type === 'DELETED') this.#policies.delete(policy.metadata.name);
    else this.#policies.set(policy.metadata.name, policy);
    for (const app of this.#apps.values()) if ((app.spec.autoscale.policyRef ?? namespaceDefaultPolicy) === policy.metadata.name) this.#applyApp('MODIFIED', app);
  }

  /** The cold starts an app's requests met in the last hour (for `dormant apps info`). */
  coldStarts(app: string): ColdStartSummary {
    return this.#traffic.get(app)?.coldStarts.summary(this.#clock() - 3_600_000) ?? { count: 0, p50Ms: null, p99Ms: null };
  }

  /** Requests in flight on each replica of an app, by replica id (for `dormant ps`). */
  inFlight(app: string): ReadonlyMap<string, number> {
    return this.#traffic.get(app)?.inFlightByReplica() ?? new Map();
  }

  #applyApp(type: string, app: App): void {
    const name = app.metadata.name;
    if (type === 'DELETED') {
      this.#apps.delete(name);
      this.#routes.remove(name);
      this.#subscriptions.get(name)?.abort();
      this.#subscriptions.delete(name);
      const traffic = this.#traffic.get(name);
      if (traffic) {
        for (let waiter = traffic.queue.shift(); waiter; waiter = traffic.queue.shift()) waiter.expire(0);
        void traffic.close();
        this.#traffic.delete(name);
        this.#active.remove(traffic);
        this.#metrics.held.remove({ app: name });
      }
      return;
    }
    const previousHosts = this.#apps.get(name)?.spec.routes.hosts;
    this.#apps.set(name, app);
    const shadowed = this.#routes.set(name, app.spec.routes.hosts, claimOrder(app));
    // Said when the app's hosts are new or changed, not on each status write.
    if (previousHosts?.join() !== app.spec.routes.hosts.join()) {
      for (const { host, owner } of shadowed) this.#log.warn({ app: name, host, owner }, 'host is claimed by an older app, which keeps it');
    }
    const policy = trafficPolicy(app, this.#policies);
    const existing = this.#traffic.get(name);
    if (existing) {
      existing.setPolicy(policy);
      existing.dispatchQueue(this.#random, this.#clock());
      return;
    }
    const traffic = new AppTraffic(name, policy, this.#clock(), { drained: (a, id) => this.#options.endpoints.drained(a, id) });
    this.#traffic.set(name, traffic);
    this.#active.add(traffic);
    const subscription = new AbortController();
    this.#subscriptions.set(name, subscription);
    void (async () => {
      for await (const endpoints of this.#options.endpoints.endpoints(name, subscription.signal)) {
        traffic.setEndpoints(endpoints, this.#clock());
        traffic.dispatchQueue(this.#random, this.#clock());
      }
    })().catch((error: unknown) => this.#log.error({ err: error, app: name }, 'endpoint watch ended'));
  }

  /**
   * Expires held requests, re-pokes sleeping apps, and reports load every second (a round).
   * It visits only the apps with work (ActiveApps), and a round names only the apps with
   * load since their last report: what it leaves out had none, which the autoscaler reads
   * as a report of zero. So an idle app costs neither, and a thousand asleep cost nothing.
   */
  #tick(): void {
    const now = this.#clock();
    this.#ticks++;
    const round = this.#ticks % statsEveryTicks === 0;
    const stats: AppStats[] = [];
    this.#active.sweep((traffic) => {
      traffic.expireQueue(now);
      if (traffic.queue.active > 0) {
        // A held request keeps the wake-up demand alive: the poke is repeated, never lost.
        if (pokeDue(traffic.readyCount, traffic.lastPokeMs, now)) this.#requests.poke(traffic, now);
        // A replica routed around after a failed connect may be back.
        else traffic.dispatchQueue(this.#random, now);
      }
      if (traffic.heldInGauge !== traffic.queue.active) {
        traffic.heldInGauge = traffic.queue.active;
        this.#metrics.held.set({ app: traffic.name }, traffic.queue.active);
      }
      if (round && !traffic.meter.idle) stats.push({ app: traffic.name, ...traffic.meter.report(now) });
      return hasWork({ held: traffic.queue.active, heldInGauge: traffic.heldInGauge, unreported: !traffic.meter.idle });
    });
    if (round) {
      this.#active.roundMade(now);
      // Sent when empty too: the autoscaler learns that this activator reports, and that every app it knows was idle.
      this.#options.stats.round(stats);
    }
  }

  /**
   * Records every request to app that arrives from now on (`dormant trace`), until the
   * returned function is called. Costs the request path one map lookup while any app is traced.
   */
  traceRequests(app: string, record: RequestRecorder): () => void {
    return this.#traces.add(app, record, this.#clock());
  }

  /**
   * Stops without dropping a request, for an activator behind a load balancer that is
   * taking it out (a deleted pod). It keeps answering whatever still arrives, each answer
   * with Connection: close. Idle keep-alive connections are not cut (a client may be
   * sending on one at that moment): they expire on the keep-alive timeout the clients were
   * told, which well-behaved clients stop reusing just before. Then the listener closes
   * once the last request is answered; at deadlineMs whatever is left is cut. Answers
   * already say Connection: close when this returns its promise.
   */
  async drain(deadlineMs: number): Promise<void> {
    const server = this.#server;
    if (!server) return;
    await this.#drain.run(this.#httpsServer ? [server, this.#httpsServer] : [server], deadlineMs);
  }

  async close(): Promise<void> {
    this.#stop.abort();
    clearInterval(this.#ticker);
    for (const subscription of this.#subscriptions.values()) subscription.abort();
    this.#tunnels.closeAll();
    for (const server of [this.#server, this.#httpsServer]) {
      if (!server) continue;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await Promise.all([...this.#traffic.values()].map((t) => t.close()));
  }
}
