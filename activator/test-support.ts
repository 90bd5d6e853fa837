// Test helpers for the activator: replicas are real HTTP servers on loopback; the endpoint
// source is a tiny stand-in for the runtime that the test moves by hand.
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request, type RequestListener, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { apiVersion } from '../crds/index.js';
import { type Endpoint, LocalStore } from '../runtime/index.js';
import { Activator, type ActivatorOptions, type AppStats, type EndpointSource, type StatsSink } from './activator.js';

export class ManualEndpoints implements EndpointSource {
  readonly #current = new Map<string, readonly Endpoint[]>();
  readonly #listeners = new Map<string, Set<(endpoints: readonly Endpoint[]) => void>>();
  readonly drainedCalls: string[] = [];
  /** Apps the stand-in runtime has no revision for. */
  readonly undeployed = new Set<string>();

  deployed(app: string): boolean {
    return !this.undeployed.has(app);
  }

  set(app: string, endpoints: readonly Endpoint[]): void {
    this.#current.set(app, endpoints);
    for (const listener of this.#listeners.get(app) ?? []) listener(endpoints);
  }

  async *endpoints(app: string, signal?: AbortSignal): AsyncIterable<readonly Endpoint[]> {
    const pending: (readonly Endpoint[])[] = [this.#current.get(app) ?? []];
    let wake: (() => void) | undefined;
    const listener = (endpoints: readonly Endpoint[]) => {
      pending.push(endpoints);
      wake?.();
    };
    const listeners = this.#listeners.get(app) ?? new Set();
    this.#listeners.set(app, listeners);
    listeners.add(listener);
    signal?.addEventListener('abort', () => wake?.());
    try {
      while (!signal?.aborted) {
        const next = pending.shift();
        if (next) yield next;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      listeners.delete(listener);
    }
  }

  drained(app: string, endpointId: string): void {
    this.drainedCalls.push(`${app}/${endpointId}`);
  }
}

export class RecordingSink implements StatsSink {
  readonly pokes: string[] = [];
  readonly reports: AppStats[][] = [];
  onPoke: ((app: string) => void) | undefined;

  report(stats: readonly AppStats[]): void {
    this.reports.push([...stats]);
  }

  poke(app: string): void {
    this.pokes.push(app);
    this.onPoke?.(app);
  }
}

export async function replica(handler: RequestListener): Promise<{ server: Server; address: string; requests: () => number }> {
  let count = 0;
  const server = createServer((req, res) => {
    count++;
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { server, address: `127.0.0.1:${port}`, requests: () => count };
}

export const endpoint = (id: string, address: string, state: Partial<Pick<Endpoint, 'ready' | 'draining'>> = {}): Endpoint => ({
  id,
  address,
  ready: state.ready ?? true,
  draining: state.draining ?? false,
});

export interface Harness {
  readonly port: number;
  readonly store: LocalStore;
  readonly endpoints: ManualEndpoints;
  readonly sink: RecordingSink;
  readonly registry: Registry;
  readonly activator: Activator;
  readonly close: () => Promise<void>;
}

/** A store with the given apps (name -> spec) and an activator over it. */
export async function harness(
  apps: Record<string, Record<string, unknown>>,
  options: Partial<Pick<ActivatorOptions, 'keepAliveTimeoutMs' | 'headersTimeoutMs' | 'maxHeaderCount'>> = {},
): Promise<Harness> {
  const stateDir = await mkdtemp(join(tmpdir(), 'dormant-activator-'));
  const store = await LocalStore.open({ stateDir });
  for (const [name, spec] of Object.entries(apps)) await store.create({ apiVersion, kind: 'App', metadata: { name }, spec });
  const endpoints = new ManualEndpoints();
  const sink = new RecordingSink();
  const registry = new Registry();
  const activator = new Activator({ store, endpoints, stats: sink, log: pino({ level: 'silent' }), registry, domain: 'localhost', port: 0, ...options });
  const port = await activator.start();
  return {
    port,
    store,
    endpoints,
    sink,
    registry,
    activator,
    close: async () => {
      await activator.close();
      await store.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Lists for what a test file opens; one `after` hook closes the harnesses, then the replica servers. */
export function closeAfterAll(): { readonly harnesses: Harness[]; readonly servers: Server[] } {
  const harnesses: Harness[] = [];
  const servers: Server[] = [];
  after(async () => {
    for (const h of harnesses) await h.close();
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });
  return { harnesses, servers };
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One request through the activator with the given Host, on its own connection. */
export function call(port: number, host: string, path = '/', options: { method?: string; headers?: Record<string, string>; body?: string; signal?: AbortSignal } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host, ...options.headers }, agent: false, ...(options.signal ? { signal: options.signal } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}
