import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { AppTraffic, Upstream, Waiter } from './app-traffic.js';
import { dispatchAsterisk } from './asterisk-request.js';
import { activatorErrors } from './errors.js';

/** Headers that describe one connection, not the message: never forwarded (RFC 9110 7.6.1). */
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
/** Node already answered the client's `Expect: 100-continue`; undici refuses to send it on. */
const notForwarded = new Set(['expect']);
/** Errors meaning the replica could not be reached at all: route around it for a while. */
const unreachableCodes = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT']);
const retriedCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTCONN']);
const idempotent = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
const maxAttempts = 3;

/** What a request needs from the activator around it. */
export interface ProxyContext {
  readonly clock: () => number;
  readonly random: () => number;
  /** A request left the app (answered, failed or abandoned). */
  readonly finished: (request: ProxyRequest, status: number) => void;
  /** No replica could take it: queue it (returns false when the queue is full). */
  readonly hold: (request: ProxyRequest) => boolean;
  /** The activator is draining: answers close their connection (decided when the answer starts, so requests in flight when the drain began are told too). */
  readonly draining: () => boolean;
  /** The upstream client refused the request as built: a gap in the activator's own checks, to be logged. */
  readonly refused: (request: ProxyRequest, error: Error) => void;
}

/**
 * Headers for the replica: X-Forwarded-* and Forwarded first, then the client's minus
 * hop-by-hop ones and its Host lines. Ours come first so that an app keeping only its first
 * N headers (Node keeps 1,000) still gets them. `host` is the host the request was routed
 * by (the Host header, or the authority of an absolute-form target), already checked to be
 * `name[:port]`, so it cannot break out of the quoted Forwarded value.
 */
export function upstreamHeaders(req: IncomingMessage, host: string): string[] {
  const raw = req.rawHeaders;
  const connectionListed = req.headers.connection?.toLowerCase().split(',').map((s) => s.trim()) ?? [];
  const client = req.socket.remoteAddress ?? '';
  // Slots 3 and 9 are filled once the client's own X-Forwarded-For and Forwarded are read.
  // Over the HTTPS listener, the socket is a TLSSocket; the app sees https as the scheme it was called with.
  const proto = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  const out: string[] = ['host', host, 'x-forwarded-for', '', 'x-forwarded-proto', proto, 'x-forwarded-host', host, 'forwarded', ''];
  let forwardedFor = '';
  let forwarded = '';
  for (let i = 0, length = raw.length; i < length; i += 2) {
    const name = raw[i] ?? '';
    const lower = name.toLowerCase();
    if (hopByHop.has(lower) || notForwarded.has(lower) || connectionListed.includes(lower)) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor ? `${forwardedFor}, ${raw[i + 1]}` : (raw[i + 1] ?? '');
      continue;
    }
    if (lower === 'forwarded') {
      forwarded = raw[i + 1] ?? '';
      continue;
    }
    if (lower === 'host' || lower === 'x-forwarded-proto' || lower === 'x-forwarded-host') continue;
    out.push(name, raw[i + 1] ?? '');
  }
  const clientNode = client.includes(':') ? `"[${client}]"` : client;
  out[3] = forwardedFor ? `${forwardedFor}, ${client}` : client;
  out[9] = `${forwarded ? `${forwarded}, ` : ''}for=${clientNode};host="${host}";proto=${proto}`;
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders, heldMs: number): Record<string, string | string[]> {
  const connectionListed = typeof headers.connection === 'string' ? headers.connection.toLowerCase().split(',').map((s) => s.trim()) : [];
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || hopByHop.has(name) || connectionListed.includes(name)) continue;
    out[name] = value;
  }
  if (heldMs >= 0) out['x-dormant-cold-start'] = String(Math.round(heldMs));
  return out;
}

/**
 * The request body, read from the client only once the replica's connection asks for it:
 * if connecting fails, nothing was consumed and the request can go to another replica.
 */
class LazyBody extends Readable {
  readonly #source: IncomingMessage;
  started = false;
  readonly #onData = (chunk: Buffer) => {
    if (!this.push(chunk)) this.#source.pause();
  };
  readonly #onEnd = () => this.push(null);
  readonly #onError = (error: Error) => this.destroy(error);

  constructor(source: IncomingMessage) {
    super();
    this.#source = source;
  }

  override _read(): void {
    if (!this.started) {
      this.started = true;
      this.#source.on('data', this.#onData).on('end', this.#onEnd).on('error', this.#onError);
    }
    this.#source.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#source.off('data', this.#onData).off('end', this.#onEnd).off('error', this.#onError);
    callback(error);
  }
}

/** One client request on its way through the activator; the undici handler of its upstream call. */
export class ProxyRequest implements Dispatcher.DispatchHandler, Waiter {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly traffic: AppTraffic;
  readonly startedAtMs: number;
  /** The target sent upstream: the client's, or the origin form of an absolute-form one (set by the activator). */
  path: string;
  /** The host it was routed by and is sent with: the Host header, or the authority of an absolute-form target. */
  host: string;
  readonly #context: ProxyContext;
  readonly #hasBody: boolean;
  upstream: Upstream | undefined = undefined;
  /** ms spent waiting for a wake-up, or -1 when it did not wait for one. */
  heldMs = -1;
  // Waiter
  cancelled = false;
  queued = false;
  /** Counted by the app's concurrency meter (false: answered before it was, as for a stopped app), so its end is counted too. */
  metered = true;
  /** When first held; -1 while never held. */
  enqueuedAtMs = -1;
  waking = false;
  #controller: Dispatcher.DispatchController | undefined = undefined;
  #body: LazyBody | undefined = undefined;
  #responded = false;
  #attempts = 0;
  #done = false;
  #status = 0;
  readonly #resume = () => this.#controller?.resume();

  constructor(req: IncomingMessage, res: ServerResponse, traffic: AppTraffic, context: ProxyContext) {
    this.req = req;
    this.res = res;
    this.traffic = traffic;
    this.#context = context;
    this.startedAtMs = context.clock();
    this.path = req.url ?? '/';
    this.host = req.headers.host ?? '';
    this.#hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
    res.once('close', this.#onClientClose);
  }

  readonly #onClientClose = () => {
    if (this.#done) return;
    if (this.upstream === undefined) {
      // Still waiting (or between attempts): leave the queue; no upstream request is made.
      this.traffic.queue.cancel(this);
      this.#finish(499);
    } else {
      this.#controller?.abort(new Error('client closed the connection'));
    }
  };

  /** Sends the request to upstream (which already counts it in flight). */
  start(upstream: Upstream): void {
    if (this.#done) {
      this.traffic.release(upstream);
      return;
    }
    if (this.enqueuedAtMs >= 0 && this.waking) this.heldMs = this.#context.clock() - this.enqueuedAtMs;
    this.upstream = upstream;
    this.#attempts++;
    this.#body = this.#hasBody ? new LazyBody(this.req) : undefined;
    const options = { path: this.path, method: this.req.method ?? 'GET', headers: upstreamHeaders(this.req, this.host), body: this.#body ?? null };
    // undici sends no asterisk-form target (OPTIONS *): that rare request takes its own connection.
    if (this.path === '*') dispatchAsterisk(upstream.address, options, this);
    else upstream.pool.dispatch(options, this);
  }

  expire(waitedMs: number): void {
    this.#fail(activatorErrors.holdTimeout({ app: this.traffic.name, waitedMs, waking: this.waking }), {});
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#done || this.res.destroyed) controller.abort(new Error('client closed the connection'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    if (statusCode < 200) {
      // Informational: pass Early Hints on; the final response follows.
      if (statusCode === 103) this.res.writeEarlyHints(responseHeaders(headers, -1));
      return;
    }
    this.#responded = true;
    this.#status = statusCode;
    if (this.#context.draining()) this.res.shouldKeepAlive = false;
    this.res.writeHead(statusCode, statusMessage ?? '', responseHeaders(headers, this.heldMs));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', this.#resume);
    }
  }

  onResponseEnd(): void {
    this.res.end();
    this.#finish(this.#status);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    const upstream = this.upstream;
    if (this.#done || upstream === undefined) return;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    const bodyUntouched = this.#body === undefined || !this.#body.started;
    const replayable = code === 'ECONNREFUSED' || code === 'UND_ERR_CONNECT_TIMEOUT' || (idempotent.has(this.req.method ?? '') && bodyUntouched);
    if (!this.#responded && !this.res.destroyed && retriedCodes.has(code) && replayable && bodyUntouched && this.#attempts < maxAttempts) {
      // The replica went away between "ready" and our connect: try another, or wait again.
      const now = this.#context.clock();
      // Unreachable: route around it. A reset of a reused keep-alive connection says
      // nothing about the replica: try again at once, on it or another.
      const unreachable = unreachableCodes.has(code);
      if (unreachable) this.traffic.markBroken(upstream, now);
      this.traffic.release(upstream);
      this.upstream = undefined;
      this.#body?.destroy();
      const other = this.traffic.acquire(this.#context.random, now, unreachable ? upstream : undefined);
      if (other) this.start(other);
      else if (!this.#context.hold(this)) this.#fail(activatorErrors.upstreamFailed({ app: this.traffic.name, reason: `${code} from every replica` }), {});
      return;
    }
    if (this.#responded || this.res.headersSent) {
      this.res.destroy(error);
      this.#finish(this.#status || 502);
      return;
    }
    if (this.res.destroyed) {
      this.#finish(499);
      return;
    }
    if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') this.#context.refused(this, error);
    this.#fail(activatorErrors.upstreamFailed({ app: this.traffic.name, reason: code || error.message }), {});
  }

  /** Answers with an activator error instead of the app's response. */
  #fail(error: { httpStatus: number; message: string; code: string }, extra: Record<string, string>): void {
    if (!this.res.headersSent && !this.res.destroyed) {
      if (this.#context.draining()) this.res.shouldKeepAlive = false;
      this.res.writeHead(error.httpStatus, { 'content-type': 'text/plain; charset=utf-8', 'x-dormant-error': error.code, ...extra });
      this.res.end(error.message);
    }
    this.#finish(error.httpStatus);
  }

  /** Answers 503 at once: the app's queue is full. */
  rejectQueueFull(): void {
    this.#fail(activatorErrors.queueFull({ app: this.traffic.name, queueDepth: this.traffic.policy.queueDepth }), { 'retry-after': '1' });
  }

  /** Answers a browser that wakes the app with the waiting page (503, not to be cached or indexed), which waits for it itself. */
  answerWaitingPage(): void {
    if (!this.res.headersSent && !this.res.destroyed) {
      if (this.#context.draining()) this.res.shouldKeepAlive = false;
      this.res.writeHead(503, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'retry-after': '1', 'x-dormant-waiting-page': '1' });
      this.res.end(this.traffic.waitingPage);
    }
    this.#finish(503);
  }

  /** Answers 503 at once: its owner stopped the app. */
  stopped(): void {
    this.rejectStopped();
  }

  rejectStopped(): void {
    this.#fail(activatorErrors.stopped({ app: this.traffic.name }), {});
  }

  /** Answers 503 at once: nothing is deployed, so holding would only end in a timeout. */
  rejectNotDeployed(): void {
    this.#fail(activatorErrors.notDeployed({ app: this.traffic.name }), {});
  }

  #finish(status: number): void {
    if (this.#done) return;
    this.#done = true;
    this.res.off('drain', this.#resume);
    if (this.upstream) this.traffic.release(this.upstream);
    this.#context.finished(this, status);
  }
}
