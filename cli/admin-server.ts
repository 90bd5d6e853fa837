/**
 * The metrics port of `dormant up`: open to probes and scrapers (/metrics, /healthz,
 * /readyz), the admin token for everything else (/trace/APP). A request handler that
 * throws is answered and logged; it never ends Dormant.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import type { Activator } from '../activator/index.js';
import { requestLogHeader } from '../autoscaler/index.js';
import { type ErrorLog, guardRequests } from '../errors/index.js';
import type { ResourceStore } from '../runtime/index.js';
import { hasAdminToken } from './admin-token.js';
import { cliErrors } from './errors.js';

export interface AdminServerOptions {
  readonly registry: Registry;
  readonly host: string;
  readonly port: number;
  /** Whether every component of this process listens (/readyz). */
  readonly ready: () => boolean;
  /** The admin token (`Authorization: Bearer TOKEN`), and the file it was written to, for the 401 answer. */
  readonly token: string;
  readonly tokenFile: string;
  readonly trace: (app: string, request: IncomingMessage, response: ServerResponse) => void | Promise<void>;
  /** `POST /apps/APP/releases`: a config change or rollback (release-endpoint.ts). */
  readonly release?: (app: string, request: IncomingMessage, response: ServerResponse) => void | Promise<void>;
  /** `POST /apps/APP/run` upgraded: `dormant run` (run-endpoint.ts). */
  readonly run?: (app: string, request: IncomingMessage, socket: Duplex, head: Buffer) => void | Promise<void>;
  /** `GET /apps/APP/replicas`: what `dormant ps` shows (replicas-endpoint.ts). */
  readonly replicas?: (app: string, request: IncomingMessage, response: ServerResponse) => void | Promise<void>;
  readonly log: ErrorLog;
}

const plain = { 'content-type': 'text/plain' };
/** The longest path quoted back in an answer. */
const maxQuotedPath = 200;

/** Prometheus scrapes and kubelet probes call these without credentials. */
const openPaths = new Set(['/metrics', '/healthz', '/readyz']);

/** `GET /trace/APP`: the app's requests as a CSV request log, streamed until the client leaves. */
export async function serveTrace(activator: Activator | undefined, store: ResourceStore, app: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (!activator) {
    response.writeHead(503, plain).end('the activator is not running yet\n');
    return;
  }
  if (!(await store.find('App', app))) {
    response.writeHead(404, plain).end(`no app named "${app}"; dormant apps lists them\n`);
    return;
  }
  response.writeHead(200, { 'content-type': 'text/csv', 'cache-control': 'no-store' });
  response.write(`${requestLogHeader}\n`);
  const stop = activator.traceRequests(app, (arrivedMs, durationMs, status) => {
    response.write(`${(arrivedMs / 1000).toFixed(3)},${(durationMs / 1000).toFixed(3)},${status}\n`);
  });
  // The client may have left while the store answered.
  if (request.socket.destroyed) stop();
  else request.socket.once('close', stop);
}

async function handle(options: AdminServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = request.url ?? '';
  const path = url.split('?', 1)[0] ?? '';
  if (openPaths.has(path)) {
    if (path === '/metrics') {
      const text = await options.registry.metrics();
      response.writeHead(200, { 'content-type': options.registry.contentType }).end(text);
    } else if (path === '/healthz') {
      response.writeHead(200, plain).end('ok\n');
    } else if (options.ready()) {
      // Ready once every component of this process listens, and no longer while it stops (a readiness probe's answer).
      response.writeHead(200, plain).end('ready\n');
    } else {
      response.writeHead(503, plain).end('starting or stopping\n');
    }
    return;
  }
  if (!hasAdminToken(request.headers.authorization, options.token)) {
    const error = cliErrors.adminUnauthorized({ tokenFile: options.tokenFile });
    response.writeHead(error.httpStatus, { ...plain, 'www-authenticate': 'Bearer realm="dormant"', 'x-dormant-error': error.code }).end(`error [${error.code}]: ${error.message}\n`);
    return;
  }
  const traced = /^\/trace\/([^/]+)$/.exec(path);
  const released = /^\/apps\/([^/]+)\/releases$/.exec(path);
  const listed = /^\/apps\/([^/]+)\/replicas$/.exec(path);
  const named = traced ?? released ?? listed;
  if (!named || (released && !options.release) || (listed && !options.replicas)) {
    response.writeHead(404, plain).end('not found: try /metrics, /healthz, /readyz, /trace/APP, POST /apps/APP/releases or /apps/APP/replicas\n');
    return;
  }
  let app: string;
  try {
    app = decodeURIComponent(named[1] ?? '');
  } catch {
    const error = cliErrors.adminBadPath({ path: JSON.stringify(path.length > maxQuotedPath ? `${path.slice(0, maxQuotedPath)}...` : path) });
    response.writeHead(error.httpStatus, { ...plain, 'x-dormant-error': error.code }).end(`error [${error.code}]: ${error.message}\n`);
    return;
  }
  if (released) await options.release?.(app, request, response);
  else if (listed) await options.replicas?.(app, request, response);
  else await options.trace(app, request, response);
}

/** An upgraded request: `dormant run`'s, with the admin token; anything else is refused and closed. */
function upgrade(options: AdminServerOptions, request: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => undefined);
  const refuse = (status: string, message: string) => socket.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(message)}\r\n\r\n${message}`);
  if (!hasAdminToken(request.headers.authorization, options.token)) {
    const error = cliErrors.adminUnauthorized({ tokenFile: options.tokenFile });
    refuse('401 Unauthorized', `error [${error.code}]: ${error.message}\n`);
    return;
  }
  const path = (request.url ?? '').split('?', 1)[0] ?? '';
  const ran = /^\/apps\/([^/]+)\/run$/.exec(path);
  let app: string | undefined;
  try {
    app = ran ? decodeURIComponent(ran[1] ?? '') : undefined;
  } catch {
    app = undefined;
  }
  if (app === undefined || !options.run) {
    refuse('404 Not Found', 'not found: only POST /apps/APP/run is upgraded here\n');
    return;
  }
  Promise.resolve(options.run(app, request, socket, head)).catch((error: unknown) => {
    options.log.error({ err: error }, 'dormant run failed');
    socket.destroy();
  });
}

export async function startAdminServer(options: AdminServerOptions): Promise<Server> {
  const server = createServer(guardRequests({ server: 'metrics server', log: options.log }, (request, response) => handle(options, request, response)));
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => upgrade(options, request, socket, head));
  server.listen(options.port, options.host);
  try {
    await once(server, 'listening');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw cliErrors.portInUse({ port: options.port, flag: '--metrics-port', purpose: 'metrics' }, { cause: error });
    throw error;
  }
  return server;
}
