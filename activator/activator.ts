import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type App, type AutoscalePolicy, claimOrder, namespaceDefaultPolicy, parseDuration, resolvePolicy } from '../crds/index.js';
import { answerThrown, guardErrors } from '../errors/index.js';
import type { Endpoint, ResourceStore } from '../runtime/index.js';
import { AppTraffic, type TrafficPolicy, type Upstream, type Waiter } from './app-traffic.js';
import { activatorErrors } from './errors.js';
import { appList } from './pages.js';
import { type ProxyContext, ProxyRequest, upstreamHeaders } from './proxy-request.js';
import { type HeadProblem, headProblem, originForm } from './request-head.js';
import { RouteTable } from './route-table.js';
import { clientErrorAnswer, rawAnswer } from './socket-answers.js';

/** Where ready replicas come from: the runtime, as the activator needs it. */
export interface EndpointSource {
  endpoints(app: string, signal?: AbortSignal): AsyncIterable<readonly Endpoint[]>;
  drained(app: string, endpointId: string): void;
  /** false when the app has no revision to start: a request then gets 503 at once. Absent: assume deployed. */
  deployed?(app: string): boolean;
}

export interface AppStats {
  readonly app: string;
  /** Time-weighted requests in flight or held, over the window. */
  readonly averageConcurrency: number;
  readonly requests: number;
  readonly windowMs: number;
}

/** Where load goes: the autoscaler, in-process locally and over HTTP in Kubernetes. */
export interface StatsSink {
  report(stats: readonly AppStats[]): void;
  /** An app with no ready replica has a request waiting: wake it now. */
  poke(app: string): void;
}

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
}

/** Gets each finished request of a traced app: arrival (ms since tracing began), duration without time held for a wake-up, status. */
export type RequestRecorder = (arrivedMs: number, durationMs: number, status: number) => void;

const tickMs = 100;
const statsEveryTicks = 10;
const repokeMs = 1000;
/** Header lines a request may have by default (Apache's LimitRequestFields): well under an app's own cap (Node keeps 1,000). */
export const defaultMaxHeaderCount = 100;
/** Response headers that describe the connection to the app, not the answer: not relayed to an upgrade's client. */
const connectionHeaders = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

function trafficPolicy(app: App, policies: ReadonlyMap<string, AutoscalePolicy>): TrafficPolicy {
  const { spec } = resolvePolicy(app, policies);
  return { containerConcurrency: spec.containerConcurrency, queueDepth: spec.queueDepth, requestTimeoutMs: parseDuration(spec.requestTimeout) ?? 60_000 };
}

/**
 * The data plane: routes by Host, balances over ready replicas, holds requests while an
 * app wakes, and reports load. One per machine locally; a Deployment in Kubernetes.
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
  readonly #subscriptions = new Map<string, AbortController>();
  readonly #tracers = new Map<string, Set<{ readonly sinceMs: number; readonly record: RequestRecorder }>>();
  readonly #stop = new AbortController();
  /** Upgraded connections: the HTTP server no longer tracks them, so close() must. */
  readonly #upgraded = new Set<Socket>();
  readonly #metrics;
  readonly #context: ProxyContext;
  readonly #maxHeaderCount: number;
  readonly #guard: { readonly server: string; readonly log: Logger };
  #server: Server | undefined;
  #draining = false;
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
    const registers = options.registry ? [options.registry] : [];
    this.#metrics = {
      requests: new Counter({ name: 'dormant_activator_requests_total', help: 'Requests answered, by app and status', labelNames: ['app', 'code'], registers }),
      held: new Gauge({ name: 'dormant_activator_held_requests', help: 'Requests waiting for a replica', labelNames: ['app'], registers }),
      hold: new Histogram({
        name: 'dormant_activator_cold_start_seconds',
        help: 'How long requests waited for an app to wake from zero (the cold-start time)',
        labelNames: ['app'],
        buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        registers,
      }),
      upstream: new Histogram({
        name: 'dormant_activator_request_seconds',
        help: 'From arrival to the end of the response, by app',
        labelNames: ['app'],
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
        registers,
      }),
      rejected: new Counter({ name: 'dormant_activator_queue_rejections_total', help: 'Requests refused because the app queue was full', labelNames: ['app'], registers }),
    };
    this.#context = {
      clock: this.#clock,
      random: this.#random,
      finished: (request, status) => this.#finished(request, status),
      hold: (request) => this.#hold(request),
      draining: () => this.#draining,
      refused: (request, error) => this.#log.error({ err: error, app: request.traffic.name, method: request.req.method, target: request.path }, 'the upstream client refused a request the activator let through'),
    };
  }

  /** Starts following the store and listening; resolves with the port. */
  async start(): Promise<number> {
    await Promise.all([this.#follow('App'), this.#follow('AutoscalePolicy')]);
    const maxHeaderBytes = this.#options.maxHeaderSize ?? 16 * 1024;
    const headersTimeoutMs = this.#options.headersTimeoutMs ?? 30_000;
    const server = createServer(
      {
        maxHeaderSize: maxHeaderBytes,
        headersTimeout: headersTimeoutMs,
        // Node checks the headers timeout on this interval (30 s by default, so a 30 s timeout fired after 30 to 60 s).
        connectionsCheckingInterval: Math.max(100, Math.min(30_000, Math.floor(headersTimeoutMs / 4))),
        keepAliveTimeout: this.#options.keepAliveTimeoutMs ?? 5000,
        // Bodies stream through unbuffered, and may be long: no whole-request deadline.
        requestTimeout: 0,
      },
      (req, res) => {
        // A handler that throws answers this request with an error and a log line; it never ends Dormant.
        try {
          this.#onRequest(req, res);
        } catch (error) {
          answerThrown(error, req, res, this.#guard);
        }
      },
    );
    // The parser keeps one line more than the limit, so that a request over it is seen (and refused), not cut short.
    server.maxHeadersCount = this.#maxHeaderCount + 1;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        this.#onUpgrade(req, socket as Socket, head);
      } catch (error) {
        this.#socketFailed(error, req, socket);
      }
    });
    // CONNECT (a forward proxy's tunnel) is not served: say so, where Node would drop the connection without a word.
    server.on('connect', (req: IncomingMessage, socket: Duplex) => {
      try {
        socket.end(rawAnswer(activatorErrors.badTarget({ method: 'CONNECT', target: req.url ?? '' })));
      } catch (error) {
        this.#socketFailed(error, req, socket);
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
    // A burst of new connections must not overflow the accept queue: Node's default of 511
    // drops the rest of the SYNs, which clients retry after 1 s and 3 s (measured: 800 of
    // 1,000 users at once waited 3 s). The kernel caps it at net.core.somaxconn.
    server.listen({ port: this.#options.port, host: this.#options.host ?? '127.0.0.1', backlog: this.#options.backlog ?? 8192 });
    await once(server, 'listening');
    this.#server = server;
    this.#ticker = setInterval(() => this.#tick(), tickMs);
    this.#ticker.unref();
    const { port } = server.address() as { port: number };
    this.#log.info({ port, domain: this.#options.domain }, 'activator listening');
    return port;
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
    const subscription = new AbortController();
    this.#subscriptions.set(name, subscription);
    void (async () => {
      for await (const endpoints of this.#options.endpoints.endpoints(name, subscription.signal)) {
        traffic.setEndpoints(endpoints, this.#clock());
        traffic.dispatchQueue(this.#random, this.#clock());
      }
    })().catch((error: unknown) => this.#log.error({ err: error, app: name }, 'endpoint watch ended'));
  }

  // The request path, in order: Dormant's own page, routing, then a replica or the queue.
  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    let host = req.headers.host;
    const url = req.url ?? '/';
    let path = url;
    if (url.charCodeAt(0) !== 47 /* not "/...": absolute-form, asterisk-form or refused */) {
      const target = originForm(req.method ?? '', url);
      if (target === undefined) {
        this.#refuse(res, activatorErrors.badTarget({ method: req.method ?? '', target: url }));
        return;
      }
      path = target.path;
      if (target.authority !== '') host = target.authority;
    }
    const problem = headProblem(req.rawHeaders, host, this.#maxHeaderCount);
    if (problem !== undefined) {
      this.#refuse(res, this.#headError(problem, host ?? ''));
      return;
    }
    const hostname = RouteTable.hostname(host);
    const app = this.#routes.resolve(hostname);
    const traffic = app === undefined ? undefined : this.#traffic.get(app);
    if (traffic === undefined) {
      this.#notAnApp(req, res, hostname, path);
      return;
    }
    const request = new ProxyRequest(req, res, traffic, this.#context);
    if (path !== url) {
      request.path = path;
      request.host = host ?? '';
    }
    const now = request.startedAtMs;
    traffic.meter.started(now);
    const upstream = traffic.queue.active === 0 ? traffic.acquire(this.#random, now) : undefined;
    if (upstream) request.start(upstream);
    else if (traffic.readyCount === 0 && this.#options.endpoints.deployed?.(traffic.name) === false) request.rejectNotDeployed();
    else if (!this.#hold(request)) request.rejectQueueFull();
  }

  /** An upgrade or CONNECT whose handling threw: a log line and a 500 on the raw socket, as answerThrown does for a request. */
  #socketFailed(error: unknown, req: IncomingMessage, socket: Duplex): void {
    const target = req.url ?? '';
    this.#log.error({ err: error, server: 'activator', method: req.method, url: target.length > 512 ? `${target.slice(0, 512)}...` : target }, 'request handler failed');
    if (socket.writable) socket.end(rawAnswer(guardErrors.handlerFailed({ server: 'activator' })));
    else socket.destroy();
  }

  /** Queues a request that no replica can take now; pokes the autoscaler when the app sleeps. */
  #hold(request: ProxyRequest | (Waiter & { traffic: AppTraffic })): boolean {
    const traffic = request.traffic;
    const now = this.#clock();
    // A retry keeps its place in time, so its hold timeout counts from the first wait.
    if (request.enqueuedAtMs < 0) request.enqueuedAtMs = now;
    request.waking = request.waking || traffic.readyCount === 0;
    if (!traffic.queue.push(request)) {
      this.#metrics.rejected.inc({ app: traffic.name });
      return false;
    }
    if (traffic.readyCount === 0 && now - traffic.lastPokeMs >= repokeMs) this.#poke(traffic, now);
    traffic.dispatchQueue(this.#random, now);
    return true;
  }

  #poke(traffic: AppTraffic, now: number): void {
    const first = traffic.lastPokeMs === Number.NEGATIVE_INFINITY || now - traffic.lastPokeMs > 2 * repokeMs;
    traffic.lastPokeMs = now;
    this.#options.stats.poke(traffic.name);
    // The first request for a sleeping app is reported at once, not at the next tick.
    if (first) this.#options.stats.report([{ app: traffic.name, ...traffic.meter.report(now) }]);
  }

  #finished(request: ProxyRequest, status: number): void {
    const traffic = request.traffic;
    const now = this.#clock();
    traffic.meter.finished(now);
    this.#metrics.requests.inc({ app: traffic.name, code: String(status) });
    this.#metrics.upstream.observe({ app: traffic.name }, (now - request.startedAtMs) / 1000);
    if (request.heldMs >= 0) this.#metrics.hold.observe({ app: traffic.name }, request.heldMs / 1000);
    // A trace replays load without the cold starts it met: the simulator adds its own.
    if (this.#tracers.size > 0) this.#trace(traffic.name, request.startedAtMs, now - request.startedAtMs - Math.max(0, request.heldMs), status);
    if (traffic.queue.active > 0) traffic.dispatchQueue(this.#random, now);
  }

  #trace(app: string, startedAtMs: number, durationMs: number, status: number): void {
    const tracers = this.#tracers.get(app);
    if (!tracers) return;
    for (const tracer of tracers) if (startedAtMs >= tracer.sinceMs) tracer.record(startedAtMs - tracer.sinceMs, durationMs, status);
  }

  /**
   * Records every request to app that arrives from now on (`dormant trace`), until the
   * returned function is called. Costs the request path one map lookup while any app is traced.
   */
  traceRequests(app: string, record: RequestRecorder): () => void {
    const tracer = { sinceMs: this.#clock(), record };
    let tracers = this.#tracers.get(app);
    if (!tracers) {
      tracers = new Set();
      this.#tracers.set(app, tracers);
    }
    tracers.add(tracer);
    return () => {
      tracers.delete(tracer);
      if (tracers.size === 0 && this.#tracers.get(app) === tracers) this.#tracers.delete(app);
    };
  }

  /** Expires held requests, re-pokes sleeping apps, and reports load every second. */
  #tick(): void {
    const now = this.#clock();
    this.#ticks++;
    const report = this.#ticks % statsEveryTicks === 0;
    const stats: AppStats[] = [];
    for (const traffic of this.#traffic.values()) {
      traffic.expireQueue(now);
      if (traffic.queue.active > 0) {
        // A held request keeps the wake-up demand alive: the poke is repeated, never lost.
        if (traffic.readyCount === 0 && now - traffic.lastPokeMs >= repokeMs) this.#poke(traffic, now);
        // A replica routed around after a failed connect may be back.
        else traffic.dispatchQueue(this.#random, now);
      }
      this.#metrics.held.set({ app: traffic.name }, traffic.queue.active);
      if (report) stats.push({ app: traffic.name, ...traffic.meter.report(now) });
    }
    if (report && stats.length > 0) this.#options.stats.report(stats);
  }

  #headError(problem: HeadProblem, host: string) {
    if (problem === 'tooManyHeaders') return activatorErrors.tooManyHeaders({ maxHeaderCount: this.#maxHeaderCount });
    return activatorErrors.badHost({ host, duplicate: problem === 'duplicateHost' });
  }

  /** Answers a request that is not routed at all (a bad target or head) with its error. */
  #refuse(res: ServerResponse, error: { httpStatus: number; code: string; message: string }): void {
    if (this.#draining) res.shouldKeepAlive = false;
    res.writeHead(error.httpStatus, { 'content-type': 'text/plain; charset=utf-8', 'x-dormant-error': error.code });
    res.end(error.message);
  }

  #notAnApp(req: IncomingMessage, res: ServerResponse, hostname: string, path: string): void {
    // Draining: the answer says Connection: close, so the client's next request opens a connection to another activator (proxied answers decide it as they start).
    if (this.#draining) res.shouldKeepAlive = false;
    const apps = this.#routes.apps();
    if (this.#routes.isRoot(hostname) && path === '/') {
      const listening = this.#server?.address() as { port: number } | null;
      const page = appList(apps, this.#routes.domain, this.#options.publicPort === undefined ? listening : { port: this.#options.publicPort }, req.headers.accept ?? '');
      res.writeHead(200, { 'content-type': page.contentType });
      res.end(page.body);
      return;
    }
    this.#refuse(res, activatorErrors.unknownHost({ host: hostname, apps, domain: this.#routes.domain }));
  }

  /**
   * WebSocket and other upgrades: the handshake goes to a replica, and only its 101 turns the
   * connection into a byte tunnel, counted in flight while open. Any other answer is relayed
   * and the connection closed, so nothing the client sent after its request reaches the app
   * unless the app switched protocols.
   */
  #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.#upgraded.add(socket);
    socket.once('close', () => this.#upgraded.delete(socket));
    let host = req.headers.host;
    let path = req.url ?? '/';
    if (path.charCodeAt(0) !== 47) {
      const target = originForm(req.method ?? '', path);
      if (target === undefined) {
        socket.end(rawAnswer(activatorErrors.badTarget({ method: req.method ?? '', target: path })));
        return;
      }
      path = target.path;
      if (target.authority !== '') host = target.authority;
    }
    const problem = headProblem(req.rawHeaders, host, this.#maxHeaderCount);
    if (problem !== undefined) {
      socket.end(rawAnswer(this.#headError(problem, host ?? '')));
      return;
    }
    // Node hands over the socket right after the head: a body would be read as the new protocol's bytes.
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
      socket.end(rawAnswer(activatorErrors.badUpgrade({})));
      return;
    }
    const app = this.#routes.resolve(RouteTable.hostname(host));
    const traffic = app === undefined ? undefined : this.#traffic.get(app);
    if (!traffic) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const routedHost = host ?? '';
    const tunnel: Waiter & { traffic: AppTraffic } = {
      traffic,
      cancelled: false,
      queued: false,
      enqueuedAtMs: -1,
      waking: false,
      start: (upstream: Upstream) => this.#tunnel({ req, client: socket, head, traffic, upstream, host: routedHost, path }),
      expire: () => socket.end('HTTP/1.1 504 Gateway Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'),
    };
    socket.once('close', () => traffic.queue.cancel(tunnel));
    traffic.meter.started(this.#clock());
    socket.once('close', () => traffic.meter.finished(this.#clock()));
    const upstream = traffic.acquire(this.#random, this.#clock());
    if (upstream) tunnel.start(upstream);
    else if (!this.#hold(tunnel)) socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n');
  }

  #tunnel(o: { req: IncomingMessage; client: Socket; head: Buffer; traffic: AppTraffic; upstream: Upstream; host: string; path: string }): void {
    const { req, client, traffic, upstream } = o;
    if (client.destroyed) {
      traffic.release(upstream);
      return;
    }
    const headers = upstreamHeaders(req, o.host);
    headers.push('connection', 'upgrade', 'upgrade', req.headers.upgrade ?? 'websocket');
    const colon = upstream.address.lastIndexOf(':');
    const outgoing = httpRequest({
      host: upstream.address.slice(0, colon),
      port: Number(upstream.address.slice(colon + 1)),
      method: req.method ?? 'GET',
      path: o.path,
      headers,
      setHost: false,
      agent: false,
    });
    let server: Duplex | undefined;
    let answered = false;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      traffic.release(upstream);
      outgoing.destroy();
      server?.destroy();
      client.destroy();
    };
    outgoing.once('upgrade', (res: IncomingMessage, upgraded: Duplex, upstreamHead: Buffer) => {
      // 101: the app switched protocols; from here on the connection is a byte tunnel.
      answered = true;
      server = upgraded;
      let text = `HTTP/1.1 101 ${res.statusMessage ?? 'Switching Protocols'}\r\n`;
      const raw = res.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
      client.write(`${text}\r\n`);
      if (upstreamHead.length > 0) client.write(upstreamHead);
      if (o.head.length > 0) upgraded.write(o.head);
      upgraded.pipe(client);
      client.pipe(upgraded);
      // Either side closing (or half-closing) ends the tunnel: it must not hold a replica forever.
      upgraded.once('close', release);
      upgraded.once('end', release);
      upgraded.once('error', release);
      client.once('end', release);
    });
    outgoing.once('response', (res: IncomingMessage) => {
      // Not upgraded: relay this one answer and close. What the client sent after its request
      // is read and dropped, never sent on: it skipped the activator's checks.
      answered = true;
      const connectionListed = typeof res.headers.connection === 'string' ? res.headers.connection.toLowerCase().split(',').map((t) => t.trim()) : [];
      let text = `HTTP/1.1 ${res.statusCode ?? 502} ${res.statusMessage ?? ''}\r\n`;
      const raw = res.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) {
        const lower = (raw[i] ?? '').toLowerCase();
        if (!connectionHeaders.has(lower) && !connectionListed.includes(lower)) text += `${raw[i]}: ${raw[i + 1]}\r\n`;
      }
      client.write(`${text}connection: close\r\n\r\n`);
      res.pipe(client);
      res.once('error', release);
      // A client that never closes its side is cut after the keep-alive timeout it would have had.
      res.once('end', () => client.setTimeout(this.#options.keepAliveTimeoutMs ?? 5000, release));
      client.resume();
      client.once('end', () => (client.writableFinished ? release() : client.once('finish', release)));
    });
    outgoing.once('error', () => {
      if (!answered && !client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      if (answered) release();
      else client.once('finish', release);
    });
    client.once('close', release);
    client.once('error', release);
    outgoing.end();
  }

  /**
   * Stops without dropping a request, for an activator behind a load balancer that is
   * taking it out (a deleted pod). It keeps answering whatever still arrives, each answer
   * with Connection: close. Idle keep-alive connections are not cut (a client may be
   * sending on one at that moment): they expire on the keep-alive timeout the clients were
   * told, which well-behaved clients stop reusing just before. Then the listener closes
   * once the last request is answered; at deadlineMs whatever is left is cut.
   */
  async drain(deadlineMs: number): Promise<void> {
    const server = this.#server;
    if (!server || this.#draining) return;
    this.#draining = true;
    const started = performance.now();
    const keepAliveMs = this.#options.keepAliveTimeoutMs ?? 5000;
    this.#log.info({ keepAliveMs, deadlineMs }, 'draining: answering with Connection: close until idle connections expire');
    await new Promise((resolve) => setTimeout(resolve, Math.min(deadlineMs, keepAliveMs + 500)));
    const left = Math.max(0, deadlineMs - (performance.now() - started));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, left)))]);
    clearTimeout(timer);
    this.#log.info({ drainedMs: Math.round(performance.now() - started) }, 'drained');
  }

  async close(): Promise<void> {
    this.#stop.abort();
    clearInterval(this.#ticker);
    for (const subscription of this.#subscriptions.values()) subscription.abort();
    const server = this.#server;
    for (const socket of this.#upgraded) socket.destroy();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await Promise.all([...this.#traffic.values()].map((t) => t.close()));
  }
}
