/**
 * `GET /apps/APP/replicas` on dormant up's metrics port (admin token): the app's replicas
 * as the runtime and the activator see them now, for `dormant ps`.
 */
import type { ServerResponse } from 'node:http';
import type { Activator, ColdStartSummary } from '../activator/index.js';
import { isDormantError } from '../errors/index.js';
import { releaseNumber } from '../gitd/index.js';
import type { ReplicaReport, ResourceStore } from '../runtime/index.js';

/** One replica as `dormant ps` prints it. */
export interface ReplicaRow {
  readonly id: string;
  readonly revision: string;
  readonly release: string;
  readonly state: string;
  readonly uptimeSeconds: number;
  readonly inFlight: number;
  readonly memoryBytes: number | null;
  readonly cpuSeconds: number | null;
}

/** The runtime's report and the activator's counts as rows. Pure. */
export function replicaRows(replicas: readonly ReplicaReport[], inFlight: ReadonlyMap<string, number>): ReplicaRow[] {
  return replicas.map((replica) => ({
    id: replica.id,
    revision: replica.revision,
    release: `v${releaseNumber(replica.revision)}`,
    state: replica.phase,
    uptimeSeconds: Math.round(replica.uptimeMs / 1000),
    inFlight: inFlight.get(replica.id) ?? 0,
    memoryBytes: replica.memoryBytes ?? null,
    cpuSeconds: replica.cpuSeconds === undefined ? null : Math.round(replica.cpuSeconds * 100) / 100,
  }));
}

/** What `GET /apps/APP/replicas` answers. */
export interface AppLive {
  readonly replicas: readonly ReplicaRow[];
  /** Requests that waited for the app to wake in the last hour, and how long. */
  readonly coldStarts: ColdStartSummary;
}

const json = { 'content-type': 'application/json', 'cache-control': 'no-store' };

export async function serveReplicas(
  runtime: { describe?: (app: string) => { replicas: readonly ReplicaReport[] } },
  activator: Pick<Activator, 'inFlight' | 'coldStarts'> | undefined,
  store: ResourceStore,
  app: string,
  response: ServerResponse,
): Promise<void> {
  try {
    await store.get('App', app);
  } catch (error) {
    const code = isDormantError(error) ? error.code : 'STORE_NOT_FOUND';
    response.writeHead(isDormantError(error) ? error.httpStatus : 404, json).end(`${JSON.stringify({ error: { code, message: (error as Error).message } })}\n`);
    return;
  }
  if (!runtime.describe) {
    response.writeHead(501, json).end(`${JSON.stringify({ error: { code: 'CLI_NOT_RUNNING', message: `this dormant up's runtime does not list replicas (on Kubernetes: kubectl get pods -l dormant.dev/app=${app})` } })}\n`);
    return;
  }
  const live: AppLive = { replicas: replicaRows(runtime.describe(app).replicas, activator?.inFlight(app) ?? new Map()), coldStarts: activator?.coldStarts(app) ?? { count: 0, p50Ms: null, p99Ms: null } };
  response.writeHead(200, json).end(`${JSON.stringify(live)}\n`);
}
