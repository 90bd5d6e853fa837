// Requests that leave HTTP: upgrades (WebSocket and others), which become byte tunnels to a
// replica, and CONNECT, which is refused. Both arrive as raw sockets the HTTP server no
// longer tracks, so the tunnels keep them and close() cuts them.
import { type IncomingMessage, request as httpRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { guardErrors } from '../errors/index.js';
import type { ActiveApps } from './active-apps.js';
import type { AppTraffic, Upstream } from './app-traffic.js';
import { activatorErrors } from './errors.js';
import { upstreamHeaders } from './proxy-request.js';
import { headProblem, originForm } from './request-head.js';
import { type HeldRequest, headError } from './request-path.js';
import { RouteTable } from './route-table.js';
import { rawAnswer } from './socket-answers.js';

/** Response headers that describe the connection to the app, not the answer: not relayed to an upgrade's client. */
const connectionHeaders = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

export interface TunnelsOptions {
  readonly routes: RouteTable;
  /** The apps' traffic by name, kept by the activator as it follows the store. */
  readonly traffic: ReadonlyMap<string, AppTraffic>;
  /** The apps the activator's tick visits: a tunnel lists its app there as it starts. */
  readonly active: ActiveApps;
  /** Queues a tunnel no replica can take now (the request path's hold); false when the queue is full. */
  readonly hold: (tunnel: HeldRequest) => boolean;
  readonly log: Logger;
  readonly clock: () => number;
  readonly random: () => number;
  readonly maxHeaderCount: number;
  /** A non-upgraded answer's connection is cut this long after it ends, should the client keep it open. */
  readonly keepAliveTimeoutMs: number;
}

interface TunnelEnds {
  readonly req: IncomingMessage;
  readonly client: Socket;
  readonly head: Buffer;
  readonly traffic: AppTraffic;
  readonly upstream: Upstream;
  readonly host: string;
  readonly path: string;
}

/**
 * WebSocket and other upgrades: the handshake goes to a replica, and only its 101 turns the
 * connection into a byte tunnel, counted in flight while open. Any other answer is relayed
 * and the connection closed, so nothing the client sent after its request reaches the app
 * unless the app switched protocols.
 */
export class Tunnels {
  readonly #options: TunnelsOptions;
  /** Upgraded connections: the HTTP server no longer tracks them, so closeAll() must. */
  readonly #open = new Set<Socket>();

  constructor(options: TunnelsOptions) {
    this.#options = options;
  }

  /** The HTTP server's `upgrade` event. */
  onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.#open.add(socket);
    socket.once('close', () => this.#open.delete(socket));
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
    const problem = headProblem(req.rawHeaders, host, this.#options.maxHeaderCount);
    if (problem !== undefined) {
      socket.end(rawAnswer(headError(problem, host ?? '', this.#options.maxHeaderCount)));
      return;
    }
    // Node hands over the socket right after the head: a body would be read as the new protocol's bytes.
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
      socket.end(rawAnswer(activatorErrors.badUpgrade({})));
      return;
    }
    const app = this.#options.routes.resolve(RouteTable.hostname(host));
    const traffic = app === undefined ? undefined : this.#options.traffic.get(app);
    if (!traffic) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    if (traffic.policy.stopped) {
      socket.end(rawAnswer(activatorErrors.stopped({ app: traffic.name })));
      return;
    }
    const { clock, random } = this.#options;
    const routedHost = host ?? '';
    const tunnel: HeldRequest = {
      traffic,
      cancelled: false,
      queued: false,
      enqueuedAtMs: -1,
      waking: false,
      start: (upstream: Upstream) => this.#connect({ req, client: socket, head, traffic, upstream, host: routedHost, path }),
      expire: () => socket.end('HTTP/1.1 504 Gateway Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n'),
      stopped: () => socket.end(rawAnswer(activatorErrors.stopped({ app: traffic.name }))),
    };
    socket.once('close', () => traffic.queue.cancel(tunnel));
    this.#options.active.started(traffic, clock());
    socket.once('close', () => traffic.meter.finished(clock()));
    const upstream = traffic.acquire(random, clock());
    if (upstream) tunnel.start(upstream);
    else if (!this.#options.hold(tunnel)) socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n');
  }

  /** The HTTP server's `connect` event: a forward proxy's tunnel is not served; say so, where Node would drop the connection without a word. */
  onConnect(req: IncomingMessage, socket: Duplex): void {
    socket.end(rawAnswer(activatorErrors.badTarget({ method: 'CONNECT', target: req.url ?? '' })));
  }

  /** An upgrade or CONNECT whose handling threw: a log line and a 500 on the raw socket, as answerThrown does for a request. */
  failed(error: unknown, req: IncomingMessage, socket: Duplex): void {
    const target = req.url ?? '';
    this.#options.log.error({ err: error, server: 'activator', method: req.method, url: target.length > 512 ? `${target.slice(0, 512)}...` : target }, 'request handler failed');
    if (socket.writable) socket.end(rawAnswer(guardErrors.handlerFailed({ server: 'activator' })));
    else socket.destroy();
  }

  /** Cuts every upgraded connection (the activator is closing). */
  closeAll(): void {
    for (const socket of this.#open) socket.destroy();
  }

  /** Sends the handshake to upstream; a 101 joins the sockets, any other answer is relayed and the connection closed. */
  #connect(o: TunnelEnds): void {
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
      res.once('end', () => client.setTimeout(this.#options.keepAliveTimeoutMs, release));
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
}
