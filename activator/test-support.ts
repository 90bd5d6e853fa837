// Test helpers for the activator: replicas are real HTTP servers on loopback; the endpoint
// source is a tiny stand-in for the runtime that the test moves by hand.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request, type RequestListener, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Socket } from 'node:net';
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
  /** Per app, the snapshots set and not yet applied, oldest first, each with what to resolve once it is. */
  readonly #unapplied = new Map<string, { readonly endpoints: readonly Endpoint[]; readonly applied: () => void }[]>();
  readonly drainedCalls: string[] = [];
  /** Apps the stand-in runtime has no revision for. */
  readonly undeployed = new Set<string>();

  deployed(app: string): boolean {
    return !this.undeployed.has(app);
  }

  /**
   * The app's endpoints are now these. Resolves once the activator has applied them (or a
   * later set): its watch took this snapshot and came back for the next, which it does only
   * after routing by it. An app the activator does not know yet is applied when it learns of it.
   */
  set(app: string, endpoints: readonly Endpoint[]): Promise<void> {
    const applied = new Promise<void>((resolve) => {
      const unapplied = this.#unapplied.get(app) ?? [];
      unapplied.push({ endpoints, applied: resolve });
      this.#unapplied.set(app, unapplied);
    });
    this.#current.set(app, endpoints);
    for (const listener of this.#listeners.get(app) ?? []) listener(endpoints);
    return applied;
  }

  /** A subscriber came back after taking endpoints: that snapshot and every older one are applied. */
  #applied(app: string, endpoints: readonly Endpoint[]): void {
    const unapplied = this.#unapplied.get(app) ?? [];
    const at = unapplied.findIndex((u) => u.endpoints === endpoints);
    for (const { applied } of unapplied.splice(0, at + 1)) applied();
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
        if (next) {
          yield next;
          this.#applied(app, next);
        } else await new Promise<void>((resolve) => (wake = resolve));
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
  /** When each poke came (performance.now()), as pokes. */
  readonly pokedAtMs: number[] = [];
  readonly reports: AppStats[][] = [];
  /** The rounds, every second; empty ones included. */
  readonly rounds: AppStats[][] = [];
  readonly #pokeWaiters: (() => void)[] = [];
  readonly #reportWaiters: ((stats: readonly AppStats[]) => void)[] = [];
  readonly #roundWaiters: ((stats: readonly AppStats[]) => void)[] = [];

  round(stats: readonly AppStats[]): void {
    this.rounds.push([...stats]);
    for (let waiter = this.#roundWaiters.shift(); waiter; waiter = this.#roundWaiters.shift()) waiter(stats);
  }

  report(stats: readonly AppStats[]): void {
    this.reports.push([...stats]);
    for (let waiter = this.#reportWaiters.shift(); waiter; waiter = this.#reportWaiters.shift()) waiter(stats);
  }

  poke(app: string): void {
    this.pokes.push(app);
    this.pokedAtMs.push(performance.now());
    for (let waiter = this.#pokeWaiters.shift(); waiter; waiter = this.#pokeWaiters.shift()) waiter();
  }

  /** Resolves once count pokes have come in all. */
  async poked(count: number): Promise<void> {
    while (this.pokes.length < count) await new Promise<void>((resolve) => this.#pokeWaiters.push(resolve));
  }

  /** The next round, from now on. */
  nextRound(): Promise<readonly AppStats[]> {
    return new Promise((resolve) => this.#roundWaiters.push(resolve));
  }

  /** The next report out of round, from now on. */
  nextReport(): Promise<readonly AppStats[]> {
    return new Promise((resolve) => this.#reportWaiters.push(resolve));
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

/**
 * Resolves once count requests have reached the HTTP server listening on port, counted from
 * now. Node publishes `http.server.request.start` just before it emits `request`, in the same
 * turn, and the activator's request handler is synchronous: by the time this resolves each
 * of them has been routed, held or sent on. Upgrades are not counted (Node publishes none).
 */
export function arrivals(port: number, count: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const onStart = (message: unknown) => {
      const { server } = message as { server: Server };
      if ((server.address() as AddressInfo | null)?.port !== port || ++seen < count) return;
      unsubscribe('http.server.request.start', onStart);
      resolve();
    };
    subscribe('http.server.request.start', onStart);
  });
}

/**
 * Resolves at the next failed connect (of the activator's upstream client, undici) to address:
 * undici publishes `undici:client:connectError` and, in the same turn, fails the requests
 * waiting for that connection, so by then the activator has seen the failure.
 */
export function connectFailed(address: string): Promise<void> {
  return new Promise((resolve) => {
    const onError = (message: unknown) => {
      const { connectParams } = message as { connectParams: { hostname: string; port: string | number } };
      if (`${connectParams.hostname}:${connectParams.port}` !== address) return;
      unsubscribe('undici:client:connectError', onError);
      resolve();
    };
    subscribe('undici:client:connectError', onError);
  });
}

/**
 * Resolves once done() holds, checked now and after each chunk socket receives (its
 * listeners added before this one have run by then); rejects if the socket closes first.
 */
export function dataUntil(socket: Socket, done: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = () => {
      if (!done()) return;
      socket.off('data', onData).off('close', onClose);
      resolve();
    };
    const onClose = () => {
      socket.off('data', onData);
      reject(new Error('the connection closed before the data came'));
    };
    if (done()) {
      resolve();
      return;
    }
    socket.on('data', onData).on('close', onClose);
  });
}

/** For the suites that wait on events: one that never comes fails the suite after this, rather than hanging the run. */
export const eventWaitBound = { timeout: 120_000 };
