/**
 * The autoscaler's end of the activators' reports when they run in other processes
 * (Kubernetes): POST /stats/round with a JSON array of load reports each second (an app
 * left out had none), POST /stats with one out of round, POST /poke/APP for a wake-up.
 * Handed straight to the scaling loop, acting or standing by.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type ErrorLog, guardRequests } from '../errors/index.js';
import type { LoadReport } from './scaling-loop.js';

export interface StatsReceiver {
  round(stats: readonly LoadReport[]): void;
  report(stats: readonly LoadReport[]): void;
  poke(app: string): void;
}

export interface StatsServerOptions {
  readonly receiver: StatsReceiver;
  readonly host: string;
  readonly port: number;
  /** Where a request that fails inside is logged (it is answered 500; the server keeps running). */
  readonly log: ErrorLog;
}

const maxBodyBytes = 1024 * 1024;

function isReport(value: unknown): value is LoadReport {
  const r = value as Partial<LoadReport> | null;
  return typeof r?.app === 'string' && typeof r.averageConcurrency === 'number' && typeof r.requests === 'number' && typeof r.windowMs === 'number';
}

const plain = { 'content-type': 'text/plain' };

/** The app name of /poke/APP, or undefined when its percent-escapes are malformed. */
function decodedApp(escaped: string): string | undefined {
  try {
    return decodeURIComponent(escaped);
  } catch {
    return undefined;
  }
}

async function handle(receiver: StatsReceiver, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const poke = /^\/poke\/([^/?]+)$/.exec(request.url ?? '');
  const round = request.url === '/stats/round';
  if (request.method !== 'POST' || (!poke && !round && request.url !== '/stats')) {
    response.writeHead(404, plain).end('POST /stats/round, /stats or /poke/APP\n');
    return;
  }
  // The body is read inside the handler, so that whatever fails while reading or handing it on is the guard's to answer.
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBodyBytes) {
      response.writeHead(413, { ...plain, connection: 'close' }).end(`a report body is at most ${maxBodyBytes} bytes\n`);
      return;
    }
    chunks.push(chunk);
  }
  if (poke) {
    const app = decodedApp(poke[1] ?? '');
    if (app === undefined) {
      response.writeHead(400, plain).end('the app name in /poke/APP is not valid percent-encoding; encode it with encodeURIComponent\n');
      return;
    }
    receiver.poke(app);
    response.writeHead(204).end();
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    response.writeHead(400, plain).end('the body is not JSON\n');
    return;
  }
  if (!Array.isArray(parsed) || !parsed.every(isReport)) {
    response.writeHead(400, plain).end('expected an array of {app, averageConcurrency, requests, windowMs}\n');
    return;
  }
  if (round) receiver.round(parsed);
  else receiver.report(parsed);
  response.writeHead(204).end();
}

export function serveStats(options: StatsServerOptions): Promise<Server> {
  const server = createServer(guardRequests({ server: 'autoscaler stats server', log: options.log }, (request, response) => handle(options.receiver, request, response)));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve(server));
  });
}
