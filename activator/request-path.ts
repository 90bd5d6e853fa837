// The request path: from a parsed request to a replica, the hold queue or an answer of the
// activator's own. Everything here runs per request: no closure, timer, await or log line
// per request (style rule 13); what it needs is built once, in the constructor.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ActiveApps } from './active-apps.js';
import type { AppTraffic, Waiter } from './app-traffic.js';
import type { Drain } from './drain.js';
import { activatorErrors } from './errors.js';
import type { ActivatorMetrics } from './metrics.js';
import { appList } from './pages.js';
import { type ProxyContext, ProxyRequest } from './proxy-request.js';
import { type HeadProblem, headProblem, originForm } from './request-head.js';
import { RouteTable } from './route-table.js';
import type { ChallengeAnswers, EndpointSource, StatsSink, TlsSource } from './seams.js';
import type { TraceRecorder } from './trace-recorder.js';

/** A sleeping app with requests waiting is poked again this often: a lost poke does not strand them. */
export const repokeMs = 1000;

/** Whether an app with readyCount ready replicas, last poked at lastPokeMs, is to be poked at nowMs. Pure. */
export function pokeDue(readyCount: number, lastPokeMs: number, nowMs: number): boolean {
  return readyCount === 0 && nowMs - lastPokeMs >= repokeMs;
}

/** The header the waiting page's own wait sends: it is held as an API client's request, never answered with the page. */
export const waitingHeader = 'x-dormant-waiting';

/**
 * Whether a request is a browser's page load that the waiting page may answer: a GET
 * asking for HTML that the browser says is a navigation (Sec-Fetch-Mode, sent by every
 * current browser), not the page's own wait. A client that only asks for HTML (a webhook,
 * Java's default Accept, a partial fetch) is held as any other. Pure.
 */
export function wantsWaitingPage(method: string | undefined, accept: string | undefined, fetchMode: string | string[] | undefined, waiting: string | string[] | undefined): boolean {
  return method === 'GET' && waiting === undefined && fetchMode === 'navigate' && accept?.includes('text/html') === true;
}

/** Whether a poke at nowMs starts a wake-up (never poked, or not for two re-poke periods): its load is reported at once. Pure. */
export function wakeStarts(lastPokeMs: number, nowMs: number): boolean {
  return lastPokeMs === Number.NEGATIVE_INFINITY || nowMs - lastPokeMs > 2 * repokeMs;
}

/** The error for a head that headProblem() refused. */
export function headError(problem: HeadProblem, host: string, maxHeaderCount: number) {
  if (problem === 'tooManyHeaders') return activatorErrors.tooManyHeaders({ maxHeaderCount });
  return activatorErrors.badHost({ host, duplicate: problem === 'duplicateHost' });
}

/** Anything held in an app's queue: a proxied request or an upgrade's tunnel. */
export type HeldRequest = Waiter & { readonly traffic: AppTraffic };

export interface RequestPathOptions {
  readonly routes: RouteTable;
  /** The apps' traffic by name, kept by the activator as it follows the store. */
  readonly traffic: ReadonlyMap<string, AppTraffic>;
  /** The apps the activator's tick visits: a request lists its app there as it starts. */
  readonly active: ActiveApps;
  readonly endpoints: EndpointSource;
  readonly stats: StatsSink;
  readonly metrics: ActivatorMetrics;
  readonly traces: TraceRecorder;
  readonly drain: Drain;
  readonly log: Logger;
  readonly clock: () => number;
  readonly random: () => number;
  readonly maxHeaderCount: number;
  /** The port for the links of the root page (null before the activator listens). */
  readonly linkPort: () => { readonly port: number } | null;
  /** ACME HTTP-01 answers to serve before the apps see their requests. */
  readonly challenges?: ChallengeAnswers;
  /** The HTTPS listener, for redirects from HTTP: its certificates and the port users reach it at. */
  readonly https?: { readonly tls: TlsSource; readonly port: () => number | undefined };
}

/** Where an ACME server asks for an HTTP-01 answer (RFC 8555 8.3). */
export const challengePrefix = '/.well-known/acme-challenge/';

/** The Location of a redirect to HTTPS: the host without its port, the HTTPS port unless 443, the same target. Pure. */
export function httpsLocation(hostname: string, port: number | undefined, path: string): string {
  return `https://${hostname}${port === undefined || port === 443 ? '' : `:${port}`}${path}`;
}

/**
 * Routes each request by Host to its app, sends it to a ready replica with room, or holds it
 * (poking the autoscaler when the app sleeps), and books it when it leaves: metrics, traces,
 * and the queue's next turn.
 */
export class RequestPath {
  readonly #routes: RouteTable;
  readonly #traffic: ReadonlyMap<string, AppTraffic>;
  readonly #active: ActiveApps;
  readonly #endpoints: EndpointSource;
  readonly #stats: StatsSink;
  readonly #metrics: ActivatorMetrics;
  readonly #traces: TraceRecorder;
  readonly #drain: Drain;
  readonly #clock: () => number;
  readonly #random: () => number;
  readonly #maxHeaderCount: number;
  readonly #linkPort: () => { readonly port: number } | null;
  readonly #context: ProxyContext;
  readonly #challenges: ChallengeAnswers | undefined;
  readonly #https: RequestPathOptions['https'];

  constructor(options: RequestPathOptions) {
    this.#routes = options.routes;
    this.#traffic = options.traffic;
    this.#active = options.active;
    this.#endpoints = options.endpoints;
    this.#stats = options.stats;
    this.#metrics = options.metrics;
    this.#traces = options.traces;
    this.#drain = options.drain;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#maxHeaderCount = options.maxHeaderCount;
    this.#linkPort = options.linkPort;
    this.#challenges = options.challenges;
    this.#https = options.https;
    const log = options.log;
    this.#context = {
      clock: this.#clock,
      random: this.#random,
      finished: (request, status) => this.#finished(request, status),
      hold: (request) => this.hold(request),
      draining: () => this.#drain.draining,
      refused: (request, error) => log.error({ err: error, app: request.traffic.name, method: request.req.method, target: request.path }, 'the upstream client refused a request the activator let through'),
    };
  }

  // The request path, in order: Dormant's own page, routing, then a replica or the queue.
  onRequest(req: IncomingMessage, res: ServerResponse): void {
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
      this.#refuse(res, headError(problem, host ?? '', this.#maxHeaderCount));
      return;
    }
    const hostname = RouteTable.hostname(host);
    const app = this.#routes.resolve(hostname);
    const traffic = app === undefined ? undefined : this.#traffic.get(app);
    if (traffic === undefined) {
      this.#notAnApp(req, res, hostname, path);
      return;
    }
    // An ACME server checking a challenge Dormant set for this host: answered here, whatever the app's state.
    if (this.#challenges !== undefined && this.#challenges.pending > 0 && path.startsWith(challengePrefix)) {
      const answer = this.#challenges.answer(hostname, path.slice(challengePrefix.length));
      if (answer !== undefined) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(answer);
        return;
      }
    }
    const socket = req.socket as { encrypted?: boolean; servername?: string | false };
    if (socket.encrypted === true) {
      // A connection made for another app's name (its certificate) carries requests for that app only (RFC 9110 421), as a resumed session would let it.
      const servername = socket.servername;
      if (typeof servername === 'string' && servername !== hostname && this.#routes.resolve(RouteTable.hostname(servername)) !== app) {
        this.#refuse(res, activatorErrors.misdirected({ host: hostname, servername }));
        return;
      }
    } else if (traffic.policy.redirectHttps && this.#https !== undefined && this.#servesHttps(traffic, hostname)) {
      if (this.#drain.draining) res.shouldKeepAlive = false;
      res.writeHead(308, { location: httpsLocation(hostname, this.#https.port(), path), 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${traffic.name} is served over HTTPS.\n`);
      return;
    }
    const request = new ProxyRequest(req, res, traffic, this.#context);
    if (path !== url) {
      request.path = path;
      request.host = host ?? '';
    }
    if (traffic.policy.stopped) {
      // Answered before the meter counts it: its end must not be counted either (a stopped app's load would go below zero).
      request.metered = false;
      request.rejectStopped();
      return;
    }
    const now = request.startedAtMs;
    this.#active.started(traffic, now);
    const upstream = traffic.queue.active === 0 ? traffic.acquire(this.#random, now) : undefined;
    if (upstream) request.start(upstream);
    else if (traffic.readyCount === 0 && this.#endpoints.deployed?.(traffic.name) === false) request.rejectNotDeployed();
    else if (traffic.readyCount === 0 && traffic.policy.waitingPage && wantsWaitingPage(req.method, req.headers.accept, req.headers['sec-fetch-mode'], req.headers[waitingHeader])) {
      // A browser waking the app: a page that says so now, which waits for it itself; the app is woken as for a held request.
      if (pokeDue(traffic.readyCount, traffic.lastPokeMs, now)) this.poke(traffic, now);
      request.answerWaitingPage();
    } else if (!this.hold(request)) request.rejectQueueFull();
  }

  /**
   * Whether HTTPS serves this host of the app (a certificate covers it): a redirect to a
   * handshake that fails would lose the app. Kept per app and host until the certificates change.
   */
  #servesHttps(traffic: AppTraffic, hostname: string): boolean {
    const tls = this.#https?.tls;
    if (tls === undefined) return false;
    if (traffic.httpsGeneration !== tls.generation) {
      traffic.httpsHosts.clear();
      traffic.httpsGeneration = tls.generation;
    }
    let serves = traffic.httpsHosts.get(hostname);
    if (serves === undefined) {
      serves = tls.secureContext(traffic.name, traffic.policy.appUid, hostname) !== undefined;
      // At most the app's own hosts are kept (32 and its address): an unknown host never routes here.
      traffic.httpsHosts.set(hostname, serves);
    }
    return serves;
  }

  /** Queues a request that no replica can take now; pokes the autoscaler when the app sleeps. False when the queue is full. */
  hold(request: HeldRequest): boolean {
    const traffic = request.traffic;
    // Stopped meanwhile (a retry after its replica went): told so now.
    if (traffic.policy.stopped) {
      request.stopped();
      return true;
    }
    const now = this.#clock();
    // A retry keeps its place in time, so its hold timeout counts from the first wait.
    if (request.enqueuedAtMs < 0) request.enqueuedAtMs = now;
    request.waking = request.waking || traffic.readyCount === 0;
    if (!traffic.queue.push(request)) {
      this.#metrics.rejected.inc({ app: traffic.name });
      return false;
    }
    if (pokeDue(traffic.readyCount, traffic.lastPokeMs, now)) this.poke(traffic, now);
    traffic.dispatchQueue(this.#random, now);
    return true;
  }

  /** Asks the autoscaler to wake the app; the first poke of a wake-up also reports its load at once, not at the next tick. */
  poke(traffic: AppTraffic, now: number): void {
    const first = wakeStarts(traffic.lastPokeMs, now);
    traffic.lastPokeMs = now;
    this.#stats.poke(traffic.name);
    if (first) this.#stats.report([{ app: traffic.name, ...traffic.meter.report(now) }]);
  }

  #finished(request: ProxyRequest, status: number): void {
    const traffic = request.traffic;
    const now = this.#clock();
    if (request.metered) traffic.meter.finished(now);
    this.#metrics.requests.inc({ app: traffic.name, code: String(status) });
    this.#metrics.upstream.observe({ app: traffic.name }, (now - request.startedAtMs) / 1000);
    if (request.heldMs >= 0) {
      this.#metrics.hold.observe({ app: traffic.name }, request.heldMs / 1000);
      traffic.coldStarts.record(now, request.heldMs);
    }
    // A trace replays load without the cold starts it met: the simulator adds its own.
    if (this.#traces.tracing) this.#traces.record(traffic.name, request.startedAtMs, now - request.startedAtMs - Math.max(0, request.heldMs), status);
    if (traffic.queue.active > 0) traffic.dispatchQueue(this.#random, now);
  }

  /** Answers a request that is not routed at all (a bad target or head) with its error. */
  #refuse(res: ServerResponse, error: { httpStatus: number; code: string; message: string }): void {
    if (this.#drain.draining) res.shouldKeepAlive = false;
    res.writeHead(error.httpStatus, { 'content-type': 'text/plain; charset=utf-8', 'x-dormant-error': error.code });
    res.end(error.message);
  }

  #notAnApp(req: IncomingMessage, res: ServerResponse, hostname: string, path: string): void {
    // Draining: the answer says Connection: close, so the client's next request opens a connection to another activator (proxied answers decide it as they start).
    if (this.#drain.draining) res.shouldKeepAlive = false;
    const apps = this.#routes.apps();
    if (this.#routes.isRoot(hostname) && path === '/') {
      const page = appList(apps, this.#routes.domain, this.#linkPort(), req.headers.accept ?? '');
      res.writeHead(200, { 'content-type': page.contentType });
      res.end(page.body);
      return;
    }
    this.#refuse(res, activatorErrors.unknownHost({ host: hostname, apps, domain: this.#routes.domain }));
  }
}
