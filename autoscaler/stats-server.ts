/**
 * The autoscaler's end of the activators' reports when they run in other processes
 * (Kubernetes): POST /stats with a JSON array of load reports, POST /poke/APP for a
 * wake-up. Handed straight to the scaling loop, acting or standing by.
 */
import { createServer, type Server } from 'node:http';
import type { LoadReport } from './scaling-loop.js';

export interface StatsReceiver {
  report(stats: readonly LoadReport[]): void;
  poke(app: string): void;
}

const maxBodyBytes = 1024 * 1024;

function isReport(value: unknown): value is LoadReport {
  const r = value as Partial<LoadReport> | null;
  return typeof r?.app === 'string' && typeof r.averageConcurrency === 'number' && typeof r.requests === 'number' && typeof r.windowMs === 'number';
}

export function serveStats(receiver: StatsReceiver, host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    const poke = /^\/poke\/([^/?]+)$/.exec(request.url ?? '');
    if (request.method !== 'POST' || (!poke && request.url !== '/stats')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('POST /stats or /poke/APP\n');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) request.destroy();
      else chunks.push(chunk);
    });
    request.on('end', () => {
      if (poke) {
        receiver.poke(decodeURIComponent(poke[1] ?? ''));
        response.writeHead(204).end();
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        response.writeHead(400, { 'content-type': 'text/plain' }).end('the body is not JSON\n');
        return;
      }
      if (!Array.isArray(parsed) || !parsed.every(isReport)) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end('expected an array of {app, averageConcurrency, requests, windowMs}\n');
        return;
      }
      receiver.report(parsed);
      response.writeHead(204).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
